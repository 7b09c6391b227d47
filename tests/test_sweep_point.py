"""One sweep point in this process: its stages, its files, and each failure as a result."""

import json

import pytest

from sweep.cache import point_key
from sweep.point import run_point
from sweep.spec import parse_spec


def _point(**axes):
    stages = axes.pop("stages", ["train", "quantize", "generate"])
    document = {"sweep": {"stages": stages, "sim_images": 8},
                "axes": {"arch": "64-16-10", "act_bits": 4, "epochs": 3, **axes}}
    (point,) = parse_spec(document).points()
    return point


def test_an_ok_point_writes_its_files_and_result_last(tmp_path):
    point = _point(board="icebreaker", folding="none")
    result = run_point(point, tmp_path)
    assert result["status"] == "ok" and result["reason"] == ""
    assert result["key"] == point_key(point) and result["params"] == point
    assert json.loads((tmp_path / "result.json").read_text()) == result
    assert 0.7 < result["float_acc"] <= 1 and 0.7 < result["qnet_acc"] <= 1
    estimate = json.loads((tmp_path / "accel.estimate.json").read_text())
    assert result["lut"] == estimate["totals"]["lut"]
    assert result["cycles_per_image"] == estimate["cycles_per_image"] == 64 * 16 + 16 * 10 - 160
    assert result["images_per_s"] == round(30e6 / result["cycles_per_image"], 1)
    assert (result["folding"], result["resources_from"], result["dsp"]) == \
        ([[1, 1], [1, 1]], "estimate", 0)
    assert result["bram"] >= 1 and result["fmax_mhz"] is None
    assert "module mulfree_accel" in (tmp_path / "accel.v").read_text()
    assert {"model.npz", "model.qnet.npz", "point.log"} <= {p.name for p in tmp_path.iterdir()}
    assert set(result["stage_s"]) == {"train", "quantize", "generate"}


def test_without_a_board_or_hardware_stages_fewer_figures(tmp_path):
    result = run_point(_point(stages=["train", "quantize"]), tmp_path / "a")
    assert result["status"] == "ok" and result["qnet_acc"] > 0.7
    assert result["lut"] is None and result["folding"] is None
    result = run_point(_point(folding="none", clock=20), tmp_path / "b")
    assert result["bram"] is None  # no board: no device to count block RAMs of
    assert result["images_per_s"] == round(20e6 / result["cycles_per_image"], 1)


def test_the_precheck_refusal_is_recorded_before_any_netlist(tmp_path):
    result = run_point(_point(board="icebreaker", folding="16:64,10:16"), tmp_path)
    assert result["status"] == "does_not_fit"
    assert result["reason"].startswith("icebreaker: the design needs about ")
    assert "LUT but the iCE40UP5K has 5,280" in result["reason"]
    assert result["lut"] > 5280 and result["qnet_acc"] > 0.7
    assert not (tmp_path / "accel.v").exists()
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "does_not_fit"


def test_auto_folding_on_the_ice40_plans_a_share_of_its_logic_cells(tmp_path):
    """LUTs plus flip-flops: a 64-32-10 planned for 40 % of the UP5K's LUTs alone took
    86 % of its logic cells and could not be placed."""
    from sweep.point import AUTO_LUT_SHARE

    result = run_point(_point(arch="64-32-10", board="icebreaker", folding="auto"), tmp_path)
    assert result["status"] == "ok"
    assert result["lut"] + result["ff"] <= AUTO_LUT_SHARE * 5280
    ecp5 = run_point(_point(arch="64-32-10", board="ulx3s-85f", folding="auto"),
                     tmp_path / "ecp5")
    assert ecp5["lut"] > result["lut"]  # LUTs only on the ECP5, a far larger budget


def test_a_folding_the_network_cannot_take_fails_the_point(tmp_path):
    result = run_point(_point(folding="64:64,10:16"), tmp_path)
    assert result["status"] == "failed"
    assert "pe: expected 1 <= pe <= n_out = 16, got 64" in result["reason"]


def test_a_dead_network_is_recorded_and_not_saved(tmp_path, monkeypatch):
    import golden_model.dead_units as dead_units

    monkeypatch.setattr(dead_units, "dead_layers", lambda network, x: [(0, -0.25)])
    result = run_point(_point(), tmp_path)
    assert result["status"] == "dead_network"
    assert "layer" in result["reason"] and result["float_acc"] is not None
    assert result["qnet_acc"] is None and not (tmp_path / "model.npz").exists()


def test_a_missed_clock_keeps_the_built_figures(tmp_path, monkeypatch):
    import boards.build as build

    def missed(qnet, board, out_dir, **options):
        report = {"resources": {"LUT": {"used": 1234, "available": 5280},
                                "FF": {"used": 600, "available": 5280},
                                "BRAM": {"used": 4, "available": 30},
                                "SPRAM": {"used": 0, "available": 4},
                                "DSP": {"used": 0, "available": 8}},
                  "clock": {"achieved_mhz": 21.5, "requested_mhz": 30.0},
                  "cycles_per_image": 864, "images_per_s": 34722.2}
        out_dir.mkdir(parents=True)
        (out_dir / "report.json").write_text(json.dumps(report))
        assert options["folding"] == [(1, 1), (1, 1)] and options["clock_mhz"] is None
        raise build.TimingError("icebreaker: timing missed: 21.5 MHz achieved, 30.0 MHz "
                                "requested")

    monkeypatch.setattr(build, "build_bitstream", missed)
    result = run_point(_point(board="icebreaker", folding="none",
                              stages=["train", "quantize", "build"]), tmp_path)
    assert result["status"] == "timing_missed"
    assert result["reason"].startswith("icebreaker: timing missed: 21.5 MHz")
    assert (result["lut"], result["ff"], result["bram"], result["spram"], result["dsp"]) == \
        (1234, 600, 4, 0, 0)
    assert (result["fmax_mhz"], result["images_per_s"], result["resources_from"]) == \
        (21.5, 34722.2, "build")
    assert not (tmp_path / "accel.v").exists()  # "generate" was not asked for


def test_an_unexpected_error_is_raised_and_leaves_no_result(tmp_path, monkeypatch):
    import golden_model.quantize as quantize

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(quantize, "quantize", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        run_point(_point(), tmp_path)
    assert not (tmp_path / "result.json").exists()


@pytest.mark.slow
def test_the_sim_stage_checks_images_against_the_qnet(tmp_path):
    result = run_point(_point(board="icebreaker", folding="none",
                              stages=["train", "quantize", "sim"]), tmp_path)
    assert result["status"] == "ok", result["reason"]
    assert (result["sim_images"], result["sim_mismatches"]) == (8, 0)
    assert json.loads((tmp_path / "sim_report.json").read_text())["passed"] is True


@pytest.mark.slow
def test_a_cnn_point_is_planned_for_the_board_and_simulated_bit_exact(tmp_path):
    """A convolutional arch runs every stage but the build: the folding is one pair per
    QNet layer (the pool's and flatten's unused), and Verilator agrees with the QNet."""
    result = run_point(_point(arch="c4k3-p2-16-10", board="icebreaker", folding="auto",
                              stages=["train", "quantize", "generate", "sim"]), tmp_path)
    assert result["status"] == "ok", result["reason"]
    assert len(result["folding"]) == 5                # conv, pool, flatten, dense, dense
    assert result["folding"][1] == result["folding"][2] == [1, 1]
    assert result["qnet_acc"] > 0.5 and result["spram"] == 0 and result["bram"] >= 1
    assert (result["sim_images"], result["sim_mismatches"]) == (8, 0)
    assert "module mulfree_accel" in (tmp_path / "accel.v").read_text()
