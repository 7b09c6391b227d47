"""Sweeps on a real Dask LocalCluster: results, failures, cache hits, resume, purity."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sweep import runner
from sweep.cache import point_dir
from sweep.pareto import format_fronts
from sweep.point import run_point
from sweep.results import COLUMNS
from sweep.runner import SweepError, run_sweep
from sweep.spec import load_spec

#: Three foldings of one network that fit the UP5K, one the pre-check refuses.
SPEC = """\
[sweep]
stages = ["train", "quantize", "generate"]
[axes]
arch = "64-16-10"
act_bits = 4
epochs = 5
board = "icebreaker"
folding = ["none", "1:4,1:2", "2:8,2:4", "16:64,10:16"]
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    spec = folder / "spec.toml"
    spec.write_text(SPEC)
    lines = []
    report = run_sweep(spec, folder / "out", workers=2, progress=False, log=lines.append)
    return spec, folder / "out", report, lines


def test_a_two_worker_sweep_records_every_point(swept):
    spec, out, report, lines = swept
    assert (report.ran, report.cached, report.failed) == (4, 0, 1)
    rows = report.rows
    assert [row["folding"] for row in rows] == ["none", "1:4,1:2", "2:8,2:4", "16:64,10:16"]
    assert [row["status"] for row in rows] == ["ok", "ok", "ok", "does_not_fit"]
    assert [row["folding_used"] for row in rows[:3]] == ["1:1,1:1", "1:4,1:2", "2:8,2:4"]
    # One network, trained once per point with the same seed: the same accuracy.
    assert len({row["qnet_acc"] for row in rows}) == 1 and rows[0]["qnet_acc"] > 0.7
    assert [row["cycles_per_image"] for row in rows[:3]] == [64 * 16, 64 * 16 // 4, 64]
    assert all(row["images_per_s"] == round(30e6 / row["cycles_per_image"], 1)
               for row in rows[:3])
    for row in rows:
        saved = json.loads((point_dir(out, load_spec(spec).points()[rows.index(row)])
                            / "result.json").read_text())
        assert (saved["key"], saved["status"], saved["lut"]) == \
            (row["key"], row["status"], row["lut"])


def test_the_refused_point_is_recorded_with_its_reason(swept):
    _, out, report, lines = swept
    refused = report.rows[3]
    assert refused["reason"].startswith("icebreaker: the design needs about ")
    assert "LUT but the iCE40UP5K has 5,280" in refused["reason"]
    assert f"point {refused['key']}: does_not_fit: {refused['reason']}" in lines


def test_the_tables_and_plot_are_written(swept):
    _, out, report, _ = swept
    assert json.loads((out / "results.json").read_text()) == report.rows
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0] == ",".join(COLUMNS) and len(csv_lines) == 5
    assert ',does_not_fit,"icebreaker: the design needs about' in csv_lines[4]
    assert (out / "pareto.md").read_text() == format_fronts(report.fronts)
    front = report.fronts["icebreaker"]
    keys = {row["key"] for row in front}
    # Same accuracy: the smallest and the fastest design are both on the front.
    assert {report.rows[0]["key"], report.rows[2]["key"]} <= keys
    assert report.rows[3]["key"] not in keys
    assert (out / "pareto-icebreaker.png").read_bytes()[:4] == b"\x89PNG"


def test_a_rerun_takes_every_point_from_the_cache(swept, monkeypatch):
    spec, out, report, _ = swept
    before = {path: path.stat().st_mtime_ns for path in (out / "points").rglob("*")}

    def no_cluster(*args):
        raise AssertionError("a cluster was started for a finished sweep")

    monkeypatch.setattr(runner, "_client", no_cluster)
    again = run_sweep(spec, out, workers=2, progress=False, log=lambda line: None)
    assert (again.ran, again.cached, again.failed) == (0, 4, 1)
    assert [dict(row, cached=False) for row in again.rows] == report.rows
    assert all(row["cached"] for row in again.rows)
    assert {path: path.stat().st_mtime_ns for path in (out / "points").rglob("*")} == before


def test_a_point_gives_the_same_result_in_process_as_on_the_cluster(swept, tmp_path):
    spec, out, _, _ = swept
    point = load_spec(spec).points()[1]
    here = run_point(point, tmp_path)
    there = json.loads((point_dir(out, point) / "result.json").read_text())
    timing = ("wall_s", "stage_s")
    assert {k: v for k, v in here.items() if k not in timing} == \
        {k: v for k, v in there.items() if k not in timing}
    assert (tmp_path / "accel.v").read_bytes() == (point_dir(out, point) / "accel.v").read_bytes()


def test_an_existing_scheduler_runs_the_sweep_and_stays_up(tmp_path):
    from dask.distributed import Client, LocalCluster

    spec = tmp_path / "spec.toml"
    spec.write_text('[sweep]\nstages = ["train", "quantize"]\n[axes]\narch = "64-8-10"\n'
                    'epochs = 2\nseed = [3, 4]\n')
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster:
        report = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address,
                           progress=False, log=lambda line: None)
        assert [row["status"] for row in report.rows] == ["ok", "ok"]
        assert [row["seed"] for row in report.rows] == [3, 4]
        with Client(cluster.scheduler_address) as client:  # not closed by the sweep
            assert client.submit(sum, [1, 2]).result() == 3


def test_a_killed_sweep_resumes_where_it_stopped(tmp_path):
    spec = tmp_path / "spec.toml"
    # Killed as the first of four points finishes, when at most two can have finished.
    spec.write_text('[sweep]\nstages = ["train", "quantize"]\n[axes]\narch = "64-32-10"\n'
                    'epochs = 20\nseed = [0, 1, 2, 3]\n')
    out = tmp_path / "out"
    points = load_spec(spec).points()
    results = [point_dir(out, point) / "result.json" for point in points]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen(
        [sys.executable, "-m", "mulfree", "sweep", str(spec), "--out", str(out),
         "--workers", "2", "--quiet"], env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not any(path.exists() for path in results) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the sweep, its cluster and its workers
        process.wait()
    finished = sum(path.exists() for path in results)
    assert 1 <= finished < len(points), "the sweep was not stopped mid-run"
    assert not (out / "results.csv").exists()
    report = run_sweep(spec, out, workers=2, progress=False, log=lambda line: None)
    assert (report.cached, report.ran) == (finished, len(points) - finished)
    assert [row["status"] for row in report.rows] == ["ok"] * 4
    assert all(path.exists() for path in results)


@pytest.mark.parametrize("options, expected", [
    ({"scheduler": "localhost:8786"}, "--scheduler 'localhost:8786': expected a scheduler "
                                      "address such as tcp://HOST:PORT"),
    ({"scheduler": "tcp://127.0.0.1:8786", "workers": 2},
     "--workers 2: the cluster at --scheduler tcp://127.0.0.1:8786 has its own workers"),
    ({"workers": 0}, "--workers 0: expected a number of worker processes in 1..1024"),
    ({"retries": -1}, "--retries -1: expected an integer in 0..100"),
])
def test_bad_options_are_refused_before_any_point_runs(tmp_path, options, expected):
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\narch = "64-8-10"\n')
    with pytest.raises(SweepError) as info:
        run_sweep(spec, tmp_path / "out", progress=False, log=lambda line: None, **options)
    assert str(info.value) == expected or str(info.value).startswith(expected)
    assert not (tmp_path / "out").exists()


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    from golden_model.output_files import OutputFileError

    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\narch = "64-8-10"\n')
    (tmp_path / "out").write_text("")
    with pytest.raises(OutputFileError, match="out: is a file; expected a folder"):
        run_sweep(spec, tmp_path / "out", progress=False, log=lambda line: None)


def test_a_point_that_raises_is_retried_by_dask_then_recorded_as_error(tmp_path, monkeypatch):
    from dask.distributed import LocalCluster

    import sweep.point

    calls = tmp_path / "calls"
    real_run_point = sweep.point.run_point

    def flaky(point, work_dir, log=None):
        with open(calls, "a") as handle:
            handle.write(f"{point['seed']}\n")
        if point["seed"] == 6:
            raise RuntimeError("worker out of memory")
        return real_run_point(point, work_dir, log)

    monkeypatch.setattr(sweep.point, "run_point", flaky)
    spec = tmp_path / "spec.toml"
    spec.write_text('[sweep]\nstages = ["train", "quantize"]\n[axes]\narch = "64-8-10"\n'
                    'epochs = 2\nseed = [5, 6]\n')
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster:
        report = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address,
                           retries=2, progress=False, log=lambda line: None)
    assert [row["status"] for row in report.rows] == ["ok", "error"]
    assert report.rows[1]["reason"] == "RuntimeError: worker out of memory"
    assert sorted(calls.read_text().split()) == ["5", "6", "6", "6"]  # 1 try + 2 retries
    points = load_spec(spec).points()
    assert not (point_dir(tmp_path / "out", points[1]) / "result.json").exists()
    monkeypatch.setattr(sweep.point, "run_point", real_run_point)
    again = run_sweep(spec, tmp_path / "out", workers=1, progress=False, log=lambda line: None)
    assert (again.cached, again.ran, again.failed) == (1, 1, 0)


def test_a_plot_path_that_is_a_folder_is_refused_before_any_point(tmp_path, monkeypatch):
    from golden_model.output_files import OutputFileError

    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\narch = "64-8-10"\nboard = ["icesugar", "icebreaker"]\n')
    (tmp_path / "out" / "pareto-icebreaker.png").mkdir(parents=True)
    monkeypatch.setattr(runner, "_client", None)  # would fail if any point were to run
    with pytest.raises(OutputFileError, match="pareto-icebreaker.png: is a folder"):
        run_sweep(spec, tmp_path / "out", progress=False, log=lambda line: None)
