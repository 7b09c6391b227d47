"""The ``[search]`` table of a sweep specification: an Optuna search instead of a grid.

Example (``docs/sweep.md`` has every key)::

    [search]
    method = "optuna"
    trials = 40
    objectives = ["qnet_acc", "lut", "images_per_s"]   # the default
    sampler = "nsga2"                                 # or "tpe", "random"
    seed = 0

    [axes]
    arch = ["64-16-10", "64-32-10"]   # a list: a categorical choice
    act_bits = {low = 2, high = 8}    # a range (integer axes and clock)
    board = "icebreaker"              # one value: fixed

With ``[search]``, an axis given as a list is a categorical parameter of the
search, a ``{low, high}`` table a numeric range, and a single value is fixed.

Members
-------
OBJECTIVES
    Result field -> Optuna direction, for every field an objective may name.
SAMPLERS
    The sampler names.
RANGE_AXES
    Axis -> the type of its range (``int`` or ``float``).
SearchSettings
    The checked ``[search]`` table.
Range
    A numeric range of an axis.
check_search, check_range
    Check the table, or one axis's range.
"""

from dataclasses import dataclass

from .spec import MAX_POINTS, SpecError, _check_axis_value, _integer

__all__ = ["OBJECTIVES", "RANGE_AXES", "SAMPLERS", "Range", "SearchSettings", "check_range",
           "check_search"]

#: Result field -> direction; these are the fields an objective may name.
OBJECTIVES = {
    "qnet_acc": "maximize",
    "float_acc": "maximize",
    "lut": "minimize",
    "ff": "minimize",
    "bram": "minimize",
    "cycles_per_image": "minimize",
    "images_per_s": "maximize",
}
DEFAULT_OBJECTIVES = ["qnet_acc", "lut", "images_per_s"]
#: Objectives measured only by the hardware stages (the generator's estimate or a build).
HARDWARE_OBJECTIVES = ("lut", "ff", "bram", "cycles_per_image", "images_per_s")
SAMPLERS = ("nsga2", "tpe", "random")
#: Axis -> type of the values of its range.
RANGE_AXES = {"act_bits": int, "epochs": int, "seed": int, "folding": int, "clock": float}
SEARCH_KEYS = ("method", "trials", "objectives", "sampler", "seed")
RANGE_KEYS = ("low", "high", "step", "log")


@dataclass(frozen=True)
class SearchSettings:
    """The checked ``[search]`` table.

    Members
    -------
    method : str
        ``"optuna"``.
    trials : int
        Trials the study holds when the search is done (earlier runs' count).
    objectives : list of str
        Result fields (:data:`OBJECTIVES`), in the order of the study's values.
    sampler : str
        One of :data:`SAMPLERS`.
    seed : int
        The sampler's seed.
    """

    method: str = "optuna"
    trials: int = 20
    objectives: tuple = tuple(DEFAULT_OBJECTIVES)
    sampler: str = "nsga2"
    seed: int = 0

    @property
    def directions(self):
        """Optuna's direction of each objective."""
        return [OBJECTIVES[name] for name in self.objectives]


@dataclass(frozen=True)
class Range:
    """A numeric range of one axis: ``low..high`` (both included), maybe stepped or log."""

    low: float
    high: float
    step: float | None = None
    log: bool = False
    kind: type = int


def check_search(table, path):
    """Check the ``[search]`` table; returns :class:`SearchSettings`.

    Raises
    ------
    SpecError
        Naming the file and the key.
    """
    where = f"{path}: [search]"
    if not isinstance(table, dict):
        raise SpecError(f"{where}: expected a table [search], got {table!r}")
    unknown = sorted(set(table) - set(SEARCH_KEYS))
    if unknown:
        raise SpecError(f"{where} {unknown[0]}: unknown setting; expected one of "
                        f"{', '.join(SEARCH_KEYS)}")
    if table.get("method", "optuna") != "optuna":
        raise SpecError(f"{where} method: expected \"optuna\", got {table['method']!r}")
    trials = _integer(table.get("trials", SearchSettings.trials), 1, MAX_POINTS,
                      f"{where} trials", "a number of trials")
    objectives = table.get("objectives", DEFAULT_OBJECTIVES)
    if not isinstance(objectives, list) or not objectives:
        raise SpecError(f"{where} objectives: expected a list of result fields, e.g. "
                        f"{DEFAULT_OBJECTIVES!r}, got {objectives!r}")
    for name in objectives:
        if name not in OBJECTIVES:
            raise SpecError(f"{where} objectives: unknown objective {name!r}; expected some "
                            f"of {', '.join(OBJECTIVES)}")
    if len(set(objectives)) < len(objectives):
        raise SpecError(f"{where} objectives: {objectives!r} names a field twice; expected "
                        "each once")
    sampler = table.get("sampler", SearchSettings.sampler)
    if sampler not in SAMPLERS:
        raise SpecError(f"{where} sampler: expected one of {', '.join(SAMPLERS)}, "
                        f"got {sampler!r}")
    from golden_model.cli_args import MAX_SEED
    seed = _integer(table.get("seed", 0), 0, MAX_SEED, f"{where} seed", "a seed")
    return SearchSettings(trials=trials, objectives=tuple(objectives), sampler=sampler,
                          seed=seed)


def check_range(name, value, path):
    """Check ``{low, high[, step][, log]}`` given for axis ``name``; returns a :class:`Range`."""
    where = f"{path}: [axes] {name}"
    if name not in RANGE_AXES:
        raise SpecError(f"{where}: a range {value!r}; expected a value or a list (ranges "
                        f"are for {', '.join(RANGE_AXES)})")
    unknown = sorted(set(value) - set(RANGE_KEYS))
    if unknown or "low" not in value or "high" not in value:
        raise SpecError(f"{where}: expected a range {{low = ..., high = ...}} (optional "
                        f"step, log), got {value!r}")
    kind = RANGE_AXES[name]
    low, high = (_check_axis_value(name, value[end], path) for end in ("low", "high"))
    if not all(isinstance(v, kind) for v in (low, high)):
        raise SpecError(f"{where}: expected {'integer' if kind is int else 'numeric'} low "
                        f"and high, got {value!r}")
    if not low < high:
        raise SpecError(f"{where}: low {value['low']!r} is not below high {value['high']!r}; "
                        "expected low < high (a single value needs no range)")
    log = value.get("log", False)
    if not isinstance(log, bool):
        raise SpecError(f"{where} log: expected true or false, got {log!r}")
    step = value.get("step")
    if step is not None:
        if log:
            raise SpecError(f"{where}: step and log together; expected one of them")
        if isinstance(step, bool) or not isinstance(step, int | float) or step <= 0 \
                or (kind is int and not isinstance(step, int)):
            raise SpecError(f"{where} step: expected a positive "
                            f"{'integer' if kind is int else 'number'}, got {step!r}")
    return Range(low=low, high=high, step=step, log=log, kind=kind)
