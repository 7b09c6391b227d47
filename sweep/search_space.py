"""A search's parameter space: the varying axes as Optuna distributions, checked up front.

Members
-------
check_search_space
    Refuse a search whose objectives its stages cannot measure, or with nothing to vary.
distributions
    Axis -> Optuna distribution, for the axes that vary.
"""

import itertools
import math

from .search_spec import HARDWARE_OBJECTIVES, Range
from .spec import AXES, MAX_POINTS, SpecError, check_point

__all__ = ["check_search_space", "distributions"]


def varying_axes(spec):
    """The axes a search chooses: the lists of more than one value and the ranges."""
    return [name for name in AXES
            if isinstance(spec.axes[name], Range) or len(spec.axes[name]) > 1]


def distributions(spec):
    """Axis -> :mod:`optuna.distributions` object, for :meth:`optuna.Study.ask`."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name in varying_axes(spec):
        values = spec.axes[name]
        if not isinstance(values, Range):
            out[name] = CategoricalDistribution(values)
        elif values.kind is int:
            out[name] = IntDistribution(values.low, values.high, log=values.log,
                                        step=values.step or 1)
        else:
            out[name] = FloatDistribution(values.low, values.high, log=values.log,
                                          step=values.step)
    return out


def check_search_space(spec):
    """Check a search spec as a whole.

    Raises
    ------
    SpecError
        No axis varies; an objective the stages or boards cannot measure; a
        combination of values ``mulfree train`` refuses (every combination of
        the lists and the ranges' ends, or, in a space larger than
        :data:`sweep.spec.MAX_POINTS`, each axis's values with the others'
        first ones).
    """
    path, search, axes = spec.path, spec.search, spec.axes
    if not varying_axes(spec):
        raise SpecError(f"{path}: [search]: no axis varies; expected at least one list of "
                        "values or {low, high} range in [axes]")
    hardware = [name for name in search.objectives if name in HARDWARE_OBJECTIVES]
    if hardware and not any(s in spec.settings["stages"] for s in ("generate", "sim", "build")):
        raise SpecError(f"{path}: [search] objectives: {hardware[0]!r} is measured by the "
                        "hardware stages; expected \"generate\" (or \"build\") in [sweep] "
                        "stages, or objectives without it")
    no_board = "none" in axes["board"]
    if "bram" in search.objectives and no_board:
        raise SpecError(f"{path}: [search] objectives: 'bram' needs a board; expected [axes] "
                        "board without 'none'")
    if "images_per_s" in search.objectives and no_board and not isinstance(axes["clock"], Range) \
            and "default" in axes["clock"]:
        raise SpecError(f"{path}: [search] objectives: 'images_per_s' needs a clock; expected "
                        "[axes] board without 'none', or a clock in MHz")
    for point in _corner_points(spec):
        check_point(point, path)


def _corner_points(spec):
    values = {name: [v.low, v.high] if isinstance(v, Range) else v
              for name, v in spec.axes.items()}
    if math.prod(len(v) for v in values.values()) <= MAX_POINTS:
        combos = itertools.product(*(values[name] for name in AXES))
        return [spec.search_point(dict(zip(AXES, combo, strict=True))) for combo in combos]
    first = {name: v[0] for name, v in values.items()}
    return [spec.search_point(dict(first, **{name: value}))
            for name in AXES for value in values[name]]
