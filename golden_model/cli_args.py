"""Range-checked argparse ``type=`` callables shared by every subcommand.

argparse calls them while parsing, so a value out of range is refused before
any work starts, with the option's name and the accepted range::

    mulfree run: error: --timeout nan: expected a finite number of seconds in (0, 3600]

Members
-------
OptionParser
    The subcommands' parser: a bad option is an :class:`OptionError`, which
    the command line prints as one line and exit code 2, like any other
    input error.
integer, number
    Build a checker for an integer or a finite float in a range.
positive_int, nonnegative_int, seed
    The common integer ranges.
"""

import argparse
import math
import re

from .errors import MulfreeError

__all__ = ["integer", "number", "positive_int", "nonnegative_int", "seed", "MAX_SEED",
           "OptionError", "OptionParser"]

#: Largest seed: every generator the project seeds accepts 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


class OptionError(MulfreeError):
    """An option argparse refused: unknown, missing, or a value out of range."""


class OptionParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors are :class:`OptionError`.

    Values that start with a minus sign are values, not options, when they are
    numbers or number lists (``--timeout -1``, ``--qb-range -4,3``), so that
    they reach the range checks instead of "expected one argument".
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d+|\d*\.\d+)([eE][-+]?\d+)?"
                                                   r"(,-?\d+)*$|^-(inf|nan)$", re.IGNORECASE)

    def error(self, message):
        # "argument -s/--seed: -1: expected ..." -> "--seed -1: expected ...", the
        # form every other argument error of the project has.
        name, sep, rest = message.partition(": ")
        if name.startswith("argument ") and sep:
            name = name.removeprefix("argument ").split("/")[-1]
            message = f"{name} {rest}" if ": expected " in rest else f"{name}: {rest}"
        raise OptionError(message)


def _bounds(low, high, low_open=False, high_open=False):
    """``">= 1"``, ``"> 0"``, ``"in 1..400"``, ``"in [0, 1)"`` ..."""
    if low is not None and high is not None:
        if not (low_open or high_open) and isinstance(low, int) and isinstance(high, int):
            return f"in {low}..{high}"
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def integer(low=None, high=None, what="an integer"):
    """A ``type=`` callable accepting integers in ``[low, high]`` (either end may be open: None).

    Parameters
    ----------
    low, high : int, optional
        Inclusive bounds.
    what : str
        How the message names the value, e.g. ``"a number of images"``.

    Returns
    -------
    callable
        ``str -> int``; raises :class:`argparse.ArgumentTypeError` naming the
        text and the accepted range.
    """
    expected = f"expected {what} {_bounds(low, high)}".rstrip()

    def parse(text):
        try:
            value = int(text, 10)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text}: {expected}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text}: {expected}")
        return value

    parse.__name__ = what  # argparse names the type in some of its own messages
    return parse


def number(low=None, high=None, *, low_open=False, high_open=False,
           what="a finite number"):
    """A ``type=`` callable accepting finite floats in a range (NaN and infinities never).

    Parameters
    ----------
    low, high : float, optional
        Bounds, inclusive unless ``low_open`` / ``high_open``.
    what : str
        How the message names the value, e.g. ``"a finite number of seconds"``.

    Returns
    -------
    callable
        ``str -> float``; raises :class:`argparse.ArgumentTypeError`.
    """
    expected = f"expected {what} {_bounds(low, high, low_open, high_open)}".rstrip()

    def parse(text):
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text}: {expected}") from None
        if (not math.isfinite(value)
                or (low is not None and (value <= low if low_open else value < low))
                or (high is not None and (value >= high if high_open else value > high))):
            raise argparse.ArgumentTypeError(f"{text}: {expected}")
        return value

    parse.__name__ = what
    return parse


#: At least 1: counts of epochs, images, lanes, LUTs ...
positive_int = integer(1)
#: At least 0: counts where 0 means "none" or "the default".
nonnegative_int = integer(0)
#: A random seed, 0 .. :data:`MAX_SEED`.
seed = integer(0, MAX_SEED, what="a seed")
