"""Cache keys and cached results: a point's folder is named by its parameters."""

import json

import pytest

from sweep import cache
from sweep.cache import cached_result, point_dir, point_key
from sweep.spec import parse_spec


@pytest.fixture
def point():
    (point,) = parse_spec({"axes": {"arch": "64-16-10", "board": "icebreaker"}}).points()
    return point


def test_the_key_is_a_content_hash_independent_of_order(point):
    key = point_key(point)
    assert len(key) == 16 and int(key, 16) >= 0
    assert point_key(dict(reversed(list(point.items())))) == key
    assert point_key(json.loads(json.dumps(point))) == key  # survives result.json


@pytest.mark.parametrize("change", [
    {"arch": "64-32-10"}, {"seed": 1}, {"epochs": 29}, {"qb": True}, {"clock": 24.0},
    {"board": "icesugar"}, {"folding": 3000}, {"stages": ["train", "quantize"]}])
def test_any_change_of_a_value_changes_the_key(point, change):
    assert point_key({**point, **change}) != point_key(point)


def test_a_new_format_version_changes_every_key(point, monkeypatch):
    key = point_key(point)
    monkeypatch.setattr(cache, "FORMAT_VERSION", cache.FORMAT_VERSION + 1)
    assert point_key(point) != key


def test_point_dir_is_under_points(point, tmp_path):
    assert point_dir(tmp_path, point) == tmp_path / "points" / point_key(point)


def _write(tmp_path, point, result_text):
    folder = point_dir(tmp_path, point)
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(result_text)


def test_a_finished_result_is_reused(point, tmp_path):
    assert cached_result(tmp_path, point) is None  # nothing yet
    result = {"params": point, "status": "does_not_fit", "reason": "too big"}
    _write(tmp_path, point, json.dumps(result))
    assert cached_result(tmp_path, point) == result


@pytest.mark.parametrize("text", [
    "{", "[]", json.dumps({"params": {"arch": "64-32-10"}, "status": "ok"}),
    json.dumps({"status": "ok"})])
def test_unreadable_or_foreign_results_are_not_reused(point, tmp_path, text):
    _write(tmp_path, point, text)
    assert cached_result(tmp_path, point) is None


def test_unexpected_errors_run_again(point, tmp_path):
    _write(tmp_path, point, json.dumps({"params": point, "status": "error"}))
    assert cached_result(tmp_path, point) is None
