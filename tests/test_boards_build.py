"""Real YoWASP builds: a digits-shaped network for the iCEBreaker and the ULX3S-85F.

The first run of each YoWASP tool compiles it (about a minute); later runs
take tens of seconds per build.
"""

import json
import time
from pathlib import Path

import pytest
from boards_qnets import make_qnet
from fake_nextpnr import silent_placer, stalling_router

from boards.build import BuildBounds, BuildError, TimingError, build_bitstream
from boards.precheck import DoesNotFit
from boards.registry import get_board
from golden_model.errors import MulfreeError
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
    # by default (max_batch 1, batches are opt-in) the board top answers one image per
    # request: round trips of 64 + 5 and 6 + 5 bytes
    assert board.max_batch == 1
    assert report["link"]["baud"] == board.baud and report["link"]["batch"] == 1
    assert report["link"]["request_bytes"] == 69 and report["link"]["reply_bytes"] == 11
    assert 0 < report["end_to_end_images_per_s"] < report["link"]["images_per_s"]
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
    import boards.build as build
    from boards.bounded_run import ToolRun
    real = build._place_and_route
    tried = []
    unplaceable = ToolRun("failed", 1, "ERROR: Unable to find legal placement for all cells",
                          0.1)

    def first_seed_fails(step, gateware, env, bounds, seed, router, placer=None):
        tried.append((seed, router))
        if len(tried) == 1:
            return unplaceable, "", False
        return real(step, gateware, env, bounds, seed, router, placer)

    monkeypatch.setattr(build, "_place_and_route", first_seed_fails)
    lines = []
    report = build_bitstream(make_qnet(sizes=(16, 8, 4), in_bits=4), "icebreaker", tmp_path,
                             log=lines.append)
    # another router cannot help a placement failure: the next seed, same router
    assert tried == [(None, "router1"), (2, "router1")]
    assert report["nextpnr_seed"] == 2 and report["clock"]["met"]
    assert report["place_and_route"]["router"] == "router1"
    assert [a["outcome"] for a in report["place_and_route"]["attempts"]] == ["failed", "ok"]
    assert any("router1 seed default: failed" in line and "trying the next seed" in line
               for line in lines)

    tried.clear()

    def every_seed_fails(step, gateware, env, bounds, seed, router, placer=None):
        tried.append((seed, router))
        return unplaceable, "", False

    monkeypatch.setattr(build, "_place_and_route", every_seed_fails)
    with pytest.raises(BuildError, match=r"did not complete; tried router1 seed 7: failed"):
        build_bitstream(make_qnet(sizes=(16, 8, 4), in_bits=4), "icebreaker", tmp_path,
                        seed=7, placement_attempts=2, log=lambda line: None)
    assert tried == [(7, "router1"), (8, "router1")]


@pytest.mark.slow
def test_a_stalled_router_falls_back_to_router2(tmp_path, monkeypatch):
    """router1 stalls (the same arcs left, no progress for the bound); router2 routes it."""
    stalling_router(tmp_path, monkeypatch, hand_on="router2")
    lines = []
    out = tmp_path / "out"
    report = build_bitstream(make_qnet(sizes=(16, 8, 4), in_bits=4), "icebreaker", out,
                             bounds=BuildBounds(route_stall_s={"router1": 1.0}),
                             log=lines.append)
    pnr = report["place_and_route"]
    assert pnr["router"] == "router2" and pnr["seed"] is None
    assert [(a["router"], a["outcome"]) for a in pnr["attempts"]] == [
        ("router1", "stalled"), ("router2", "ok")]
    assert pnr["attempts"][0]["detail"] == "routing, 3836 remaining (best 3836)"
    assert report["clock"]["met"] and Path(report["bitstream"]).stat().st_size > 10_000
    assert any("router1 seed default: stalled" in line and "trying router2" in line
               for line in lines)
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["place_and_route"]["router"] == "router2"


@pytest.mark.slow
def test_routing_that_never_converges_fails_naming_design_tool_and_attempts(tmp_path,
                                                                           monkeypatch):
    stalling_router(tmp_path, monkeypatch)
    qnet = make_qnet(sizes=(16, 8, 4), in_bits=4)
    out = tmp_path / "out"
    with pytest.raises(BuildError) as caught:
        build_bitstream(qnet, "icebreaker", out, placement_attempts=1,
                        bounds=BuildBounds(route_stall_s=1.0), log=lambda line: None)
    message = str(caught.value)
    assert f"QNet {qnet.fingerprint()[:16]}" in message
    assert "place-and-route (nextpnr-ice40)" in message
    assert "router1 seed default: stalled" in message
    assert "router2 seed default: stalled" in message
    assert "3836 remaining" in message
    assert str(out / "build.log") in message
    assert "router2" in (out / "build.log").read_text()
    assert not (out / "report.json").exists()


@pytest.mark.slow
def test_a_stalled_placement_tries_the_next_seed_not_the_next_router(tmp_path, monkeypatch):
    silent_placer(tmp_path, monkeypatch, hand_on="--seed")
    lines = []
    report = build_bitstream(make_qnet(sizes=(16, 8, 4), in_bits=4), "icebreaker",
                             tmp_path / "out", bounds=BuildBounds(place_stall_s=1.0),
                             placers=["heap"], max_batch=1,
                             log=lines.append)   # the smallest top: places fast
    pnr = report["place_and_route"]
    assert pnr["seed"] == 2 and pnr["router"] == "router1" and pnr["placer"] == "heap"
    assert [(a["router"], a["seed"], a["outcome"]) for a in pnr["attempts"]] == [
        ("router1", None, "stalled"), ("router1", 2, "ok")]
    assert pnr["attempts"][0]["detail"] == (
        "placing, last progress line 'at iteration #1'; 4,588 of 5,280 logic cells "
        "(ICESTORM_LC), 86 %")
    assert any("stalled" in line and "trying the next seed" in line for line in lines)


@pytest.mark.slow
def test_a_stalled_placer_hands_over_to_the_static_placer_at_the_same_seed(tmp_path,
                                                                          monkeypatch):
    """HeAP printed nothing for 40 minutes on the ECP5-85F engine; the static placer placed it."""
    silent_placer(tmp_path, monkeypatch, hand_on="static")
    lines = []
    report = build_bitstream(make_qnet(sizes=(16, 8, 4), in_bits=4), "icebreaker",
                             tmp_path / "out", bounds=BuildBounds(place_stall_s=1.0),
                             max_batch=1, log=lines.append)
    pnr = report["place_and_route"]
    assert (pnr["seed"], pnr["router"], pnr["placer"]) == (None, "router1", "static")
    assert [(a["placer"], a["seed"], a["outcome"]) for a in pnr["attempts"]] == [
        ("heap", None, "stalled"), ("static", None, "ok")]
    assert report["clock"]["met"] and Path(report["bitstream"]).stat().st_size > 10_000
    assert any("router1 seed default: stalled" in line and "trying the static placer" in line
               for line in lines)


def test_unknown_or_repeated_placers_are_refused_before_any_work(tmp_path):
    qnet = make_qnet(sizes=(16, 8, 4), in_bits=4)
    with pytest.raises(MulfreeError, match=r"placer: expected one or more of heap, static, sa, "
                                           r"not 'annealing'"):
        build_bitstream(qnet, "icebreaker", tmp_path, placers=["heap", "annealing"])
    with pytest.raises(MulfreeError, match="placer: expected one or more of .*, not none"):
        build_bitstream(qnet, "icebreaker", tmp_path, placers=[])
    with pytest.raises(MulfreeError, match="placer: each placer once, not heap, heap"):
        build_bitstream(qnet, "icebreaker", tmp_path, placers=["heap", "heap"])
    assert not (tmp_path / "gateware").exists()


@pytest.mark.slow
def test_a_placement_stalled_at_every_seed_is_refused_as_too_full(tmp_path, monkeypatch):
    silent_placer(tmp_path, monkeypatch)
    out = tmp_path / "out"
    start = time.monotonic()
    with pytest.raises(DoesNotFit) as caught:
        build_bitstream(make_qnet(sizes=(16, 8, 4), in_bits=4), "icebreaker", out,
                        placement_attempts=2, bounds=BuildBounds(place_stall_s=1.0),
                        max_batch=1, log=lambda line: None)
    assert time.monotonic() - start < 120  # two bounded attempts, not the placer's hours
    message = str(caught.value)
    assert "could not place" in message and "too full to place" in message
    # each placer once at the first seed, then the one left at the next
    assert ("router1 seed default: stalled" in message
            and "router1 seed default, static placer: stalled" in message
            and "router1 seed 2, static placer: stalled" in message)
    assert "router2" not in message
    assert "4,588 of 5,280 logic cells" in message
    assert str(out / "build.log") in message
    assert not (out / "report.json").exists()


@pytest.mark.slow
def test_synthesis_beyond_its_bound_is_stopped_with_a_clear_error(tmp_path):
    with pytest.raises(BuildError, match=r"synthesis \(yosys\) of the icebreaker design .* "
                                         r"did not finish within its bound of 0.5 s"):
        build_bitstream(make_qnet(sizes=(16, 8, 4), in_bits=4), "icebreaker", tmp_path,
                        bounds=BuildBounds(synth_s=0.5), log=lambda line: None)


@pytest.mark.slow
def test_read_only_block_rams_get_no_constant_clock(tmp_path):
    """Yosys ties an unused write port's clock to 0; nextpnr-ice40 then spends a global
    buffer on the constant net and reports it as a clock. The build ties it to the read clock."""
    lines = []
    report = build_bitstream(make_qnet(sizes=(64, 32, 10), in_bits=5), "icebreaker", tmp_path,
                             folding=[(1, 8), (1, 4)], weight_store="rom", log=lines.append)
    assert report["resources"]["BRAM"]["used"] >= 2
    log = (tmp_path / "build.log").read_text()
    assert "PACKER_GND_NET_$glb_clk" not in log and "promoting $PACKER_GND_NET" not in log
    assert any("write clock tied to the read clock" in line for line in lines)


@pytest.mark.slow
def test_a_small_cnn_builds_for_the_up5k_without_a_multiplier(tmp_path):
    """Convolution, max-pool, flatten and dense through Yosys and nextpnr (YoWASP)."""
    from qnet_conv_nets import digits_cnn

    qnet = digits_cnn(pool=True)
    folding = [(1, 1)] * len(qnet.layers)
    report = build_bitstream(qnet, "icebreaker", tmp_path, folding=folding,
                             log=lambda line: None)
    accelerator = Accelerator(qnet, folding=folding)
    accelerator._MustUse__silence = True  # built only for its cycle figures
    assert report["qnet_fingerprint"] == qnet.fingerprint()
    assert report["multiplier_free"] == {"hard_multiplier_cells": {}, "ok": True}
    assert report["resources"]["DSP"]["used"] == 0
    assert 0 < report["resources"]["LUT"]["used"] < 5280
    assert report["clock"]["met"]
    assert report["cycles_per_image"] == accelerator.cycles_per_image == 2304
    assert Path(report["bitstream"]).stat().st_size == 104090


@pytest.mark.slow
def test_a_design_over_the_estimate_is_synthesised_when_asked(tmp_path):
    """check_estimate=False skips the pre-check so that the tools measure the design."""
    qnet = make_qnet(sizes=(64, 32, 10), in_bits=5)
    options = dict(folding=[(16, 16), (10, 32)], weight_store="rom", log=lambda line: None)
    with pytest.raises(DoesNotFit, match="LUT"):
        build_bitstream(qnet, "icebreaker", tmp_path / "checked", **options)
    assert not (tmp_path / "checked" / "gateware").exists()
    with pytest.raises(BuildError, match=r"synthesis \(yosys\) .* did not finish within"):
        build_bitstream(qnet, "icebreaker", tmp_path / "measured", check_estimate=False,
                        bounds=BuildBounds(synth_s=0.5), **options)
    assert (tmp_path / "measured" / "gateware").exists()


class _Prepared(Exception):
    """Raised in place of synthesis: carries the top the build made."""


def _top_of(monkeypatch, tmp_path, **options):
    """The board top ``build_bitstream`` makes of the digits QNet for the ULX3S, stopped
    before its tool inputs are written."""
    from boards import build

    def stop(board, top, out_dir, env, tools):
        raise _Prepared(top)

    monkeypatch.setattr(build, "_prepare", stop)
    with pytest.raises(_Prepared) as stopped:
        build_bitstream(digits_qnet(), "ulx3s-85f", tmp_path, log=lambda line: None, **options)
    return stopped.value.args[0]


@pytest.mark.parametrize("folding", ["auto", [(2, 16), (5, 2)]])
def test_in_lanes_reach_the_board_top_and_the_automatic_folding(tmp_path, monkeypatch,
                                                                folding):
    one = _top_of(monkeypatch, tmp_path, folding=folding).engine.accelerator
    four = _top_of(monkeypatch, tmp_path, folding=folding, in_lanes=4).engine.accelerator
    assert (one.in_lanes, four.in_lanes) == (1, 4)
    if folding == "auto":
        # A pixel a beat holds the engine at 64 cycles an image; 4 a beat, the automatic
        # folding widens layer 0 to keep up with 16 beats.
        assert one.cycles_per_image >= 64 > four.cycles_per_image >= 16
    else:
        # 64 pixels over SIMD 16 in 4 folds of 8 rows: 32 cycles, fed in 16 beats of 4;
        # fed a pixel a beat, the input's 64 beats set the rate.
        assert (one.cycles_per_image, four.cycles_per_image) == (64, 32)


def test_build_refuses_in_lanes_beyond_an_image_before_synthesis(tmp_path, monkeypatch):
    from golden_model.errors import MulfreeError

    with pytest.raises(MulfreeError, match=r"--in-lanes 65: expected 1 to 64"):
        _top_of(monkeypatch, tmp_path, in_lanes=65)
    assert not (tmp_path / "gateware").exists()
