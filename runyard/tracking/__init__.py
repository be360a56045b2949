"""Tracking: stores, the client and the search filter language."""
