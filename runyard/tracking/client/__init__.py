"""The tracking client: start runs, log to them, search and read them back."""

from runyard.tracking.client.client import Client, start_run
from runyard.tracking.client.run import Run, active_run

__all__ = ["Client", "Run", "active_run", "start_run"]
