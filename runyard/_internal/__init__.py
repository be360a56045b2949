"""Named internal helpers shared across layers (never a utils grab-bag)."""
