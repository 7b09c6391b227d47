"""``mulfree sweep`` on the command line: help, and one error line per bad input."""

import pytest

from mulfree import cli
from sweep.spec import AXES


def _error(capsys, argv):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    return err.strip()


def test_help_documents_the_specification(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["sweep", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "[sweep]" in out and "[axes]" in out and "docs/sweep.md" in out
    assert all(f"\n  {axis} = " in out for axis in AXES)
    assert "results.csv, results.json, pareto.md and pareto-<board>.png" in out
    assert "--workers WORKERS" in out and "(default: build/sweep)" in out
    assert "[search]" in out and "OUT/study.db" in out and "--trials TRIALS" in out


@pytest.mark.parametrize("extra, message", [
    (["--workers", "0"], "--workers 0: expected a number of worker processes in 1..1024"),
    (["--retries", "-1"], "--retries -1: expected a number of retries in 0..100"),
])
def test_bad_options_are_refused_while_parsing(tmp_path, capsys, extra, message):
    assert _error(capsys, ["sweep", str(tmp_path / "s.toml"), *extra]) == \
        f"mulfree sweep: error: {message}"


def test_a_bad_spec_is_one_line_naming_the_file_and_key(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[axes]\nweights = ["ternary", "int2"]\n')
    assert _error(capsys, ["sweep", str(spec), "--out", str(tmp_path / "out")]) == \
        (f"mulfree sweep: error: {spec}: [axes] weights: expected one of float, binary, "
         "ternary, got 'int2'")
    assert not (tmp_path / "out").exists()


def test_workers_with_a_scheduler_is_refused(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[axes]\narch = "64-8-10"\n')
    assert _error(capsys, ["sweep", str(spec), "--scheduler", "tcp://127.0.0.1:9",
                           "--workers", "2", "--out", str(tmp_path / "out")]).endswith(
        "expected no --workers with --scheduler")


def test_trials_is_a_search_option(tmp_path, capsys):
    assert _error(capsys, ["sweep", str(tmp_path / "s.toml"), "--trials", "0"]) == \
        "mulfree sweep: error: --trials 0: expected a number of trials in 1..10000"
    spec = tmp_path / "s.toml"
    spec.write_text('[axes]\narch = "64-8-10"\n')
    assert _error(capsys, ["sweep", str(spec), "--trials", "5", "--out",
                           str(tmp_path / "out")]) == \
        (f"mulfree sweep: error: --trials 5: {spec} has no [search] table; expected a search "
         "specification (a grid runs all its points)")
    assert not (tmp_path / "out").exists()
