"""Executors: where steps, trials, training workers and evaluation shards run."""
