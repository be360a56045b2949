"""`import runyard` time vs `import mlflow`, each in fresh interpreters (median of N).

python benchmarks/bench_import.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _harness import print_table, save


def time_import(module: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - t0)
    base = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t0)
    return (statistics.median(times) - statistics.median(base)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    ms = {m: time_import(m, repeats) for m in ("runyard", "mlflow")}
    print_table(
        "import time (ms over a bare interpreter start, median)",
        ["module", "ms", "x mlflow"],
        [[m, v, v / ms["mlflow"]] for m, v in ms.items()],
    )
    print(f"\nimport runyard: {ms['runyard']:.0f} ms (goal <= 300 ms)")
    save("import", {"ms": ms, "repeats": repeats})


if __name__ == "__main__":
    main()
