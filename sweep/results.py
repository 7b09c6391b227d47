"""A sweep's table: one flat row per point, written as ``results.csv`` and ``results.json``.

Members
-------
COLUMNS
    The row's fields, in the order of the CSV columns.
result_row
    A point's result (or its error) as a row.
write_results
    Both files, atomically.
"""

import csv
import io

from golden_model.output_files import write_json, write_text

from .point import METRICS
from .spec import AXES

__all__ = ["COLUMNS", "result_row", "write_results"]

COLUMNS = ("key", *AXES, *METRICS, "folding_used", "resources_from", "status", "reason",
           "wall_s", "cached")


def result_row(point, key, result=None, *, error=None, cached=False):
    """The row of one point.

    Parameters
    ----------
    point : dict
        Its parameters.
    key : str
        Its cache key.
    result : dict, optional
        What :func:`sweep.point.run_point` returned.
    error : str, optional
        When the point raised instead (status ``error``).
    cached : bool
        The result came from an earlier run.
    """
    row = {"key": key, **{name: point[name] for name in AXES}}
    if result is None:
        row.update(dict.fromkeys(METRICS), folding_used=None, resources_from=None,
                   status="error", reason=error or "no result", wall_s=None, cached=False)
        return row
    row.update({name: result.get(name) for name in METRICS})
    folding = result.get("folding")
    row.update(folding_used=None if folding is None else
               ",".join(f"{pe}:{simd}" for pe, simd in folding),
               resources_from=result.get("resources_from"), status=result["status"],
               reason=result.get("reason", ""), wall_s=result.get("wall_s"), cached=cached)
    return row


def write_results(rows, out_dir):
    """Write ``results.json`` (a list of rows) and ``results.csv`` under ``out_dir``.

    Returns the two paths.
    """
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: "" if row.get(name) is None else row[name] for name in COLUMNS})
    csv_path = write_text(out_dir / "results.csv", text.getvalue())
    json_path = write_json(out_dir / "results.json", rows, indent=1)
    return csv_path, json_path
