"""The live progress of ``runyard run`` counts each step call once, whatever it went through."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress

from runyard.cli.run import _ProgressView
from runyard.pipelines import StepEvent, StepStatus


def test_counts_follow_each_calls_latest_status() -> None:
    progress = Progress(console=Console(file=None, quiet=True))
    view = _ProgressView(progress)
    events = [
        ("train", 0, StepStatus.RUNNING),
        ("train", 1, StepStatus.RUNNING),
        ("train", 0, StepStatus.FINISHED),
        ("train", 1, StepStatus.FAILED),
        ("load", None, StepStatus.CACHED),
        ("eval", None, StepStatus.RUNNING),
    ]
    for node, index, status in events:
        view(StepEvent(node, index, status, total=4))
    task = progress.tasks[0]
    assert task.total == 4
    assert task.completed == 3  # two train calls and load settled, eval still running
    counts = task.fields["counts"]
    assert "1 done" in counts and "1 cached" in counts
    assert "1 running" in counts and "1 failed" in counts
