"""json_schema.check: one schema walk, errors naming the field path."""

import math

import pytest

from golden_model.json_schema import (
    Any,
    Bool,
    Const,
    Either,
    Int,
    List,
    Nullable,
    Number,
    Object,
    SchemaError,
    Str,
    check,
)

SCHEMA = Object({
    "version": Const(1),
    "n": Int(1, 10),
    "rate": Number(0, 1, optional=True),
    "eps": Number(above=0, optional=True),
    "name": Str(max_chars=5, optional=True),
    "kind": Str(("a", "b"), optional=True),
    "flags": List(Bool(), max_len=2, optional=True),
    "step": Nullable(Number(), optional=True),
    "data": Either(Str(), Object({"id": Int(0, 9)}), optional=True),
    "free": Object(optional=True),
    "anything": Any(optional=True),
}, closed=True)


def test_a_valid_document_is_returned():
    doc = {"version": 1, "n": 3, "rate": 0.5, "eps": 1e-9, "name": "abc", "kind": "a",
           "flags": [True], "step": None, "data": {"id": 3}, "free": {"x": [1]},
           "anything": [None]}
    assert check(doc, SCHEMA) is doc
    assert check({"version": 1, "n": 10, "data": "s"}, SCHEMA)


@pytest.mark.parametrize("changes, field, got", [
    ({"version": True}, "h.version", "True"),
    ({"version": 1.0}, "h.version", "1.0"),
    ({"n": 11}, "h.n", "11"),
    ({"n": True}, "h.n", "True"),
    ({"n": 2.0}, "h.n", "2.0"),
    ({"rate": math.nan}, "h.rate", "nan"),
    ({"rate": math.inf}, "h.rate", "inf"),
    ({"rate": 1.5}, "h.rate", "1.5"),
    ({"eps": 0}, "h.eps", "0"),
    ({"name": "abcdef"}, "h.name", "'abcdef'"),
    ({"kind": "c"}, "h.kind", "'c'"),
    ({"flags": [True, 1]}, "h.flags[1]", "1"),
    ({"flags": [True] * 3}, "h.flags", "3 items"),
    ({"step": "1"}, "h.step", "'1'"),
    ({"data": 5}, "h.data", "5"),
    ({"data": {"id": -1}}, "h.data.id", "-1"),
    ({"free": []}, "h.free", "a list of 0"),
    ({"n": None}, "h.n", "None"),
])
def test_each_wrong_field_is_named_by_its_path(changes, field, got):
    with pytest.raises(SchemaError) as info:
        check({"version": 1, "n": 3, **changes}, SCHEMA, "h")
    assert (info.value.field, info.value.got) == (field, got)
    assert str(info.value).startswith(f"{field}: expected ")


def test_missing_unknown_and_escaped_values():
    with pytest.raises(SchemaError, match="^n: expected an integer in \\[1, 10\\], got missing$"):
        check({"version": 1}, SCHEMA)
    with pytest.raises(SchemaError, match=r"the unknown key '\\x1b\[2J'"):
        check({"version": 1, "n": 1, "\x1b[2J": 0}, SCHEMA)
    with pytest.raises(SchemaError) as info:
        check({"version": 1, "n": 1, "name": "\x1b" * 500}, SCHEMA)
    assert "\x1b" not in str(info.value) and len(str(info.value)) < 200
