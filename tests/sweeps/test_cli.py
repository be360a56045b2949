"""``runyard sweep FILE.py:objective --space space.yaml`` and ``runyard sweep show NAME``.

The app under test is a fresh Typer app with ``runyard.cli.sweep.register`` applied, the
same call ``runyard/cli/app.py`` makes.
"""

from pathlib import Path

import typer
from typer.testing import CliRunner

from runyard.cli import sweep as sweep_cli


def _app() -> typer.Typer:
    app = typer.Typer()
    sweep_cli.register(app)

    @app.command("version")
    def version() -> None:  # a second command keeps "sweep" a subcommand
        print("0")

    return app


def test_sweep_a_file_objective_then_show_its_leaderboard(tmp_path: Path) -> None:
    (tmp_path / "train_cli_obj.py").write_text(
        "def objective(trial):\n"
        "    x = trial.params['x']\n"
        "    for step in range(3):\n"
        "        trial.report(-(x - 1) ** 2 - 1 / (step + 1), step)\n"
        "    return -(x - 1) ** 2\n"
    )
    (tmp_path / "space.yaml").write_text("x: {type: uniform, low: -3, high: 3}\nk: [1, 2]\n")
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(
        _app(),
        [
            "sweep", f"{tmp_path / 'train_cli_obj.py'}:objective", "--space",
            str(tmp_path / "space.yaml"), "--trials", "8", "--metric", "score",
            "--name", "cli", "--sampler", "random", "--seed", "1", "--tracking-uri", uri,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "best so far" in result.output
    assert "8 done" in result.output
    shown = runner.invoke(_app(), ["sweep", "show", "cli", "--tracking-uri", uri])
    assert shown.exit_code == 0, shown.output
    assert "sweep cli (FINISHED)" in shown.output
    assert "parameter importances" in shown.output
    assert "score" in shown.output


def test_show_of_an_unknown_sweep_is_a_clear_error(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(_app(), ["sweep", "show", "nope", "--tracking-uri", uri])
    assert result.exit_code != 0
    assert "no sweep named 'nope'" in str(result.exception)


def test_a_bad_space_file_names_the_entry(tmp_path: Path) -> None:
    (tmp_path / "obj_bad_space.py").write_text("def objective(trial):\n    return 1.0\n")
    (tmp_path / "space.yaml").write_text("x: {type: gaussian}\n")
    result = CliRunner().invoke(
        _app(), ["sweep", f"{tmp_path / 'obj_bad_space.py'}:objective", "--space",
                 str(tmp_path / "space.yaml")],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "unknown type 'gaussian'" in str(result.exception)


def test_prune_on_reaches_the_sweep_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "dip_cli_obj.py").write_text(
        "def objective(trial):\n"
        "    for step, value in ((1, 0.8), (2, 0.3), (3, 0.9)):\n"
        "        trial.report(value, step)\n"
        "    return value\n"
    )
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    target = f"{tmp_path / 'dip_cli_obj.py'}:objective"
    ok = runner.invoke(
        _app(),
        ["sweep", target, "--trials", "2", "--metric", "acc", "--scheduler", "asha",
         "--prune-on", "last", "--tracking-uri", uri],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "2 done" in ok.output
    bad = runner.invoke(_app(), ["sweep", target, "--prune-on", "mean", "--tracking-uri", uri])
    assert bad.exit_code != 0
    assert "prune_on must be 'best' or 'last'" in str(bad.exception)
