"""Training bitstreams: real YoWASP builds of a small trainer, and the checks before them."""

import json
from pathlib import Path

import numpy as np
import pytest
from qtrain_states import random_state

from boards.registry import BoardError, get_board
from boards.train_build import build_training_bitstream
from golden_model.qtrain import QTrainConfig, init_state
from hdl.trainer.plan import TrainerPlanError, plan_trainer


def _small_state():
    """An 8-4-2 QTrain state with narrow shadows: a trainer that builds in a minute."""
    config = QTrainConfig(weight_mode="ternary", sampling="stochastic",
                          input_rounding="stochastic", w0_log2=3, bias_log2=5, target=8,
                          delta_bits=8, eta=(1, 2), eta_bias=(2, 2), backward_shift=(0, 2),
                          seed=7)
    return init_state([8, 4, 2], 4, config, shift=(1, 1), out_bits=4)


FOLDING = [(1, 2), (1, 1)]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["icebreaker", "ulx3s-85f"])
def test_training_build_writes_bitstream_and_report_without_multipliers(name, tmp_path):
    state = _small_state()
    plan = plan_trainer(state, FOLDING)
    lines = []
    report = build_training_bitstream(state, FOLDING, name, tmp_path, log=lines.append,
                                      allow_timing_miss=True)
    board = get_board(name)
    assert json.loads((tmp_path / "report.json").read_text()) == {
        k: v for k, v in report.items() if k != "bitstream"}
    resources = report["resources"]
    assert set(resources) == {"LUT", "FF", "BRAM", "SPRAM", "DSP"}
    assert 0 < resources["LUT"]["used"] < resources["LUT"]["available"]
    if board.family == "ice40":                    # no LUT RAM: the memories are blocks
        assert resources["BRAM"]["used"] >= 1
    assert resources["DSP"]["used"] == 0
    assert report["multiplier_free"] == {"hard_multiplier_cells": {}, "ok": True}
    trainer = report["trainer"]
    assert trainer["sizes"] == "8-4-2" and trainer["folding"] == [[1, 2], [1, 1]]
    assert trainer["cycles_per_sample"] == plan.cycles_per_sample
    achieved = report["clock"]["achieved_mhz"]
    assert achieved > 0 and trainer["samples_per_s_at_fmax"] == round(
        achieved * 1e6 / plan.cycles_per_sample, 1)
    assert any("samples/s" in line for line in lines)
    bitstream = Path(report["bitstream"])
    assert bitstream.suffix == "." + board.bitstream_ext and bitstream.stat().st_size > 10_000


def test_a_folding_the_state_cannot_take_is_refused_before_any_tool(tmp_path):
    state = random_state(np.random.default_rng(0), sizes=(16, 8, 4))
    with pytest.raises(TrainerPlanError, match=r"folding\[0\] SIMD: expected a positive "
                                               r"divisor of 16, got 3"):
        build_training_bitstream(state, [(2, 3), (1, 1)], "icebreaker", tmp_path / "out",
                                 log=lambda line: None)
    assert not (tmp_path / "out").exists()


def test_an_unknown_board_is_refused(tmp_path):
    with pytest.raises(BoardError, match="unknown board 'nosuch'"):
        build_training_bitstream(_small_state(), FOLDING, "nosuch", tmp_path)


@pytest.mark.parametrize("args, message", [
    (["--folding", "auto"], "--folding 'auto': expected PE:SIMD per layer"),
    (["--folding", "1:x"], "--folding: expected 'auto', 'none' or PE:SIMD pairs"),
    (["--folding", "1:3,1:1"], "folding[0] SIMD: expected a positive divisor of 8, got 3"),
    (["--folding", "1:2,1:1", "--board", "nosuch"], "unknown board 'nosuch'"),
    (["--folding", "1:2,1:1", "--spram", "a"], "--spram 'a': expected layer indices"),
    (["--folding", "1:2,1:1", "--spram", "2"], "spram: expected layer indices below 2"),
    (["--folding", "1:2,1:1", "--spram", "0", "--board", "ulx3s-85f"],
     "--spram: ulx3s-85f has no SPRAM"),
])
def test_build_train_argument_errors_before_any_tool(tmp_path, capsys, args, message):
    from golden_model.qtrain.state_file import save_state
    from mulfree.cli import main

    save_state(_small_state(), tmp_path / "s.qtrain.npz")
    base = ["build-train", "--board", "icebreaker", "--state", str(tmp_path / "s.qtrain.npz"),
            "--out", str(tmp_path / "out")]
    assert main(base + args) == 2
    err = capsys.readouterr().err
    assert err.startswith("mulfree build-train: error:") and message in err
    assert not (tmp_path / "out" / "gateware").exists()


@pytest.mark.slow
def test_a_training_build_stalled_in_placement_is_refused_as_too_full(tmp_path, monkeypatch):
    from fake_nextpnr import silent_placer

    from boards.build_bounds import BuildBounds
    from boards.precheck import DoesNotFit

    silent_placer(tmp_path, monkeypatch)
    with pytest.raises(DoesNotFit) as caught:
        build_training_bitstream(_small_state(), FOLDING, "icebreaker", tmp_path / "out",
                                 bounds=BuildBounds(place_stall_s=1.0), log=lambda line: None)
    message = str(caught.value)
    assert "could not place" in message and "router1: stalled" in message
    assert "4,588 of 5,280 logic cells (ICESTORM_LC)" in message
    assert "router2" not in message  # another router cannot help a placement
