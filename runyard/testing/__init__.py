"""Conformance suites shipped with the package: every backend of an interface passes its suite."""
