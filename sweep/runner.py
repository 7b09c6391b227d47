"""Run a sweep's points on Dask distributed and write its tables and plots.

Points whose ``result.json`` exists are not run again; the others are
submitted as Dask futures (one task per point, in its own folder) to a
``LocalCluster`` of single-threaded worker processes, or to an existing
cluster, and collected with ``as_completed``. Dask places the tasks, retries
a point whose task raised (``retries``) and reschedules the points of a lost
worker; a point that still raises is recorded as ``error``.

Members
-------
run_sweep
    The Python API of ``mulfree sweep``.
SweepReport
    What it returns.
SweepError
    A bad output folder or an unreachable scheduler.
"""

import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.errors import MulfreeError
from golden_model.output_files import check_output_dir, check_output_file, write_text

from .cache import cached_result, point_dir, point_key
from .pareto import format_fronts, fronts_by_board, plot_fronts
from .results import result_row, write_results
from .spec import SweepSpec, load_spec

__all__ = ["SweepError", "SweepReport", "run_sweep"]

#: Seconds to wait for an existing scheduler to answer.
CONNECT_TIMEOUT_S = 10
OUTPUT_FILES = ("results.csv", "results.json", "pareto.md")
_ADDRESS = re.compile(r"^[a-z]+://\S+$")


class SweepError(MulfreeError):
    """A sweep cannot start: unusable output folder, bad scheduler or worker count."""


@dataclass
class SweepReport:
    """The outcome of :func:`run_sweep`.

    Members
    -------
    rows : list of dict
        One per point, in grid order (:data:`sweep.results.COLUMNS`).
    fronts : dict
        Board -> its Pareto front (rows).
    ran, cached, failed : int
        Points run now, taken from earlier runs, and not ``ok`` (either way).
    wall_s : float
    files : list of Path
        Everything written in the output folder (besides ``points/``).
    study_front : list of dict
        A search's Optuna Pareto set (``study.best_trials``): trial, key, values.
    """

    rows: list
    fronts: dict
    ran: int
    cached: int
    failed: int
    wall_s: float
    files: list = field(default_factory=list)
    study_front: list = field(default_factory=list)


def run_sweep(spec, out, *, scheduler=None, workers=None, retries=1, progress=True,
              log=print, trials=None):
    """Run every point of ``spec`` not yet finished under ``out``, then tabulate them all.

    A spec with a ``[search]`` table runs an Optuna search instead of its
    grid (:func:`sweep.search.run_search`): trials in ``out/study.db``.

    Parameters
    ----------
    spec : str, Path or SweepSpec
        A TOML specification file (see ``docs/sweep.md``) or a checked spec.
    out : str or Path
        Output folder: ``points/<key>/`` per point, ``results.csv``,
        ``results.json``, ``pareto.md`` and ``pareto-<board>.png``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://HOST:PORT``); its
        workers must have the project installed and see ``out``. By default
        a ``LocalCluster`` is started for the sweep and closed after it.
    workers : int, optional
        LocalCluster worker processes (one thread each; default: the CPU
        count, at most one per point to run).
    retries : int
        Dask retries of a point whose task raised an unexpected error.
    progress : bool
        Show a progress bar (points done, failed, running).
    log : callable
        Receives the summary lines and the Pareto table.
    trials : int, optional
        A search's trial count, instead of the spec's ``[search] trials``.

    Returns
    -------
    SweepReport

    Raises
    ------
    SpecError, SweepError
        Before any point runs.
    """
    started = time.perf_counter()
    spec = spec if isinstance(spec, SweepSpec) else load_spec(spec)
    out = Path(out)
    _check_arguments(out, scheduler, workers, retries)
    for board in spec.axes["board"]:
        check_output_file(out / f"pareto-{board}.png", "--out")
    if spec.search is not None or trials is not None:
        from .search import check_search_arguments, run_search
        check_search_arguments(spec, out, trials)
        return run_search(spec, out, trials=trials, scheduler=scheduler, workers=workers,
                          retries=retries, progress=progress, log=log)
    points = spec.points()
    keys = [point_key(point) for point in points]
    rows = [None] * len(points)
    for i, point in enumerate(points):
        result = cached_result(out, point)
        if result is not None:
            rows[i] = result_row(point, keys[i], result, cached=True)
    todo = [i for i, row in enumerate(rows) if row is None]
    cached = len(points) - len(todo)
    log(f"sweep {spec.path}: {len(points)} points, {cached} finished earlier, "
        f"{len(todo)} to run")
    if todo:
        n_workers = min(workers or os.cpu_count() or 1, len(todo))
        with _client(scheduler, n_workers) as client:
            _run_points(client, points, keys, todo, rows, out, retries, progress)
    return _finish(out, rows, ran=len(todo), cached=cached, started=started, log=log)


def _check_arguments(out, scheduler, workers, retries):
    check_output_dir(out, "--out")
    for name in OUTPUT_FILES:
        check_output_file(out / name, "--out")
    check_output_dir(out / "points", "--out")
    if scheduler is not None:
        if not _ADDRESS.match(str(scheduler)):
            raise SweepError(f"--scheduler {scheduler!r}: expected a scheduler address such "
                             "as tcp://HOST:PORT")
        if workers is not None:
            raise SweepError(f"--workers {workers}: the cluster at --scheduler {scheduler} "
                             "has its own workers; expected no --workers with --scheduler")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or not 1 <= workers <= 1024):
        raise SweepError(f"--workers {workers!r}: expected a number of worker processes "
                         "in 1..1024")
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise SweepError(f"--retries {retries!r}: expected an integer in 0..100")


@contextlib.contextmanager
def _client(scheduler, n_workers):
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as error:
            raise SweepError(f"--scheduler {scheduler}: cannot connect within "
                             f"{CONNECT_TIMEOUT_S} s ({error})") from None
        with client:
            yield client
        return
    # One single-threaded process per worker: each tool (training with one BLAS thread,
    # Yosys, nextpnr) uses one core, and a crash takes only its own point with it. The
    # scheduler's HTTP server takes any free port (8787 may be another cluster's).
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client


def _run_points(client, points, keys, todo, rows, out, retries, progress):
    from dask.distributed import as_completed
    from tqdm import tqdm

    from .point import run_point

    futures = {}
    for i in todo:
        future = client.submit(run_point, points[i], str(point_dir(out, points[i])),
                               key=f"mulfree-point-{keys[i]}", pure=False, retries=retries)
        futures[future] = i
    failed = 0
    with tqdm(total=len(todo), desc="points", unit="point", disable=not progress) as bar:
        bar.set_postfix(failed=0, running=_running(client, futures))
        for future in as_completed(futures):
            i = futures[future]
            try:
                rows[i] = result_row(points[i], keys[i], future.result())
            except Exception as error:  # the point's own bug or a lost worker, after retries
                rows[i] = result_row(points[i], keys[i],
                                     error=f"{type(error).__name__}: {error}")
            failed += rows[i]["status"] != "ok"
            bar.update(1)
            bar.set_postfix(failed=failed, running=_running(client, futures))


def _running(client, futures):
    """Points on a worker now (Dask's ``processing`` view), for the progress bar."""
    keys = {future.key for future in futures if not future.done()}
    try:
        # A worker holds more tasks than it runs; each runs one per thread.
        return sum(min(sum(key in keys for key in tasks), client.nthreads().get(worker, 1))
                   for worker, tasks in client.processing().items())
    except Exception:  # only a display figure; the scheduler may be closing
        return "?"


def _finish(out, rows, *, ran, cached, started, log, objectives=None):
    files = list(write_results(rows, out))
    fronts = fronts_by_board(rows, *([objectives] if objectives else []))
    table = format_fronts(fronts)
    files.append(write_text(out / "pareto.md", table))
    files += plot_fronts(rows, out)
    failed = sum(row["status"] != "ok" for row in rows)
    wall = time.perf_counter() - started
    log(table.rstrip())
    for row in rows:
        if row["status"] != "ok":
            log(f"point {row['key']}: {row['status']}: {row['reason']}")
    log(f"{len(rows)} points: {ran} run, {cached} from earlier runs, {failed} not ok; "
        f"{wall:.1f} s; wrote {', '.join(str(path) for path in files)}")
    return SweepReport(rows=rows, fronts=fronts, ran=ran, cached=cached, failed=failed,
                       wall_s=wall, files=files)
