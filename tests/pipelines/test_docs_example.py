"""The runnable example of docs/pipelines.md runs as printed."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipelines.md"


def test_the_documented_example_runs(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    import runyard

    if not hasattr(runyard, "pipeline"):
        pytest.skip("runyard/__init__.py does not re-export the pipeline API (step, pipeline) yet")
    (code,) = re.findall(r"## A complete example.*?```python\n(.*?)```", DOC.read_text(), re.S)
    script = tmp_path / "digits_pipeline.py"
    script.write_text(code.replace('executor="process"', 'executor="process:2"'))
    env = {
        **os.environ,
        "RUNYARD_HOME": str(tmp_path / "home"),
        "RUNYARD_TRACKING_URI": f"sqlite:///{tmp_path / 'runyard.db'}",
        "RUNYARD_ARTIFACT_URI": str(tmp_path / "artifacts"),
    }
    done = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'acc'" in done.stdout and "train[1]" in done.stdout
