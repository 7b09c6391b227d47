"""Real YoWASP builds: a digits-shaped network for the iCEBreaker and the ULX3S-85F.

The first run of each YoWASP tool compiles it (about a minute); later runs
take tens of seconds per build.
"""

import json
from pathlib import Path

import pytest
from boards_qnets import make_qnet

from boards.build import BuildError, TimingError, build_bitstream
from boards.registry import get_board
from hdl.accelerator import Accelerator

#: Sizes of the scikit-learn digits (8x8 pixels of 5 bits, 10 classes).
DIGITS = (64, 16, 10)
FOLDING = [(2, 4), (1, 2)]


def digits_qnet():
    return make_qnet(sizes=DIGITS, in_bits=5, seed=7)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["icebreaker", "ulx3s-85f"])
def test_build_writes_bitstream_and_report(name, tmp_path):
    # One build per board, every check on it (a build is the expensive part).
    qnet = digits_qnet()
    lines = []
    report = build_bitstream(qnet, name, tmp_path, folding=FOLDING, log=lines.append)
    board = get_board(name)
    accelerator = Accelerator(qnet, folding=FOLDING)
    accelerator._MustUse__silence = True  # built only for its cycle figures
    assert json.loads((tmp_path / "report.json").read_text()) == {
        k: v for k, v in report.items() if k != "bitstream"}
    assert report["board"] == name and report["device"] == board.device
    assert report["qnet_fingerprint"] == qnet.fingerprint()
    resources = report["resources"]
    assert set(resources) == {"LUT", "FF", "BRAM", "SPRAM", "DSP"}
    assert resources["LUT"]["available"] == board.capacity.lut
    assert 0 < resources["LUT"]["used"] < resources["LUT"]["available"]
    assert 0 < resources["FF"]["used"] < resources["FF"]["available"]
    assert resources["DSP"]["used"] == 0
    assert report["multiplier_free"] == {"hard_multiplier_cells": {}, "ok": True}
    clock = report["clock"]
    assert clock["requested_mhz"] == board.target_hz / 1e6
    assert clock["met"] and clock["achieved_mhz"] >= clock["requested_mhz"]
    assert report["cycles_per_image"] == accelerator.cycles_per_image
    assert report["images_per_s"] == round(board.target_hz / accelerator.cycles_per_image, 1)
    assert report["uart_baud"] == board.baud
    assert report["tools"]["yosys"]["source"] == "yowasp"
    assert any("images/s" in line for line in lines)  # the printed table

    bitstream = Path(report["bitstream"])
    assert bitstream.parent == tmp_path and bitstream.suffix == "." + board.bitstream_ext
    if board.family == "ice40":
        assert bitstream.stat().st_size == 104090       # every UP5K image has this size
    else:
        assert bitstream.read_bytes()[:2] == b"\xff\x00"  # ECP5 bitstream preamble
        assert bitstream.stat().st_size > 10_000


@pytest.mark.slow
def test_missed_clock_fails_with_the_achieved_figure(tmp_path):
    with pytest.raises(TimingError, match=r"icebreaker: timing missed: [\d.]+ MHz achieved, "
                                          r"48.0 MHz requested; build with --clock \d+"):
        build_bitstream(make_qnet(sizes=(16, 8, 4), in_bits=4), "icebreaker", tmp_path,
                        clock_mhz=48, log=lambda line: None)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["clock"]["met"] is False


@pytest.mark.slow
def test_a_hard_multiplier_fails_the_build(tmp_path):
    qnet = make_qnet(sizes=(16, 8, 4), in_bits=4)
    with pytest.raises(BuildError, match=r"hard multipliers \{'SB_MAC16': \d+\}"):
        build_bitstream(qnet, "icebreaker", tmp_path, log=lambda line: None,
                        accelerator=Accelerator(qnet, datapath="multiply"))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["multiplier_free"]["ok"] is False


@pytest.mark.slow
def test_spram_weights_build_and_report_the_load(tmp_path):
    """Layer 0 in an SB_SPRAM256KA: placed as SPRAM, reported, and loaded by mulfree run."""
    qnet = digits_qnet()
    lines = []
    report = build_bitstream(qnet, "icebreaker", tmp_path, folding=FOLDING,
                             weight_store=["spram", "rom"], log=lines.append)
    accelerator = Accelerator(qnet, folding=FOLDING, weight_store=["spram", "rom"])
    accelerator._MustUse__silence = True
    plan = accelerator.plans[0]
    # 8 ternary lanes packed in 2 bytes: one 16-bit slice per word, one block.
    assert (plan.weight_slices, plan.spram_blocks) == (1, 1)
    assert report["resources"]["SPRAM"]["used"] == 1
    assert report["resources"]["DSP"]["used"] == 0
    assert report["multiplier_free"]["ok"] and report["clock"]["met"]
    assert report["weights"] == {"store": ["spram", "rom"], "load_slices": plan.weight_depth,
                                 "load_bytes": 2 * plan.weight_depth}
    assert report["estimate"]["totals"]["spram_blocks"] == 1
    assert any("loaded over the UART by 'mulfree run'" in line for line in lines)


@pytest.mark.slow
def test_spram_weights_the_sprams_cannot_feed_are_refused_before_place_and_route(tmp_path):
    """With PE = SIMD = 1 the planner must move 784-256-256-10 to SPRAM, which then needs
    more than the UP5K's 4 blocks: refused by the pre-check, nothing built."""
    from boards.precheck import DoesNotFit
    qnet = make_qnet(sizes=(784, 256, 256, 10), in_bits=8)
    with pytest.raises(DoesNotFit, match="SPRAM blocks but the iCE40UP5K has 4"):
        build_bitstream(qnet, "icebreaker", tmp_path, folding=None, log=lambda line: None)
    assert not (tmp_path / "gateware").exists()


@pytest.mark.slow
def test_an_unplaceable_seed_is_retried_with_the_next(tmp_path, monkeypatch):
    """nextpnr's legaliser can fail near full utilisation for one seed and not another."""
    import subprocess

    import boards.build as build
    real = build._synthesise_place_route
    seeds = []

    def first_seed_fails(board, top, out_dir, env, seed):
        seeds.append(seed)
        if len(seeds) == 1:
            failed = subprocess.CompletedProcess(["sh"], 1, "", "")
            return failed, "ERROR: Unable to find legal placement for all cells", out_dir
        return real(board, top, out_dir, env, seed)

    monkeypatch.setattr(build, "_synthesise_place_route", first_seed_fails)
    lines = []
    report = build_bitstream(make_qnet(sizes=(16, 8, 4), in_bits=4), "icebreaker", tmp_path,
                             log=lines.append)
    assert seeds == [None, 2]
    assert report["nextpnr_seed"] == 2 and report["clock"]["met"]
    assert any("could not legalise the placement (seed default); trying seed 2" in line
               for line in lines)

    tried = []

    def every_seed_fails(board, top, out_dir, env, seed):
        tried.append(seed)
        failed = subprocess.CompletedProcess(["sh"], 1, "", "")
        return failed, "ERROR: Unable to find legal placement for all cells", out_dir

    monkeypatch.setattr(build, "_synthesise_place_route", every_seed_fails)
    with pytest.raises(BuildError, match="Unable to find legal placement"):
        build_bitstream(make_qnet(sizes=(16, 8, 4), in_bits=4), "icebreaker", tmp_path,
                        seed=7, placement_attempts=2, log=lambda line: None)
    assert tried == [7, 8]
