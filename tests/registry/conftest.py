"""Digits data and small models trained on it (seconds on a CPU)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="session")
def sk_model(digits: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]) -> Any:
    from sklearn.linear_model import LogisticRegression

    x, y = digits
    return LogisticRegression(max_iter=300).fit(x, y)
