"""Training from a process that holds many open files (a test runner, a notebook)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


def test_training_works_from_a_process_with_descriptors_above_1024(tmp_path: Path) -> None:
    # select() refuses descriptors >= 1024: the zygote's channel and the workers' pidfds are
    # numbered above that when the launching process already holds 1,100 files open
    code = textwrap.dedent(
        """
        import json, os, resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
        held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
        assert max(held) > 1024
        from runyard.training import train
        from tests.training.digits_loops import train_digits
        result = train(train_digits, config={"lr": 0.1, "epochs": 2}, workers=2,
                       experiment="many-files")
        print(json.dumps({"restarts": len(result.restarts), **result.metrics}))
        """
    )
    env = {**os.environ, "RUNYARD_HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["restarts"] == 0 and out["val_acc"] > 0.5
