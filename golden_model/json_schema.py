"""A small schema walk over decoded JSON: every field's type and range, with its path.

A schema is a tree of the checkers below. :func:`check` walks a document
against it and raises :class:`SchemaError` at the first field that does not
fit, naming the field by its path (``input.image_shape[1]``), what was
expected and what was found. Checking one document against one declared tree
replaces scattered ``isinstance`` tests, so no field a reader later uses can
be skipped.

Example::

    schema = Object({"n": Int(1, 10), "name": Str(optional=True)})
    check({"n": 0}, schema, "header")
    # SchemaError: header.n: expected an integer in [1, 10], got 0
"""

import abc
import math

__all__ = ["SchemaError", "check", "Any", "Bool", "Const", "Either", "Int", "List",
           "Number", "Object", "Str", "Nullable"]

#: Longest excerpt of an offending value quoted in a message.
_QUOTE_CHARS = 60


class SchemaError(ValueError):
    """A field does not fit its schema.

    Members
    -------
    field : str
        Path of the field (``layers[0].n_in``).
    expected, got : str
        What the schema wants, and a short description of what was found.
    """

    def __init__(self, field, expected, got):
        super().__init__(f"{field}: expected {expected}, got {got}")
        self.field, self.expected, self.got = field, expected, got


def describe(value):
    """A short, escaped description of a JSON value for an error message."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    text = repr(value)
    return text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + "..."


def _join(where, key):
    return f"{where}.{key}" if where else str(key)


class _Schema(abc.ABC):
    optional = False

    @abc.abstractmethod
    def check(self, value, where):
        """``value`` if it fits the schema at ``where``; else ``fail``."""

    def fail(self, where, got):
        raise SchemaError(where, self.expected(), got)


class Any(_Schema):
    """Any JSON value (bounded by the parser's limits)."""

    def __init__(self, optional=False):
        self.optional = optional

    def expected(self):
        return "a JSON value"

    def check(self, value, where):
        return value


class Bool(_Schema):
    """``true`` or ``false``."""

    def __init__(self, optional=False):
        self.optional = optional

    def expected(self):
        return "true or false"

    def check(self, value, where):
        if not isinstance(value, bool):
            self.fail(where, describe(value))
        return value


class Const(_Schema):
    """Exactly this value, of this type (``1.0`` and ``true`` are not ``1``)."""

    def __init__(self, value):
        self.value = value

    def expected(self):
        return repr(self.value)

    def check(self, value, where):
        if type(value) is not type(self.value) or value != self.value:
            self.fail(where, describe(value))
        return value


class Int(_Schema):
    """An integer (not a boolean, not a float) in ``[lo, hi]``."""

    def __init__(self, lo, hi, optional=False):
        self.lo, self.hi, self.optional = lo, hi, optional

    def expected(self):
        return f"an integer in [{self.lo}, {self.hi}]"

    def check(self, value, where):
        if isinstance(value, bool) or not isinstance(value, int) or \
                not self.lo <= value <= self.hi:
            self.fail(where, describe(value))
        return value


class Number(_Schema):
    """A finite number (integer or float, not a boolean) in a range.

    ``lo``/``hi`` are inclusive bounds, ``above``/``below`` exclusive ones.
    """

    def __init__(self, lo=None, hi=None, *, above=None, below=None, optional=False):
        self.lo, self.hi, self.above, self.below = lo, hi, above, below
        self.optional = optional

    def expected(self):
        parts = [f">= {self.lo}" if self.lo is not None else None,
                 f"> {self.above}" if self.above is not None else None,
                 f"<= {self.hi}" if self.hi is not None else None,
                 f"< {self.below}" if self.below is not None else None]
        bounds = " and ".join(p for p in parts if p)
        return "a finite number" + (f" {bounds}" if bounds else "")

    def check(self, value, where):
        ok = (not isinstance(value, bool) and isinstance(value, int | float)
              and math.isfinite(value)
              and (self.lo is None or value >= self.lo)
              and (self.hi is None or value <= self.hi)
              and (self.above is None or value > self.above)
              and (self.below is None or value < self.below))
        if not ok:
            self.fail(where, describe(value))
        return value


class Str(_Schema):
    """A string, optionally one of ``choices`` and at most ``max_chars`` long."""

    def __init__(self, choices=None, max_chars=None, optional=False):
        self.choices, self.max_chars, self.optional = choices, max_chars, optional

    def expected(self):
        if self.choices is not None:
            return f"one of {tuple(self.choices)}"
        if self.max_chars is not None:
            return f"a string of at most {self.max_chars} characters"
        return "a string"

    def check(self, value, where):
        if not isinstance(value, str) or \
                (self.choices is not None and value not in self.choices) or \
                (self.max_chars is not None and len(value) > self.max_chars):
            self.fail(where, describe(value))
        return value


class Nullable(_Schema):
    """``null`` or what ``inner`` accepts."""

    def __init__(self, inner, optional=False):
        self.inner, self.optional = inner, optional

    def expected(self):
        return f"null or {self.inner.expected()}"

    def check(self, value, where):
        return None if value is None else self.inner.check(value, where)


class Either(_Schema):
    """What ``first`` accepts, or else what ``second`` accepts (by JSON type)."""

    def __init__(self, first, second, optional=False):
        self.first, self.second, self.optional = first, second, optional

    def expected(self):
        return f"{self.first.expected()} or {self.second.expected()}"

    def check(self, value, where):
        try:
            return self.first.check(value, where)
        except SchemaError as error:
            if error.field != where:  # the value had the first's type; a part was wrong
                raise
        try:
            return self.second.check(value, where)
        except SchemaError as error:
            if error.field != where:
                raise
        return self.fail(where, describe(value))


class List(_Schema):
    """A list of ``min_len`` to ``max_len`` items, each checked against ``item``."""

    def __init__(self, item, min_len=0, max_len=None, optional=False):
        self.item, self.min_len, self.max_len, self.optional = item, min_len, max_len, optional

    def expected(self):
        most = "" if self.max_len is None else f" and at most {self.max_len}"
        return f"a list of at least {self.min_len}{most} items"

    def check(self, value, where):
        if not isinstance(value, list):
            self.fail(where, describe(value))
        if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
            self.fail(where, f"{len(value)} items")
        for i, entry in enumerate(value):
            self.item.check(entry, f"{where}[{i}]")
        return value


class Object(_Schema):
    """A JSON object with the declared ``fields`` (checked in declaration order).

    A field is required unless its schema says ``optional=True``. With
    ``closed=True`` a key that is not declared is refused.
    """

    def __init__(self, fields=None, *, closed=False, optional=False):
        self.fields, self.closed, self.optional = dict(fields or {}), closed, optional

    def expected(self):
        return "a JSON object"

    def check(self, value, where):
        if not isinstance(value, dict):
            self.fail(where, describe(value))
        for key, schema in self.fields.items():
            if key in value:
                schema.check(value[key], _join(where, key))
            elif not schema.optional:
                raise SchemaError(_join(where, key), schema.expected(), "missing")
        if self.closed:
            extra = sorted(set(value) - set(self.fields))
            if extra:
                raise SchemaError(where or "document", f"only the keys {sorted(self.fields)}",
                                  f"the unknown key {describe(extra[0])}")
        return value


def check(value, schema, where=""):
    """Check ``value`` against ``schema``; returns ``value``.

    Parameters
    ----------
    value : object
        A decoded JSON document (or part of one).
    schema : checker
        One of this module's checkers.
    where : str
        Path of ``value`` itself, prefixed to every field name.

    Raises
    ------
    SchemaError
        At the first field that does not fit.
    """
    return schema.check(value, where)
