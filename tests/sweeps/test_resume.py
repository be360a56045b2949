"""Resume after SIGKILL, and two drivers sharing one sweep: real processes, real signals."""

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import runyard.sweeps as rs
from runyard.errors import NotFound
from runyard.sweeps.records import TrialState

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("driver_script.py")


def _start_driver(uri: str, name: str, trials: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SWEEP_LOG": str(log), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), uri, name, str(trials)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _finish(drivers: list[subprocess.Popen[bytes]]) -> None:
    """Wait for every driver (none left running or holding pipes), then check each one."""
    outs = [d.communicate(timeout=300)[0] for d in drivers]
    for d, out in zip(drivers, outs, strict=True):
        assert d.returncode == 0, out.decode()


def _starts(log: Path) -> collections.Counter[int]:
    lines = log.read_text().split() if log.exists() else []
    return collections.Counter(int(lines[i + 1]) for i in range(0, len(lines), 3))


def _trials(uri: str, name: str) -> list[rs.TrialRecord]:
    try:
        return rs.load_sweep(name, tracking_uri=uri).trials
    except NotFound:
        return []


def _reap(pids: list[int]) -> None:
    """Wait for worker processes of a killed driver (they finish their task, then exit)."""
    for pid in pids:
        try:
            psutil.Process(pid).wait(timeout=30)
        except psutil.NoSuchProcess:
            continue
        except psutil.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)


def test_sigkill_mid_sweep_then_rerun_finishes_without_rerunning_finished_trials(
    sqlite_uri, tmp_path
) -> None:
    log = tmp_path / "starts.log"
    driver = _start_driver(sqlite_uri, "killed", 10, log)
    deadline = time.monotonic() + 120
    while sum(t.state is TrialState.COMPLETE for t in _trials(sqlite_uri, "killed")) < 3:
        assert driver.poll() is None, driver.stdout.read() if driver.stdout else ""
        assert time.monotonic() < deadline, "the driver made no progress"
        time.sleep(0.1)
    workers = [p.pid for p in psutil.Process(driver.pid).children(recursive=True)]
    driver.send_signal(signal.SIGKILL)
    driver.communicate()
    _reap(workers)
    finished_before = {
        t.number: t.run_id
        for t in _trials(sqlite_uri, "killed")
        if t.state is not TrialState.RUNNING
    }
    in_flight = {t.number for t in _trials(sqlite_uri, "killed")} - set(finished_before)
    assert 3 <= len(finished_before) < 10

    again = _start_driver(sqlite_uri, "killed", 10, log)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out.decode()

    result = rs.load_sweep("killed", tracking_uri=sqlite_uri)
    trials = result.trials
    assert sorted(t.number for t in trials) == list(range(10))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert result.status == "FINISHED"
    starts = _starts(log)
    for number, run_id in finished_before.items():
        assert starts[number] == 1, f"finished trial {number} ran again"
        assert trials[number].run_id == run_id
    for number in in_flight:  # re-run as a new attempt with the same parameters
        old = [t for t in result._state.trials(include_superseded=True) if t.number == number]
        assert old[0].superseded_by == trials[number].run_id
        assert old[0].params == trials[number].params
        assert trials[number].attempt == 1


def test_two_drivers_on_one_sweep_share_the_trials_without_running_one_twice(
    sqlite_uri, tmp_path
) -> None:
    log = tmp_path / "starts.log"
    drivers = [_start_driver(sqlite_uri, "shared", 12, log) for _ in range(2)]
    _finish(drivers)
    trials = _trials(sqlite_uri, "shared")
    assert sorted(t.number for t in trials) == list(range(12))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    starts = _starts(log)
    assert sorted(starts) == list(range(12))
    assert set(starts.values()) == {1}, f"some trial ran twice: {starts}"
    assert len({t.driver for t in trials}) == 2, "one driver did all the work"


@pytest.mark.postgres
def test_two_drivers_share_a_sweep_on_postgres(pg_sweep_database, tmp_path) -> None:
    uri = pg_sweep_database()
    log = tmp_path / "starts.log"
    drivers = [_start_driver(uri, "shared-pg", 8, log) for _ in range(2)]
    _finish(drivers)
    starts = _starts(log)
    assert sorted(starts) == list(range(8))
    assert set(starts.values()) == {1}
