from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest


def binary_table(n: int = 4000, seed: int = 0) -> pa.Table:
    """Binary predictions with probabilities, three slice columns and string ids."""
    rng = np.random.default_rng(seed)
    p = np.round(rng.random(n), 3)  # ties on purpose: exact AUC must handle them
    y = (rng.random(n) < p).astype(np.int64)
    return pa.table(
        {
            "example_id": [f"ex-{i}" for i in range(n)],
            "y": y,
            "y_hat": (p >= 0.5).astype(np.int64),
            "p": p,
            "weather": rng.choice(["rain", "sun", "fog"], n),
            "time_of_day": rng.choice(["day", "night"], n),
            "distance": rng.random(n) * 100,
        }
    )


@pytest.fixture
def binary() -> pa.Table:
    return binary_table()


@pytest.fixture
def make_binary():  # type: ignore[no-untyped-def]
    return binary_table
