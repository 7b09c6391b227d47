"""Pareto fronts: dominance, ties, missing figures, per board, table and plots."""

from sweep.pareto import format_fronts, fronts_by_board, pareto_front, plot_fronts


def _row(key, acc, lut, ips, board="icebreaker", status="ok"):
    return {"key": key, "qnet_acc": acc, "lut": lut, "images_per_s": ips, "board": board,
            "status": status, "arch": "64-16-10", "weights": "ternary", "qb": False,
            "act_bits": 4, "pow2": False, "folding": "none", "float_acc": acc, "bram": 2,
            "fmax_mhz": None, "cycles_per_image": 1000, "resources_from": "estimate"}


def test_dominated_rows_leave_the_front():
    rows = [_row("a", 0.90, 1000, 10_000),
            _row("b", 0.85, 1200, 9_000),     # worse than a in all three
            _row("c", 0.95, 3000, 10_000),    # more accurate, bigger
            _row("d", 0.80, 500, 10_000),     # smaller, less accurate
            _row("e", 0.90, 1000, 20_000),    # a's equal but faster: dominates a
            _row("f", 0.90, 1000, 20_000)]    # e's twin: kept with e
    assert [r["key"] for r in pareto_front(rows)] == ["c", "d", "e", "f"]


def test_two_objectives_and_missing_figures():
    rows = [_row("a", 0.9, 1000, None), _row("b", 0.8, 400, 1.0), _row("c", 0.7, 500, 2.0)]
    assert [r["key"] for r in pareto_front(rows, (("qnet_acc", "max"), ("lut", "min")))] == \
        ["a", "b"]
    assert [r["key"] for r in pareto_front(rows)] == ["b", "c"]  # a has no images/s
    assert pareto_front([]) == []


def test_fronts_are_per_board_of_ok_points_only():
    rows = [_row("a", 0.90, 1000, 10_000), _row("b", 0.99, 100, 99_999, status="does_not_fit"),
            _row("c", 0.80, 4000, 5_000, board="ulx3s-85f"),
            _row("d", 0.85, 900, 10_000)]
    fronts = fronts_by_board(rows)
    assert list(fronts) == ["icebreaker", "ulx3s-85f"]
    assert [r["key"] for r in fronts["icebreaker"]] == ["a", "d"]
    assert [r["key"] for r in fronts["ulx3s-85f"]] == ["c"]


def test_table_lists_each_board_sorted_by_luts():
    fronts = fronts_by_board([_row("a", 0.90, 1000, 10_000), _row("d", 0.85, 900, 10_000)])
    table = format_fronts(fronts)
    assert table.startswith("## icebreaker: Pareto front (QNet accuracy up, LUT down, "
                            "images/s up), 2 points\n")
    lines = [line for line in table.splitlines() if line.startswith("| 64-16-10")]
    assert [line.split(" | ")[8] for line in lines] == ["900", "1,000"]
    assert "| 0.8500 |" in lines[0] and "| 10,000 |" in lines[0] and "| d |" in lines[0]
    assert format_fronts({}).startswith("No point finished with status ok")


def test_plots_one_png_per_board(tmp_path):
    rows = [_row("a", 0.90, 1000, 10_000), _row("c", 0.80, 4000, 5_000, board="ulx3s-85f"),
            _row("x", 0.5, 10, 10, board="icesugar", status="failed")]
    paths = plot_fronts(rows, tmp_path)
    assert paths == [tmp_path / "pareto-icebreaker.png", tmp_path / "pareto-ulx3s-85f.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pareto-icebreaker.png",
                                                         "pareto-ulx3s-85f.png"]


def test_a_front_over_other_objectives_may_lack_luts():
    # A search on accuracy alone, without the hardware stages: no LUTs to sort by.
    rows = [_row("a", 0.9, None, None), _row("b", 0.9, None, None), _row("c", 0.8, None, None)]
    fronts = fronts_by_board(rows, (("qnet_acc", "max"),))
    assert [r["key"] for r in fronts["icebreaker"]] == ["a", "b"]
    table = format_fronts(fronts)
    assert "2 points" in table and "| 0.9000 | - |" in table
