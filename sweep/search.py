"""An Optuna multi-objective search over a sweep's axes, run on the sweep's Dask layer.

The study lives in ``<out>/study.db`` (SQLite through Optuna's RDB storage),
so a killed search resumes: the same command continues the study until it
holds ``trials`` finished trials. Trials go through Optuna's ask-and-tell
interface, as many in flight as the cluster has worker threads: each asked
trial is a point (:meth:`sweep.spec.SweepSpec.search_point`) submitted to
Dask as in a grid sweep, and told its objective values as it completes; then
the next is asked. A trial whose point has a cached result costs no work.

A point that is not ``ok`` (it does not fit, a dead network, an error...) is
told to Optuna as FAILED, so the sampler ignores it; its row, status and
reason are recorded as in a grid. Trials a killed run left RUNNING are
marked FAILED (user attribute ``interrupted``, not counted) and their
parameters queued to be asked again first.

Members
-------
run_search
    Run (or continue) the search of a spec with a ``[search]`` table.
STUDY_FILE, STUDY_NAME
    Where the study lives and its name there.
"""

import contextlib
import os
import time

from .cache import cached_result, point_dir, point_key
from .results import result_row
from .search_space import distributions
from .spec import SpecError, check_point

__all__ = ["STUDY_FILE", "STUDY_NAME", "check_search_arguments", "run_search"]

STUDY_FILE = "study.db"
STUDY_NAME = "mulfree-sweep"
FRONT_FILE = "study_front.json"


def check_search_arguments(spec, out, trials):
    """Refuse, before any trial, a ``--trials`` without ``[search]`` or out of range.

    Raises
    ------
    SweepError, OutputFileError
    """
    from golden_model.output_files import check_output_file

    from .runner import SweepError
    from .spec import MAX_POINTS

    if trials is not None:
        if spec.search is None:
            raise SweepError(f"--trials {trials}: {spec.path} has no [search] table; expected "
                             "a search specification (a grid runs all its points)")
        if isinstance(trials, bool) or not isinstance(trials, int) \
                or not 1 <= trials <= MAX_POINTS:
            raise SweepError(f"--trials {trials!r}: expected a number of trials in "
                             f"1..{MAX_POINTS}")
    for name in (STUDY_FILE, FRONT_FILE):
        check_output_file(out / name, "--out")


def run_search(spec, out, *, trials=None, scheduler=None, workers=None, retries=1,
               progress=True, log=print):
    """Run the search of ``spec`` (checked, with a ``[search]`` table) into ``out``.

    Use :func:`sweep.run_sweep`, which checks the arguments and picks grid or
    search; the parameters are its own. ``trials`` overrides ``[search]
    trials``.

    Returns
    -------
    SweepReport
        ``rows`` holds one row per distinct point the study's finished trials
        ran, in trial order; ``study_front`` Optuna's Pareto set
        (``study.best_trials``) as ``{"trial", "key", "values"}``.
    """
    import optuna

    from . import runner

    started = time.perf_counter()
    total = spec.search.trials if trials is None else trials
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _open_study(spec, out)
    done = _finished(study)
    _requeue_interrupted(study)
    todo = max(0, total - len(done))
    log(f"search {spec.path}: {total} trials, {len(done)} finished earlier, {todo} to run "
        f"(study {out / STUDY_FILE})")
    ran = set()
    if todo:
        with contextlib.ExitStack() as stack:
            def client():
                n = min(workers or os.cpu_count() or 1, todo)
                return stack.enter_context(runner._client(scheduler, n))

            _ask_and_tell(study, spec, out, todo, client, retries, progress, ran)
    rows = _rows(study, out, ran)
    report = runner._finish(out, rows, ran=len(ran), cached=len(rows) - len(ran),
                            started=started, log=log, objectives=_objectives(spec))
    report.study_front = _study_front(study, out, log)
    return report


def _objectives(spec):
    return tuple((name, "max" if direction == "maximize" else "min")
                 for name, direction in zip(spec.search.objectives, spec.search.directions,
                                            strict=True))


def _open_study(spec, out):
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    from .runner import SweepError

    try:
        storage = optuna.storages.RDBStorage(f"sqlite:///{(out / STUDY_FILE).resolve()}")
    except (SQLAlchemyError, RuntimeError) as error:  # not SQLite, or another Optuna's schema
        raise SweepError(f"--out {out}: {out / STUDY_FILE} is not a study this Optuna can "
                         f"open ({str(error).splitlines()[0]}); expected one made by "
                         "mulfree sweep, or another --out") from None
    directions = spec.search.directions
    if STUDY_NAME in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
        study = optuna.load_study(study_name=STUDY_NAME, storage=storage,
                                  sampler=_sampler(spec.search, 0))
        found = [d.name.lower() for d in study.directions]
        if found != directions or study.user_attrs.get("objectives") != \
                list(spec.search.objectives):
            raise SpecError(f"{spec.path}: [search] objectives {list(spec.search.objectives)} "
                            f"({', '.join(directions)}): {out / STUDY_FILE} holds a study of "
                            f"{study.user_attrs.get('objectives')} ({', '.join(found)}); "
                            "expected the same objectives, or another --out")
        # Seeded by the trials so far: a resumed sampler does not replay the first ones.
        study.sampler = _sampler(spec.search, len(study.trials))
        return study
    study = optuna.create_study(study_name=STUDY_NAME, storage=storage,
                                directions=directions, sampler=_sampler(spec.search, 0))
    study.set_user_attr("objectives", list(spec.search.objectives))
    return study


def _sampler(search, offset):
    import optuna

    seed = search.seed + offset
    if search.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.NSGAIISampler(seed=seed)


def _finished(study):
    from optuna.trial import TrialState

    interrupted = set(study.user_attrs.get("interrupted", []))
    return [t for t in study.get_trials(deepcopy=False)
            if t.state in (TrialState.COMPLETE, TrialState.FAIL) and t.number not in interrupted]


def _requeue_interrupted(study):
    """Fail the trials a killed run left RUNNING, and ask their parameters again first."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not stale:
        return
    study.set_user_attr("interrupted", sorted(study.user_attrs.get("interrupted", []) +
                                              [trial.number for trial in stale]))
    for trial in stale:
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params)


def _ask_and_tell(study, spec, out, todo, client_factory, retries, progress, ran):
    from dask.distributed import as_completed
    from tqdm import tqdm

    from .point import run_point
    from .runner import _running

    space = distributions(spec)
    flight = {}  # point key -> (future, point, trials waiting for it)
    completed = client = None
    asked = failed = 0
    with tqdm(total=todo, desc="trials", unit="trial", disable=not progress) as bar:
        def tell(trials, row):
            nonlocal failed
            for trial in trials:
                _tell(study, trial, row, spec.search.objectives)
                failed += row["status"] != "ok"
                bar.update(1)
            bar.set_postfix(failed=failed, running=_running(client, flight_futures())
                            if client else 0)

        def flight_futures():
            return {future: key for key, (future, _, _) in flight.items()}

        bar.set_postfix(failed=0, running=0)

        while True:
            workers = _slots(client, todo)
            while asked < todo and len(flight) < workers:
                trial = study.ask(space)
                asked += 1
                point = spec.search_point(trial.params)
                key = point_key(point)
                trial.set_user_attr("key", key)
                trial.set_user_attr("point", point)
                refused = _refused(point, spec.path)
                cached = cached_result(out, point)
                if refused or cached is not None:
                    tell([trial], result_row(point, key, refused or cached))
                elif key in flight:  # the same parameters are running: wait for them
                    flight[key][2].append(trial)
                else:
                    if client is None:
                        client = client_factory()
                        completed = as_completed()
                        workers = _slots(client, todo)
                    future = client.submit(run_point, point, str(point_dir(out, point)),
                                           key=f"mulfree-point-{key}", pure=False,
                                           retries=retries)
                    flight[key] = (future, point, [trial])
                    completed.add(future)
            if not flight:
                return
            future = next(completed)
            key = future.key.removeprefix("mulfree-point-")
            _, point, trials = flight.pop(key)
            ran.add(key)
            try:
                row = result_row(point, key, future.result())
            except Exception as error:  # the point's own bug or a lost worker, after retries
                row = result_row(point, key, error=f"{type(error).__name__}: {error}")
            tell(trials, row)


def _slots(client, todo):
    """Trials to keep in flight: one per worker thread of the cluster."""
    if client is None:
        return 1
    return max(1, min(todo, sum(client.nthreads().values())))


def _refused(point, path):
    # A space too large to check every combination up front may ask a refused one.
    try:
        check_point(point, path)
    except SpecError as error:
        return {"status": "failed", "reason": str(error)}
    return None


def _tell(study, trial, row, objectives):
    from optuna.trial import TrialState

    values = [row.get(name) for name in objectives]
    trial.set_user_attr("status", row["status"])
    if row["status"] != "ok" or any(value is None for value in values):
        trial.set_user_attr("reason", row["reason"] or "an objective was not measured")
        study.tell(trial, state=TrialState.FAIL)
    else:
        study.tell(trial, values)


def _rows(study, out, ran):
    """One row per distinct point of the finished trials, in trial order."""
    rows, seen = [], set()
    for trial in _finished(study):
        key, point = trial.user_attrs.get("key"), trial.user_attrs.get("point")
        if key is None or key in seen:
            continue
        seen.add(key)
        result = cached_result(out, point)
        if result is not None:
            rows.append(result_row(point, key, result, cached=key not in ran))
        elif trial.user_attrs.get("status") == "failed":
            rows.append(result_row(point, key, {"status": "failed",
                                                "reason": trial.user_attrs.get("reason")}))
        else:
            rows.append(result_row(point, key, error=trial.user_attrs.get("reason")))
    return rows


def _study_front(study, out, log):
    from golden_model.output_files import write_json

    front = [{"trial": t.number, "key": t.user_attrs["key"], "values": t.values}
             for t in study.best_trials]
    write_json(out / FRONT_FILE, front, indent=1)
    log(f"Optuna's Pareto set: {len(front)} trials ({out / FRONT_FILE})")
    return front
