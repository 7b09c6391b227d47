"""Design-space sweeps: a grid of networks and boards, run on Dask, to Pareto fronts.

From Python::

    from sweep import run_sweep
    report = run_sweep("sweep.toml", "build/sweep", workers=2)
    print(report.fronts["icebreaker"])

The command line is ``mulfree sweep SPEC``; the specification format is in
``docs/sweep.md``.

Members
-------
run_sweep, SweepReport, SweepError
    Run a sweep (:mod:`sweep.runner`): its grid, or with a ``[search]`` table
    an Optuna search (:mod:`sweep.search`, study in ``<out>/study.db``).
load_spec, parse_spec, SweepSpec, SpecError
    The specification (:mod:`sweep.spec`).
run_point
    One point's stages (:mod:`sweep.point`).
pareto_front
    Non-dominated rows (:mod:`sweep.pareto`).
"""

from .pareto import pareto_front
from .point import run_point
from .runner import SweepError, SweepReport, run_sweep
from .spec import SpecError, SweepSpec, load_spec, parse_spec

__all__ = ["SpecError", "SweepError", "SweepReport", "SweepSpec", "load_spec", "parse_spec",
           "pareto_front", "run_point", "run_sweep"]
