"""Digits data and small models trained on it (seconds on a CPU)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


@pytest.fixture(scope="session")
def torch_mlp(digits: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]) -> Any:
    import torch

    torch.manual_seed(0)
    x, y = digits
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    return net.eval()


@pytest.fixture(scope="session")
def sk_model(digits: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]) -> Any:
    from sklearn.linear_model import LogisticRegression

    x, y = digits
    return LogisticRegression(max_iter=300).fit(x, y)
