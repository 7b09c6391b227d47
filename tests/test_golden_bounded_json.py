"""bounded_json.loads: JSON within bounds on size, nesting and integer length."""

import json

import pytest

from golden_model.bounded_json import JSONLimitError, loads, nesting_depth


@pytest.mark.parametrize("text, depth", [
    ("1", 0), ("[]", 1), ('{"a": [1, {"b": []}]}', 4), ('["[[[[", "}}}"]', 1),
    (r'["\"[[", "\\"]', 1), ("[" * 50 + "]" * 50, 50),
])
def test_nesting_depth_ignores_brackets_in_strings(text, depth):
    assert nesting_depth(text) == depth


def test_within_the_bounds_it_is_json_loads():
    document = {"a": [1, -2, 3.5, None, True, "x\u00e9\x1b"], "b": {"c": 10**39}}
    text = json.dumps(document)
    assert loads(text) == loads(text.encode()) == document


@pytest.mark.parametrize("data, message", [
    ("[" * 33 + "]" * 33, "nested 33 levels deep (at most 32 accepted)"),
    ("[" * 1_000_000, "nested 1000000 levels deep"),
    ("1" + "0" * 40, "an integer of 41 digits (at most 40 accepted)"),
    ("-" + "9" * 5000, "an integer of 5000 digits"),
    ("x" * 11, "11 bytes (at most 10 accepted)"),
    (b"\xff", "not valid JSON: not UTF-8"),
    ("{", "not valid JSON"),
])
def test_beyond_the_bounds_is_one_error(data, message):
    with pytest.raises(JSONLimitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        loads(data, max_bytes=10 if data == "x" * 11 else 1 << 22)


def test_the_depth_bound_is_inclusive():
    assert loads("[" * 32 + "]" * 32, max_depth=32) is not None
    with pytest.raises(JSONLimitError):
        loads("[" * 3 + "]" * 3, max_depth=2)


def test_a_big_document_is_linear_time():
    import time

    text = json.dumps([{"k": "[" * 100, "v": list(range(100))} for _ in range(5000)])
    start = time.perf_counter()
    assert len(loads(text)) == 5000
    assert time.perf_counter() - start < 2
