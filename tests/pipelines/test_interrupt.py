"""Ctrl-C marks the run KILLED and caches nothing partial (a real process, a real SIGINT)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from runyard.entities import RunStatus
from runyard.pipelines import CacheUse
from runyard.pipelines.loader import load_pipeline
from runyard.pipelines.resume import step_runs
from runyard.tracking.store import get_store

SCRIPT = """
import os, time
from pathlib import Path
import runyard.pipelines as ry

@ry.step
def slow(x: int) -> int:
    Path(os.environ["STARTED"]).write_text("yes")
    time.sleep(float(os.environ.get("SLEEP", "0")))
    return x

@ry.pipeline
def long_run(x: int = 1):
    return slow(x)

if __name__ == "__main__":
    env = os.environ
    long_run.run(executor=env["EXECUTOR"], store=env["DB"], artifacts=env["ART"])
"""


def _interrupt(tmp_path: Path, executor: str) -> None:
    script = tmp_path / "long_pipeline.py"
    script.write_text(textwrap.dedent(SCRIPT))
    started = tmp_path / f"started-{executor}"
    env = {
        **os.environ,
        "STARTED": str(started),
        "SLEEP": "300",
        "EXECUTOR": executor,
        "DB": f"sqlite:///{tmp_path / 'runyard.db'}",
        "ART": str(tmp_path / "artifacts"),
    }
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            if started.exists():
                break
            time.sleep(0.1)
        assert started.exists(), "the step never started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert b"KeyboardInterrupt" in err


def _check_killed_and_nothing_cached(tmp_path: Path) -> None:
    store = get_store(f"sqlite:///{tmp_path / 'runyard.db'}")
    try:
        experiment = store.get_experiment_by_name("long_run")
        assert experiment is not None
        kind = "tags.`runyard.kind` = 'pipeline'"
        (pipeline_run,) = store.search_runs([experiment.experiment_id], kind).items
        assert pipeline_run.status is RunStatus.KILLED
        (step_run,) = step_runs(store, pipeline_run.run_id)
        assert step_run.status is RunStatus.KILLED
        os.environ["STARTED"] = str(tmp_path / "again")
        os.environ["SLEEP"] = "0"
        pipe = load_pipeline(f"{tmp_path / 'long_pipeline.py'}:long_run")
        rerun = pipe.run(store=store, artifacts=str(tmp_path / "artifacts"))
        assert rerun.steps[0].cache is CacheUse.MISS  # the killed call cached nothing
    finally:
        os.environ.pop("STARTED", None)
        os.environ.pop("SLEEP", None)
        store.close()


def test_ctrl_c_on_the_process_pool(tmp_path: Path) -> None:
    _interrupt(tmp_path, "process:1")
    _check_killed_and_nothing_cached(tmp_path)


def test_ctrl_c_inline(tmp_path: Path) -> None:
    _interrupt(tmp_path, "inline")
    _check_killed_and_nothing_cached(tmp_path)
