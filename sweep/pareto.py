"""Pareto fronts of a sweep's results: accuracy against LUTs and images/s, per board.

Members
-------
OBJECTIVES
    The front's objectives: QNet accuracy up, LUTs down, images/s up.
pareto_front
    The rows no other row dominates.
ok_rows_by_board, fronts_by_board
    Board -> its ``ok`` rows, or their front.
format_fronts
    The fronts as a Markdown table (printed and written to ``pareto.md``).
plot_fronts
    One PNG per board: accuracy vs LUT and accuracy vs images/s.
"""

from pathlib import Path

__all__ = ["OBJECTIVES", "format_fronts", "fronts_by_board", "ok_rows_by_board", "pareto_front",
           "plot_fronts"]

#: (result field, direction) of each objective.
OBJECTIVES = (("qnet_acc", "max"), ("lut", "min"), ("images_per_s", "max"))


def _signed(row, objectives):
    """Objective values as quantities to maximise."""
    return tuple(row[key] if how == "max" else -row[key] for key, how in objectives)


def pareto_front(rows, objectives=OBJECTIVES):
    """The rows of ``rows`` that no other row dominates.

    A row dominates another when it is at least as good in every objective
    and better in one. Rows lacking an objective's value (None) are left out;
    of rows with identical objective values, all are kept.

    Parameters
    ----------
    rows : list of dict
    objectives : sequence of (key, "max" or "min")

    Returns
    -------
    list of dict
        In the order of ``rows``.
    """
    candidates = [row for row in rows
                  if all(row.get(key) is not None for key, _ in objectives)]
    values = [_signed(row, objectives) for row in candidates]
    front = []
    for i, mine in enumerate(values):
        dominated = any(all(o >= m for o, m in zip(other, mine, strict=True)) and other != mine
                        for j, other in enumerate(values) if j != i)
        if not dominated:
            front.append(candidates[i])
    return front


def ok_rows_by_board(rows):
    """Board name -> its rows of status ``ok`` (boards in first-seen order)."""
    boards = {}
    for row in rows:
        if row.get("status") == "ok":
            boards.setdefault(row["board"], []).append(row)
    return boards


def fronts_by_board(rows, objectives=OBJECTIVES):
    """Board name -> the Pareto front of its ``ok`` rows (boards in first-seen order)."""
    return {board: pareto_front(members, objectives)
            for board, members in ok_rows_by_board(rows).items()}


_COLUMNS = (("arch", "arch", "{}"), ("weights", "weights", "{}"), ("qb", "QB", "{}"),
            ("act_bits", "B", "{}"), ("pow2", "pow2", "{}"), ("folding", "folding", "{}"),
            ("float_acc", "float acc", "{:.4f}"), ("qnet_acc", "QNet acc", "{:.4f}"),
            ("lut", "LUT", "{:,}"), ("bram", "BRAM", "{}"), ("fmax_mhz", "Fmax MHz", "{}"),
            ("cycles_per_image", "cycles/img", "{:,}"), ("images_per_s", "images/s", "{:,.0f}"),
            ("resources_from", "from", "{}"), ("key", "point", "{}"))


def _cell(row, key, fmt):
    value = row.get(key)
    return "-" if value is None else fmt.format(value)


def format_fronts(fronts):
    """The fronts as Markdown: one table per board, sorted by LUTs."""
    if not fronts:
        return "No point finished with status ok: no Pareto front.\n"
    out = []
    for board, front in fronts.items():
        out.append(f"## {board}: Pareto front (QNet accuracy up, LUT down, images/s up), "
                   f"{len(front)} points\n")
        out.append("| " + " | ".join(title for _, title, _ in _COLUMNS) + " |")
        out.append("|" + "---|" * len(_COLUMNS))
        for row in sorted(front, key=lambda r: (r["lut"], -r["qnet_acc"])):
            out.append("| " + " | ".join(_cell(row, key, fmt) for key, _, fmt in _COLUMNS)
                       + " |")
        out.append("")
    return "\n".join(out) + "\n"


def _staircase(axis, front, x_key, x_max):
    """Draw the 2-D front of one panel as a step line."""
    points = sorted(((r[x_key], r["qnet_acc"]) for r in front), reverse=x_max)
    if points:
        xs, ys = zip(*points, strict=True)
        axis.step(xs, ys, where="post", color="C3", linewidth=1, label="Pareto front")


def plot_fronts(rows, out_dir):
    """One ``pareto-<board>.png`` per board under ``out_dir``: accuracy vs LUT and vs images/s.

    Every ``ok`` point is drawn; each panel's own two-objective front is a
    step line. Returns the paths written.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from golden_model.output_files import save_figure

    paths = []
    for board, members in ok_rows_by_board(rows).items():
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
        panels = ((axes[0], "lut", "min", "LUTs", False),
                  (axes[1], "images_per_s", "max", "images/s", True))
        for axis, x_key, how, label, log_x in panels:
            drawn = [r for r in members if r.get(x_key) is not None]
            axis.scatter([r[x_key] for r in drawn], [r["qnet_acc"] for r in drawn],
                         s=18, color="C0", label="points")
            front = pareto_front(drawn, (("qnet_acc", "max"), (x_key, how)))
            axis.scatter([r[x_key] for r in front], [r["qnet_acc"] for r in front],
                         s=30, color="C3")
            _staircase(axis, front, x_key, x_max=how == "max")
            axis.set_xlabel(label)
            if log_x and drawn:
                axis.set_xscale("log")
            axis.grid(True, alpha=0.3)
        axes[0].set_ylabel("QNet test accuracy")
        axes[0].legend(loc="best")
        fig.suptitle(f"{board}: {len(members)} points")
        fig.tight_layout()
        path = Path(out_dir) / f"pareto-{board}.png"
        save_figure(fig, path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths
