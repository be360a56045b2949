"""How training processes are scheduled: the workers as the user launched them, the zygote's
background import only in CPU time the workers leave idle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runyard.training._standby import take_over
from tests.training.conftest import run_script

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="leaving SCHED_IDLE needs root, so runyard only uses it as root"
)


def test_workers_run_at_the_users_nice_value_and_normally_scheduled(tmp_path: Path) -> None:
    code = """
        import json
        from runyard.training import train
        from tests.training.digits_loops import report_scheduling
        result = train(report_scheduling, workers=2, experiment="scheduling")
        print(json.dumps(dict(result.metrics)))
        """
    metrics = run_script(code, tmp_path, prefix=["nice", "-n", "5"])
    assert metrics == {"idle_scheduled": 0.0, "nice": 5.0}  # the mean over both ranks


@needs_root
def test_a_background_import_is_idle_scheduled_and_a_rank_forked_from_it_is_not() -> None:
    code = textwrap.dedent(
        """
        import json, os
        from runyard.training._standby import take_over, warm_up
        seen = []
        def between():
            seen.append(os.sched_getscheduler(0) == os.SCHED_IDLE)
            return len(seen) > 2
        warm_up(["json"], low_priority=True, between=between)
        read, write = os.pipe()
        if os.fork() == 0:
            take_over()
            os.write(write, b"1" if os.sched_getscheduler(0) == os.SCHED_IDLE else b"0")
            os._exit(0)
        os.wait()
        forked_idle = os.read(read, 1) == b"1"
        take_over()
        print(json.dumps([all(seen), forked_idle, os.sched_getscheduler(0) == os.SCHED_IDLE]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    during_import, forked_rank_idle, after_take_over_idle = json.loads(out.stdout)
    assert during_import
    assert not forked_rank_idle
    assert not after_take_over_idle


@needs_root
def test_the_launcher_can_wake_an_idle_scheduled_zygote_from_outside() -> None:
    code = (
        "import os, sys; os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0)); "
        "print('idle', flush=True); sys.stdin.read()"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "idle"
            assert os.sched_getscheduler(child.pid) == os.SCHED_IDLE
            take_over(child.pid)
            assert os.sched_getscheduler(child.pid) == os.SCHED_OTHER
        finally:
            child.kill()


def test_the_zygote_warms_up_in_the_background_only_with_a_cpu_the_workers_leave_free() -> None:
    from runyard.training._standby import spare_cpu

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    try:
        os.sched_setaffinity(0, cpus[:2])
        assert spare_cpu(1)  # one worker on two CPUs: the import gets the other one
        assert not spare_cpu(2)  # two workers on two CPUs: it would run between their steps
        assert not spare_cpu(1.5)  # a fraction of a CPU counts as a whole one
        os.sched_setaffinity(0, cpus[:1])
        assert not spare_cpu(1)
    finally:
        os.sched_setaffinity(0, cpus)
