"""A sweep driver run as its own process by the resume and two-driver tests."""

import sys

import runyard.sweeps as rs
from tests.sweeps.sweep_objectives import slow_logged

if __name__ == "__main__":
    uri, name, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    result = rs.sweep(
        slow_logged,
        {"x": rs.uniform(0.0, 1.0)},
        metric="x",
        trials=trials,
        concurrency=2,
        executor="process",
        experiment="resume",
        name=name,
        tracking_uri=uri,
    )
    print(result.counts())
