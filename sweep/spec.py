"""The sweep specification: a TOML file of axes whose product is the grid of points.

Example (every key is documented in ``docs/sweep.md``)::

    [sweep]
    stages = ["train", "quantize", "generate", "sim", "build"]
    sim_images = 100

    [axes]
    dataset = "digits"
    arch = ["64-32-10", "64-64-64-10"]
    weights = ["ternary", "binary"]
    qb = [true, false]
    act_bits = [4, 8]
    pow2 = false
    folding = ["auto", 2000]   # "none", "auto", "PE:SIMD,..." or a LUT budget for auto
    board = ["icebreaker", "ulx3s-85f"]
    seed = 0
    epochs = 20

Every axis takes one value or a list of values; the grid is their product.
The whole file, and every point of the grid, is checked before any point
runs: a mistake is one :class:`SpecError` naming the file, the key and what
was expected.

Members
-------
STAGES, AXES, SETTINGS
    The stage names, the axes and their defaults, the ``[sweep]`` settings.
SpecError
    The file or one of its values is not a valid sweep.
SweepSpec
    The checked specification; ``points()`` lists the grid.
load_spec, parse_spec
    Read and check a file, or an already parsed document.
"""

import itertools
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from golden_model.cli_args import MAX_SEED
from golden_model.errors import MulfreeError

__all__ = ["AXES", "SETTINGS", "STAGES", "SpecError", "SweepSpec", "load_spec", "parse_spec"]

#: Stages of a point, in the order they run; train and quantize always run.
STAGES = ("train", "quantize", "generate", "sim", "build")
REQUIRED_STAGES = ("train", "quantize")

#: Axis -> default value (a point's parameter when the axis is not given).
AXES = {
    "dataset": "digits",
    "arch": "default",
    "weights": "ternary",
    "qb": False,
    "act_bits": 8,
    "pow2": False,
    "folding": "auto",
    "board": "none",
    "clock": "default",
    "seed": 0,
    "epochs": 30,
}

#: ``[sweep]`` setting -> default; they are the same for every point.
SETTINGS = {
    "stages": ["train", "quantize", "generate"],
    "sim_images": 100,
    "simulator": "verilator",
}

#: Most points a grid may have (each is a training run and maybe a bitstream).
MAX_POINTS = 10_000
MAX_EPOCHS = 10_000
MAX_SIM_IMAGES = 100_000
_FOLDING_PAIRS = re.compile(r"^\d+:\d+(,\d+:\d+)*$")


class SpecError(MulfreeError):
    """A sweep specification is missing, malformed or asks for something impossible."""


@dataclass
class SweepSpec:
    """A checked sweep specification.

    Members
    -------
    path : str
        The file it was read from (for messages).
    axes : dict
        Axis -> list of values (every axis, defaults included); with a search,
        an axis may instead hold a :class:`sweep.search_spec.Range`.
    settings : dict
        The ``[sweep]`` settings, defaults included.
    search : sweep.search_spec.SearchSettings or None
        The ``[search]`` table: an Optuna search instead of the grid.
    """

    path: str
    axes: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    search: object = None

    def points(self):
        """The grid: one parameter dict per point, in a stable order.

        Each dict holds every axis and every setting, so it alone decides the
        point's result (and its cache key).
        """
        names = list(AXES)
        grid = itertools.product(*(self.axes[name] for name in names))
        return [dict(zip(names, values, strict=True), **_point_settings(self.settings))
                for values in grid]

    def search_point(self, params):
        """The point of a search trial: its ``params`` over the fixed axes."""
        point = {name: params[name] if name in params else self.axes[name][0]
                 for name in AXES}
        return dict(point, **_point_settings(self.settings))


def _point_settings(settings):
    # Stages a point does not run do not change its result: leaving their
    # settings out keeps such points' cache keys when those settings change.
    out = {"stages": list(settings["stages"])}
    if "sim" in settings["stages"]:
        out.update(sim_images=settings["sim_images"], simulator=settings["simulator"])
    return out


def load_spec(path):
    """Read and check the sweep specification in the TOML file ``path``.

    Returns
    -------
    SweepSpec

    Raises
    ------
    SpecError
        Naming the file, the key and what was expected.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file; expected a sweep specification "
                        "(TOML, see docs/sweep.md)") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a folder; expected a sweep specification file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot read it ({getattr(error, 'strerror', None) or error})"
                        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: not valid TOML ({error})") from None
    return parse_spec(document, str(path))


def parse_spec(document, path="<spec>"):
    """Check a parsed specification (a dict as :mod:`tomllib` returns it).

    Parameters
    ----------
    document : dict
    path : str
        Named in messages.

    Returns
    -------
    SweepSpec

    Raises
    ------
    SpecError
    """
    if not isinstance(document, dict):
        raise SpecError(f"{path}: expected a table with [sweep] and [axes]")
    unknown = sorted(set(document) - {"sweep", "axes", "search"})
    if unknown:
        raise SpecError(f"{path}: unknown table or key {unknown[0]!r}; expected only "
                        "[sweep], [axes] and [search]")
    search = None
    if "search" in document:
        from .search_spec import check_search
        search = check_search(document["search"], path)
    sweep = _table(document, "sweep", path)
    axes_in = _table(document, "axes", path)
    if not axes_in:
        raise SpecError(f"{path}: [axes] is missing or empty; expected at least one axis, "
                        f"e.g. arch = [\"64-32-10\"] (axes: {', '.join(AXES)})")
    settings = _check_settings(sweep, path)
    axes = {}
    for name in axes_in:
        if name not in AXES:
            raise SpecError(f"{path}: [axes] {name}: unknown axis; expected one of "
                            f"{', '.join(AXES)}")
    for name, default in AXES.items():
        values = axes_in.get(name, [default])
        if isinstance(values, dict):
            if search is None:
                raise SpecError(f"{path}: [axes] {name}: a range {values!r} needs a [search] "
                                "table; expected a value or a list for a grid")
            from .search_spec import check_range
            axes[name] = check_range(name, values, path)
            continue
        values = values if isinstance(values, list) else [values]
        if not values:
            raise SpecError(f"{path}: [axes] {name}: an empty list; expected at least one value")
        checked = [_check_axis_value(name, value, path) for value in values]
        if len(set(map(repr, checked))) < len(checked):
            raise SpecError(f"{path}: [axes] {name}: {values!r} repeats a value; "
                            "expected each value once")
        axes[name] = checked
    spec = SweepSpec(path=path, axes=axes, settings=settings, search=search)
    if search is None:
        count = math.prod(len(values) for values in axes.values())
        if count > MAX_POINTS:
            raise SpecError(f"{path}: [axes]: the grid has {count:,} points; expected at most "
                            f"{MAX_POINTS:,}")
    if "build" in settings["stages"] and "none" in axes["board"]:
        raise SpecError(f"{path}: [sweep] stages: 'build' needs a board; expected "
                        "[axes] board = one or more of the boards, not 'none'")
    if search is None:
        for point in spec.points():
            check_point(point, path)
    else:
        from .search_space import check_search_space
        check_search_space(spec)
    return spec


def _table(document, name, path):
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise SpecError(f"{path}: {name}: expected a table [{name}], got {table!r}")
    return table


def _check_settings(sweep, path):
    unknown = sorted(set(sweep) - set(SETTINGS))
    if unknown:
        raise SpecError(f"{path}: [sweep] {unknown[0]}: unknown setting; expected one of "
                        f"{', '.join(SETTINGS)}")
    settings = dict(SETTINGS, **sweep)
    stages = settings["stages"]
    where = f"{path}: [sweep] stages"
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise SpecError(f"{where}: expected a list of stage names, got {stages!r}")
    for stage in stages:
        if stage not in STAGES:
            raise SpecError(f"{where}: unknown stage {stage!r}; expected some of "
                            f"{', '.join(STAGES)}")
    missing = [stage for stage in REQUIRED_STAGES if stage not in stages]
    if missing:
        raise SpecError(f"{where}: {stages!r} lacks {missing[0]!r}; expected "
                        f"{' and '.join(REQUIRED_STAGES)} in every sweep")
    if len(set(stages)) < len(stages):
        raise SpecError(f"{where}: {stages!r} names a stage twice; expected each once")
    settings["stages"] = [stage for stage in STAGES if stage in stages]
    settings["sim_images"] = _integer(settings["sim_images"], 1, MAX_SIM_IMAGES,
                                      f"{path}: [sweep] sim_images", "a number of test images")
    from sim.toolchain import SIMULATORS
    if settings["simulator"] not in SIMULATORS:
        raise SpecError(f"{path}: [sweep] simulator: expected one of "
                        f"{', '.join(SIMULATORS)}, got {settings['simulator']!r}")
    return settings


def _integer(value, low, high, where, what):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(f"{where}: expected {what}, an integer in {low}..{high}, got {value!r}")
    return value


def _choice(value, choices, where):
    if value not in choices:
        raise SpecError(f"{where}: expected one of {', '.join(map(str, choices))}, "
                        f"got {value!r}")
    return value


def _boolean(value, where):
    if not isinstance(value, bool):
        raise SpecError(f"{where}: expected true or false, got {value!r}")
    return value


def _check_axis_value(name, value, path):
    """One axis value, checked alone and in its canonical form."""
    where = f"{path}: [axes] {name}"
    if name == "dataset":
        from golden_model.datasets import list_datasets
        return _choice(value, list_datasets(), where)
    if name == "arch":
        if not isinstance(value, str) or not value:
            raise SpecError(f"{where}: expected layer sizes as a string, e.g. \"64-32-10\" "
                            f"or \"c8k3-p2-32-10\" (convolutions first), or \"default\", "
                            f"got {value!r}")
        return value
    if name == "weights":
        return _choice(value, ("float", "binary", "ternary"), where)
    if name in ("qb", "pow2"):
        return _boolean(value, where)
    if name == "act_bits":
        return _integer(value, 1, 32, where, "an activation width")
    if name == "folding":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        if isinstance(value, str) and (value in ("none", "auto") or _FOLDING_PAIRS.match(value)):
            return value
        raise SpecError(f"{where}: expected \"none\", \"auto\", PE:SIMD pairs per layer "
                        f"(e.g. \"4:8,2:4\") or a LUT budget for auto folding (an integer "
                        f">= 1), got {value!r}")
    if name == "board":
        from boards.registry import BOARDS
        return _choice(value, ("none", *BOARDS), where)
    if name == "clock":
        if value == "default":
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not 1 <= value <= 400:
            raise SpecError(f"{where}: expected \"default\" or a clock in MHz in [1, 400], "
                            f"got {value!r}")
        return float(value)
    if name == "seed":
        return _integer(value, 0, MAX_SEED, where, "a seed")
    if name == "epochs":
        return _integer(value, 1, MAX_EPOCHS, where, "a number of epochs")
    raise AssertionError(name)


def describe_point(point):
    """A short label of a point: the axes that make it, e.g. ``"arch=64-32-10 board=..."``."""
    return " ".join(f"{name}={point[name]}" for name in AXES)


def check_point(point, path="<spec>"):
    """Check the combination of one point's values (arch against dataset, bits against pow2).

    Raises
    ------
    SpecError
        Naming the file and the point.
    """
    from golden_model.cmd_train import check_arguments

    from .train_args import train_arguments
    try:
        check_arguments(train_arguments(point))
    except MulfreeError as error:
        # The rules are mulfree train's: name the axes, not its options.
        message = re.sub(r"--([a-z]+)-([a-z]+)", r"\1_\2", str(error)).replace("--", "")
        raise SpecError(f"{path}: the point {describe_point(point)}: {message}") from None
