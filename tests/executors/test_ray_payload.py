"""Calls packed for Ray by the driver run in another process, as a Ray worker runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runyard.executors._ray_payload import pack, run_packed, unpack_result

_DRIVER = """
import sys
from dataclasses import dataclass
from runyard.executors._ray_payload import pack

@dataclass
class Point:
    x: int
    y: int

def norm1(p, scale=1):
    return (abs(p.x) + abs(p.y)) * scale

after = {after}
with open(sys.argv[1], "wb") as f:
    f.write(pack(norm1, (Point(3, -4),), {{"scale": 2}}, after))
"""


def _packed_by_a_script(tmp_path: Path, after: tuple[bool, ...] | None) -> bytes:
    script = tmp_path / "driver.py"
    script.write_text(_DRIVER.format(after=after))
    out = tmp_path / "payload.bin"
    subprocess.run([sys.executable, str(script), str(out)], check=True, cwd=tmp_path)
    return out.read_bytes()


def test_a_call_defined_in_the_drivers_main_runs_in_a_process_without_it(
    tmp_path: Path,
) -> None:
    # The function and the class live in the script's __main__, which a worker lacks.
    payload = _packed_by_a_script(tmp_path, None)
    assert unpack_result(run_packed(payload)) == 14


def test_a_chained_call_gets_the_values_of_the_results_it_waited_for(tmp_path: Path) -> None:
    upstream = run_packed(pack(sorted, ([3, 1, 2],), {}))  # a packed result
    payload = pack(lambda values, n: [*values, n], (7,), {}, (True, False))
    assert unpack_result(run_packed(payload, upstream, "raw")) == [[1, 2, 3], "raw", 7]


def test_a_value_too_large_to_pack_comes_back_whole() -> None:
    result = run_packed(pack(bytes, (200_000,), {}))
    assert unpack_result(result) == bytes(200_000)
