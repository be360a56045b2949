"""Training from a process that holds many open files (a test runner, a notebook)."""

from __future__ import annotations

from pathlib import Path

from tests.training.conftest import run_script


def test_training_works_from_a_process_with_descriptors_above_1024(tmp_path: Path) -> None:
    # select() refuses descriptors >= 1024: the zygote's channel and the workers' pidfds are
    # numbered above that when the launching process already holds 1,100 files open
    code = """
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
    out = run_script(code, tmp_path)
    assert out["restarts"] == 0 and out["val_acc"] > 0.5
