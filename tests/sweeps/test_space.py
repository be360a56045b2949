"""Search spaces: what users write, and the clear errors for what they get wrong."""

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

import runyard.sweeps as rs
from runyard.errors import InvalidArgument
from runyard.sweeps.space import space_from_dict, to_optuna


def test_the_issue_space_maps_to_optuna_distributions() -> None:
    space = {
        "lr": rs.loguniform(1e-4, 1.0),
        "hidden": rs.choice([64, 128, 256]),
        "dropout": rs.uniform(0.0, 0.5),
        "layers": rs.randint(1, 4),
        "batch": rs.qint(16, 256, 16),
        "wd": rs.quniform(0.0, 0.1, 0.01),
    }
    dists = to_optuna(space)
    assert dists["lr"] == FloatDistribution(1e-4, 1.0, log=True)
    assert dists["hidden"] == CategoricalDistribution((64, 128, 256))
    assert dists["layers"] == IntDistribution(1, 4)
    assert dists["batch"] == IntDistribution(16, 256, step=16)
    assert dists["wd"].step == 0.01


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: rs.loguniform(0.0, 1.0), "low must be positive"),
        (lambda: rs.uniform(1.0, 0.0), "greater than high"),
        (lambda: rs.uniform(0.0, float("nan")), "finite"),
        (lambda: rs.choice([]), "must not be empty"),
        (lambda: rs.choice("abc"), "must be a list"),
        (lambda: rs.randint(0.5, 3), "integers"),  # type: ignore[arg-type]
        (lambda: rs.qint(1, 8, 0), "positive integer"),
    ],
)
def test_bad_bounds_are_refused_with_a_clear_message(build, message) -> None:
    with pytest.raises(InvalidArgument, match=message):
        build()


def test_a_plain_value_in_a_space_names_the_types_to_use() -> None:
    with pytest.raises(InvalidArgument, match="use ry.uniform"):
        to_optuna({"lr": 0.1})  # type: ignore[dict-item]


def test_space_files_hold_lists_and_typed_entries() -> None:
    space = space_from_dict(
        {
            "lr": {"type": "loguniform", "low": 1e-4, "high": 1.0},
            "hidden": [64, 128],
            "layers": {"type": "int", "low": 1, "high": 3},
            "act": {"type": "choice", "values": ["relu", "tanh"]},
        }
    )
    assert space["lr"] == rs.loguniform(1e-4, 1.0)
    assert space["hidden"] == rs.choice([64, 128])
    assert space["layers"] == rs.randint(1, 3)
    assert space["act"] == rs.choice(["relu", "tanh"])
    with pytest.raises(InvalidArgument, match="unknown type 'normal'"):
        space_from_dict({"x": {"type": "normal", "mu": 0}})
    with pytest.raises(InvalidArgument, match=r"space entry 'x' \(uniform\)"):
        space_from_dict({"x": {"type": "uniform", "low": 0}})
