"""Optuna searches on a real 2-worker LocalCluster: the study, reruns, resume, cache hits."""

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.study import StudyDirection
from optuna.trial import TrialState

from sweep import runner
from sweep.cache import point_dir
from sweep.pareto import pareto_front
from sweep.runner import SweepError, run_sweep
from sweep.search import STUDY_NAME

#: 2 x 2 = 4 points for 6 trials: at least two trials repeat a point. The wide
#: folding is refused (PE 16 > 8 outputs, or too big for the UP5K).
SPEC = """\
[sweep]
stages = ["train", "quantize", "generate"]
[search]
method = "optuna"
trials = 6
seed = 3
[axes]
arch = ["64-8-10", "64-16-10"]
folding = ["none", "16:64,10:16"]
act_bits = 4
epochs = 2
board = "icebreaker"
"""
OBJECTIVES = (("qnet_acc", "max"), ("lut", "min"), ("images_per_s", "max"))


def _study(out):
    return optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{out / 'study.db'}")


def _quiet(line):
    pass


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search")
    spec = folder / "spec.toml"
    spec.write_text(SPEC)
    report = run_sweep(spec, folder / "out", workers=2, progress=False, log=_quiet)
    return spec, folder / "out", report


def test_the_study_holds_every_trial_with_the_objectives_directions(searched):
    _, out, report = searched
    study = _study(out)
    assert study.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE,
                                StudyDirection.MAXIMIZE]
    trials = study.get_trials()
    assert len(trials) == 6
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.FAIL}
    rows = {row["key"]: row for row in report.rows}
    for trial in trials:
        row = rows[trial.user_attrs["key"]]
        assert (row["arch"], row["folding"]) == (trial.params["arch"], trial.params["folding"])
        assert trial.user_attrs["status"] == row["status"]
        if row["status"] == "ok":
            assert trial.state == TrialState.COMPLETE
            assert trial.values == [row["qnet_acc"], row["lut"], row["images_per_s"]]
        else:  # told as failed, with the reason recorded
            assert trial.state == TrialState.FAIL and trial.user_attrs["reason"] == row["reason"]
    assert {row["folding"] for row in report.rows if row["status"] != "ok"} == {"16:64,10:16"}


def test_a_repeated_parameter_set_is_a_cache_hit(searched):
    _, out, report = searched
    keys = [t.user_attrs["key"] for t in _study(out).get_trials()]
    assert len(set(keys)) < len(keys) <= 6
    # One row and one run per distinct point, however often trials asked for it.
    assert [row["key"] for row in report.rows] == list(dict.fromkeys(keys))
    assert (report.ran, report.cached) == (len(set(keys)), 0)
    for row in report.rows:
        assert json.loads((out / "points" / row["key"] / "result.json").read_text())[
            "key"] == row["key"]


def test_outputs_match_the_grid_and_optunas_pareto_set_matches_ours(searched):
    _, out, report = searched
    assert json.loads((out / "results.json").read_text()) == report.rows
    assert len((out / "results.csv").read_text().splitlines()) == len(report.rows) + 1
    assert (out / "pareto-icebreaker.png").read_bytes()[:4] == b"\x89PNG"
    ours = {row["key"] for row in pareto_front(
        [row for row in report.rows if row["status"] == "ok"], OBJECTIVES)}
    assert ours and {row["key"] for row in report.fronts["icebreaker"]} == ours
    optunas = {t.user_attrs["key"] for t in _study(out).best_trials}
    assert optunas == ours == {entry["key"] for entry in report.study_front}
    assert json.loads((out / "study_front.json").read_text()) == report.study_front


def test_a_rerun_adds_no_trial_and_does_no_work(searched, monkeypatch):
    spec, out, report = searched
    before = {path: path.stat().st_mtime_ns for path in (out / "points").rglob("*")}

    def no_cluster(*args):
        raise AssertionError("a cluster was started for a finished search")

    monkeypatch.setattr(runner, "_client", no_cluster)
    again = run_sweep(spec, out, workers=2, progress=False, log=_quiet)
    assert len(_study(out).get_trials()) == 6
    assert (again.ran, again.cached) == (0, len(report.rows))
    assert [dict(row, cached=False) for row in again.rows] == report.rows
    assert {path: path.stat().st_mtime_ns for path in (out / "points").rglob("*")} == before


def test_more_trials_continue_the_study(searched):
    spec, out, report = searched
    lines = []
    more = run_sweep(spec, out, workers=2, progress=False, log=lines.append, trials=8)
    trials = _study(out).get_trials()
    assert len(trials) == 8 and [t.number for t in trials] == list(range(8))
    assert lines[0].startswith(f"search {spec}: 8 trials, 6 finished earlier, 2 to run")
    # Only points no trial asked for before run; the others are cache hits.
    assert more.ran == len(more.rows) - len(report.rows) <= 2
    assert more.rows[:len(report.rows)] == [dict(row, cached=True) for row in report.rows]


def test_changed_objectives_on_an_existing_study_are_refused(searched, tmp_path):
    from sweep.spec import SpecError

    _, out, _ = searched
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("seed = 3", 'seed = 3\nobjectives = ["qnet_acc", "lut"]'))
    with pytest.raises(SpecError, match=r"study.db holds a study of \['qnet_acc', 'lut', "
                                        r"'images_per_s'\]"):
        run_sweep(spec, out, workers=2, progress=False, log=_quiet)


def test_trials_without_a_search_table_is_refused(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\narch = "64-8-10"\n')
    with pytest.raises(SweepError, match=f"--trials 3: {spec} has no \\[search\\] table"):
        run_sweep(spec, tmp_path / "out", progress=False, log=_quiet, trials=3)
    assert not (tmp_path / "out").exists()


def test_a_study_file_that_is_not_a_database_is_refused(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "study.db").write_text("not a database\n")
    with pytest.raises(SweepError, match=r"study.db is not a study this Optuna can open \("):
        run_sweep(spec, tmp_path / "out", workers=2, progress=False, log=_quiet)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["study.db"]


def test_a_killed_search_resumes_to_its_total(tmp_path):
    spec = tmp_path / "spec.toml"
    # Killed as the first point finishes, with the other trial still running.
    spec.write_text('[sweep]\nstages = ["train", "quantize"]\n[search]\nmethod = "optuna"\n'
                    'trials = 4\nobjectives = ["qnet_acc"]\nsampler = "random"\n'
                    '[axes]\narch = "64-32-10"\nepochs = 20\nseed = [0, 1, 2, 3, 4, 5]\n')
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen(
        [sys.executable, "-m", "mulfree", "sweep", str(spec), "--out", str(out),
         "--workers", "2", "--quiet"], env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("points/*/result.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the search, its cluster and its workers
        process.wait()
    killed = _study(out).get_trials()
    running = [t for t in killed if t.state == TrialState.RUNNING]
    assert running and len(killed) < 4, "the search was not stopped mid-run"
    report = run_sweep(spec, out, workers=2, progress=False, log=_quiet)
    study = _study(out)
    trials = study.get_trials()
    interrupted = study.user_attrs["interrupted"]
    assert interrupted == [t.number for t in running]
    finished = [t for t in trials if t.number not in interrupted]
    assert len(finished) == 4 and all(t.state == TrialState.COMPLETE for t in finished)
    assert all(trials[n].state == TrialState.FAIL for n in interrupted)
    # The interrupted trials' parameters are asked again, first.
    again = [t.params for t in trials[len(killed):len(killed) + len(running)]]
    assert again == [t.params for t in running]
    assert [row["status"] for row in report.rows] == ["ok"] * len(report.rows)
    assert all((point_dir(out, json.loads(json.dumps(t.user_attrs["point"])))
                / "result.json").exists() for t in finished)
