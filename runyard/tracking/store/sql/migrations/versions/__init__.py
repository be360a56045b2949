"""Migration scripts, one revision per module."""
