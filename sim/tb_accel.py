"""cocotb testbench of the whole accelerator, inside :mod:`sim.harness`.

The host (:mod:`sim.accel_check`) writes a JSON config and points
``MULFREE_TB_CONFIG`` at it: the stream format, an ``.npz`` with the images
and the QNet's expected logits and classes, and one entry per scenario to
run. Each test writes ``result_<test>.json`` into the working directory (the
run directory) with what it saw, and fails on any mismatch.

Scenarios
---------
bulk_full_rate
    File-driven, no gaps: back-to-back images at full rate; measures the
    initiation interval (cycles per image) and the simulation speed.
bulk_random_gaps
    File-driven, pseudo-random valid and ready gaps on both streams.
driven_random_gaps
    Driven from Python cycle by cycle: random gaps on both streams, and
    garbage on ``i__payload`` whenever ``i__valid`` is low.
reset_mid_image
    Python-driven: one image, half of the next, a reset, then more images;
    every image after the reset must come out right.

An accelerator with loadable weights is loaded through the harness (from the
config's ``load`` file) before its first scenario; a reset keeps the weights.
"""

import json
import os
import random
import shutil
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge, First, ReadOnly, RisingEdge, Timer

from sim.compare import compare_outputs, describe_mismatch
from sim.harness import STIMULUS_FILE, WEIGHTS_FILE
from sim.stream_codec import (
    StreamFormat,
    decode_payload_ints,
    encode_payload_ints,
    read_responses,
    write_stimulus,
)


def _config():
    path = os.environ.get("MULFREE_TB_CONFIG")
    if not path:
        raise RuntimeError("MULFREE_TB_CONFIG is not set (run through sim.accel_check)")
    config = json.loads(Path(path).read_text())
    with np.load(config["data"]) as data:
        arrays = {name: data[name] for name in data.files}
    return config, StreamFormat(**config["format"]), arrays


def _write_result(name, result):
    Path(f"result_{name}.json").write_text(json.dumps(result, indent=1))


async def _reset(dut, cycles=3):
    await FallingEdge(dut.clk)
    dut.tb_rst.value = 1
    await ClockCycles(dut.clk, cycles, rising=False)
    dut.tb_rst.value = 0


def _idle_ports(dut, bulk):
    dut.bulk.value = int(bulk)
    dut.start.value = 0
    dut.in_gap.value = 0
    dut.out_gap.value = 0
    dut.seed.value = 1
    dut.tb_i_valid.value = 0
    dut.tb_i_payload.value = 0
    dut.tb_o_ready.value = 0


async def _ensure_weights(dut, config):
    """Load the weights through the harness once, for a loadable accelerator."""
    load = config.get("load")
    if not load:
        return
    dut.load_start.value = 0
    if int(dut.weights_loaded.value):
        return
    shutil.copyfile(load["path"], Path.cwd() / WEIGHTS_FILE)
    await FallingEdge(dut.clk)
    dut.load_start.value = 1
    await FallingEdge(dut.clk)
    dut.load_start.value = 0
    limit = load["writes"] + 100
    finished = await First(RisingEdge(dut.weights_loaded), Timer(10 * limit, "ns"))
    assert finished is not None and int(dut.weights_loaded.value), (
        f"the weight load of {load['writes']} writes did not finish in {limit} cycles")
    (Path.cwd() / WEIGHTS_FILE).unlink(missing_ok=True)


def _timeout_cycles(config, n_images, in_gap, out_gap):
    per_image = max(config["cycles_per_image"], config["beats_per_image"])
    slowdown = 1.0 / max(1e-3, (1 - in_gap / 256) * (1 - out_gap / 256))
    return int(4 * slowdown * (n_images * per_image + config["latency_cycles"])) + 10_000


async def _bulk(dut, name):
    config, fmt, arrays = _config()
    scenario = config["scenarios"][name]
    lo, hi = scenario["start"], scenario["stop"]
    images = arrays["images"][lo:hi]
    write_stimulus(Path.cwd(), images, fmt)
    _idle_ports(dut, bulk=True)
    dut.in_gap.value = scenario["in_gap"]
    dut.out_gap.value = scenario["out_gap"]
    dut.seed.value = scenario["seed"]
    await _reset(dut)
    await _ensure_weights(dut, config)
    await FallingEdge(dut.clk)
    dut.start.value = 1
    await FallingEdge(dut.clk)
    dut.start.value = 0
    limit = _timeout_cycles(config, len(images), scenario["in_gap"], scenario["out_gap"])
    wall = time.perf_counter()
    finished = await First(RisingEdge(dut.done), Timer(10 * limit, "ns"))
    wall = time.perf_counter() - wall
    await ReadOnly()
    responses = read_responses(Path.cwd(), fmt)
    cycles = int(dut.cycle.value.to_unsigned())
    result = compare_outputs(arrays["logits"][lo:hi], arrays["classes"][lo:hi],
                             responses.logits, responses.classes,
                             arrays["indices"][lo:hi], config["output_layer"])
    out = responses.out_cycles
    result.update({
        "scenario": name, "finished": finished is not None and bool(dut.done.value),
        "simulated_cycles": cycles, "wall_seconds": wall,
        "cycles_per_second": cycles / wall if wall > 0 else None,
        "cycles_per_image": (float(out[-1] - out[0]) / (len(out) - 1)) if len(out) > 1 else None,
        "latency_cycles": (int(out[0] - responses.in_cycles[0])
                           if len(out) and len(responses.in_cycles) else None),
    })
    _write_result(name, result)
    assert result["mismatches"] == 0, (
        f"{name}: {result['mismatches']} of {len(images)} images wrong; "
        f"{describe_mismatch(result['first_mismatch'])}")
    assert result["finished"], f"{name}: the harness did not finish within {limit} cycles"
    # Kept only for a failing run: for a large test set it is tens of megabytes.
    (Path.cwd() / STIMULUS_FILE).unlink(missing_ok=True)


async def _drive(dut, beats, n_outputs, rng, in_gap, out_gap, max_cycles, reset_after_beats=None):
    """Drive ``beats`` and collect ``n_outputs`` payloads from Python, cycle by cycle.

    Everything is changed at the falling edge and sampled after it settles
    (``ReadOnly``), so a handshake seen there is the one the next rising
    edge performs, on every simulator.

    Returns ``(outputs before a reset, outputs after it, cycles)``.
    """
    before, after = [], []
    outputs = before if reset_after_beats is not None else after
    index, valid, in_fire, out_fire, payload = 0, False, False, False, 0
    in_mask = (1 << len(dut.tb_i_payload)) - 1
    cycles = 0
    while (index < len(beats) or len(after) < n_outputs) and cycles < max_cycles:
        await FallingEdge(dut.clk)
        cycles += 1
        if in_fire:
            index += 1
            valid = False
        if out_fire:
            outputs.append(payload)
        if reset_after_beats is not None and index == reset_after_beats:
            # Reset in the middle of an image: whatever was in flight is dropped.
            dut.tb_i_valid.value = 0
            dut.tb_o_ready.value = 0
            dut.tb_rst.value = 1
            await ClockCycles(dut.clk, 2, rising=False)
            dut.tb_rst.value = 0
            reset_after_beats, outputs, valid = None, after, False
            in_fire = out_fire = False
            continue
        if not valid and index < len(beats) and rng.random() >= in_gap:
            valid = True
        dut.tb_i_valid.value = int(valid)
        # Garbage while not valid: the design must not look at it.
        dut.tb_i_payload.value = beats[index] if valid else rng.getrandbits(64) & in_mask
        ready = rng.random() >= out_gap
        dut.tb_o_ready.value = int(ready)
        await ReadOnly()
        in_fire = valid and bool(dut.tb_i_ready.value)
        out_fire = ready and bool(dut.tb_o_valid.value)
        if out_fire:
            payload = dut.tb_o_payload.value.to_unsigned()
    return before, after, cycles


async def _driven(dut, name, with_reset):
    config, fmt, arrays = _config()
    scenario = config["scenarios"][name]
    lo, hi = scenario["start"], scenario["stop"]
    rng = random.Random(scenario["seed"])
    images = arrays["images"][lo:hi]
    beats = encode_payload_ints(images, fmt)
    _idle_ports(dut, bulk=False)
    await _reset(dut)
    await _ensure_weights(dut, config)
    in_gap, out_gap = scenario["in_gap"] / 256, scenario["out_gap"] / 256
    expected = slice(lo, hi)
    reset_after = None
    if with_reset:
        # Image lo goes through whole, image lo+1 is cut at half; the images
        # from lo+2 on are sent again from a clean start.
        cut = fmt.beats_per_image + fmt.beats_per_image // 2
        reset_after = cut
        beats = beats[:cut] + beats[2 * fmt.beats_per_image:]
        expected = slice(lo + 2, hi)
    n_expected = expected.stop - expected.start
    limit = _timeout_cycles(config, len(images), scenario["in_gap"], scenario["out_gap"])
    before, after, cycles = await _drive(dut, beats, n_expected, rng, in_gap, out_gap, limit,
                                         reset_after_beats=reset_after)
    classes, logits = decode_payload_ints(after, fmt)
    result = compare_outputs(arrays["logits"][expected], arrays["classes"][expected],
                             logits, classes, arrays["indices"][expected],
                             config["output_layer"])
    result.update({"scenario": name, "simulated_cycles": cycles, "outputs_before_reset": 0})
    if with_reset:
        # Before the reset at most image lo can have come out, and only right.
        pre_classes, pre_logits = decode_payload_ints(before, fmt)
        pre = compare_outputs(arrays["logits"][lo:lo + len(before)],
                              arrays["classes"][lo:lo + len(before)], pre_logits, pre_classes,
                              arrays["indices"][lo:lo + len(before)], config["output_layer"])
        result["outputs_before_reset"] = len(before)
        if len(before) > 1 or pre["mismatches"]:
            result["mismatches"] += max(pre["mismatches"], len(before) - 1)
            result["first_mismatch"] = result["first_mismatch"] or pre["first_mismatch"]
    _write_result(name, result)
    assert result["mismatches"] == 0, (
        f"{name}: {result['mismatches']} mismatches; "
        f"{describe_mismatch(result['first_mismatch'])}")


@cocotb.test()
async def bulk_full_rate(dut):
    """Back-to-back images at full rate, from the stimulus file."""
    await _bulk(dut, "bulk_full_rate")


@cocotb.test()
async def bulk_random_gaps(dut):
    """Pseudo-random valid/ready gaps on both streams, from the stimulus file."""
    await _bulk(dut, "bulk_random_gaps")


@cocotb.test()
async def driven_random_gaps(dut):
    """Random gaps and garbage payloads driven from Python."""
    await _driven(dut, "driven_random_gaps", with_reset=False)


@cocotb.test()
async def reset_mid_image(dut):
    """A reset in the middle of an image, then correct results again."""
    await _driven(dut, "reset_mid_image", with_reset=True)
