"""Parse a JSON document from an untrusted file within bounds on size, nesting and numbers.

Python's :mod:`json` recurses once per nesting level (a deeply nested
document ends in ``RecursionError``) and converts integers of any length
(``int()`` refuses past 4300 digits with a ``ValueError``, and below that a
long one costs quadratic time). Here the size and the nesting depth are
measured before parsing, and every integer's length is checked before it is
converted, so a hostile document costs at most a linear scan.
"""

import json
import re

import numpy as np

from .limits import MAX_HEADER_BYTES, MAX_JSON_DEPTH, MAX_JSON_INT_DIGITS

__all__ = ["JSONLimitError", "loads", "nesting_depth"]

# A JSON string literal (escapes included), in the "unrolled loop" form that
# matches in linear time.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


class JSONLimitError(ValueError):
    """A JSON document is not valid, or exceeds one of the bounds."""


def nesting_depth(text):
    """Deepest nesting of arrays and objects in ``text`` (brackets inside strings ignored)."""
    bare = np.frombuffer(_STRING.sub('""', text).encode("utf-8"), dtype=np.uint8)
    opens = (bare == ord("[")) | (bare == ord("{"))
    closes = (bare == ord("]")) | (bare == ord("}"))
    if not opens.any():
        return 0
    return int(np.cumsum(opens.astype(np.int64) - closes).max())


def _bounded_int(digits, max_digits):
    if len(digits.lstrip("-")) > max_digits:
        raise JSONLimitError(
            f"an integer of {len(digits.lstrip('-'))} digits (at most {max_digits} accepted)")
    return int(digits)


def loads(data, *, max_bytes=MAX_HEADER_BYTES, max_depth=MAX_JSON_DEPTH,
          max_int_digits=MAX_JSON_INT_DIGITS):
    """Decode ``data`` (UTF-8 bytes or text) as JSON within the bounds.

    Parameters
    ----------
    data : bytes or str
    max_bytes : int
        Largest document, in bytes of UTF-8 (characters for text).
    max_depth : int
        Deepest nesting of arrays and objects.
    max_int_digits : int
        Most decimal digits of one integer.

    Returns
    -------
    object
        The decoded document.

    Raises
    ------
    JSONLimitError
        Not UTF-8, not JSON, or beyond a bound; the message says which.
    """
    if len(data) > max_bytes:
        raise JSONLimitError(f"{len(data)} bytes (at most {max_bytes} accepted)")
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise JSONLimitError(f"not valid JSON: not UTF-8 ({error})") from None
    depth = nesting_depth(data)
    if depth > max_depth:
        raise JSONLimitError(f"nested {depth} levels deep (at most {max_depth} accepted)")
    try:
        return json.loads(data, parse_int=lambda digits: _bounded_int(digits, max_int_digits))
    except JSONLimitError:
        raise
    except (ValueError, RecursionError) as error:
        # RecursionError cannot happen within the depth bound; kept so that no
        # parser failure ever escapes as anything but this error.
        raise JSONLimitError(f"not valid JSON ({error})") from None
