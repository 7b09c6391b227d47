"""Where a point's results live, and its cache key.

A point is a pure function of its parameters, so a content hash of them (and
of :data:`FORMAT_VERSION`, raised whenever the meaning of a parameter or the
content of a result changes) names its folder ``<out>/points/<key>/``. The
point writes ``result.json`` there last, atomically: a folder with it is a
finished point, one without it is an interrupted one that runs again.
"""

import hashlib
import json
from pathlib import Path

__all__ = ["FORMAT_VERSION", "RESULT_FILE", "RERUN_STATUSES", "cached_result", "point_dir",
           "point_key"]

#: Raised when a parameter's meaning or the result format changes: old results are not reused.
FORMAT_VERSION = 1
RESULT_FILE = "result.json"
#: Statuses not cached: an unexpected error may not recur (memory, a lost worker).
RERUN_STATUSES = ("error",)


def point_key(point):
    """The cache key of ``point`` (a parameter dict): 16 hex digits of a SHA-256.

    Independent of the dict's order; any change of a value changes it.
    """
    canonical = json.dumps({"format": FORMAT_VERSION, "point": point}, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def point_dir(out, point):
    """``<out>/points/<key>``: the point's own work folder."""
    return Path(out) / "points" / point_key(point)


def cached_result(out, point):
    """The finished result of ``point`` under ``out``, or None if it must run.

    A result that cannot be read, belongs to other parameters or records an
    unexpected error is not reused.
    """
    path = point_dir(out, point) / RESULT_FILE
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(result, dict) or result.get("params") != point \
            or result.get("status") in RERUN_STATUSES:
        return None
    return result
