"""The engine alone on a board: LUTs, block RAMs, Fmax and images/s without the UART.

The board top (:mod:`boards.board_top`) feeds one pixel per beat, so a 784-pixel
image takes at least 784 cycles there whatever the folding. This bitstream
measures the engine itself at ``--in-lanes`` pixels per beat: the accelerator
runs back to back on pseudo-random pixels from a 32-bit LFSR (every input
beat always valid, every answer always taken) and folds every answer (class
and logits) into a checksum on the LEDs, so that no part of it is optimised
away. Synthesis and place-and-route are those of ``mulfree build`` (YoWASP,
the board's PLL clock); the weights are the random ternary 784-256-256-10 of
``bench/boards.py``.

Usage::

    .venv/bin/python bench/engine_bitstream.py \\
        --board ulx3s-85f --folding 64x16 8x64 1x16 --in-lanes 4 [--clock 100] \\
        [--placer heap] [--router router2]
"""

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from boards.build import _place_and_route, _prepare, _run_tool  # noqa: E402
from boards.build_bounds import BuildBounds  # noqa: E402
from boards.place_progress import PLACERS  # noqa: E402
from boards.platform_top import PlatformTop  # noqa: E402
from boards.registry import get_board  # noqa: E402
from boards.report import clock_figures, load_json, synth_cell_counts, utilisation  # noqa: E402
from boards.toolchain import toolchain_env  # noqa: E402
from golden_model.output_files import write_json  # noqa: E402
from hdl.accelerator import Accelerator  # noqa: E402

LFSR_TAPS = 0x80200003  # x^32 + x^22 + x^2 + x + 1, maximal length


class EngineBench(wiring.Component):
    """An accelerator fed pseudo-random pixels at full rate; its answers go to a checksum.

    Members
    -------
    rx : In(1)
        Unused (the platform top connects the UART).
    tx : Out(1)
        Parity of the checksum.
    leds : Out(n_leds)
        Low bits of the checksum.
    """

    def __init__(self, accelerator, n_leds):
        self._accelerator = accelerator
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1),
                          "leds": Out(max(1, n_leds))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.accelerator = acc = self._accelerator
        width = len(acc.i.payload.as_value())
        lfsr = Signal(max(32, width), init=1)
        # Wider inputs than one LFSR step gives: the register shifts by 32 bits a beat.
        m.d.comb += [acc.i.valid.eq(1), acc.i.payload.eq(lfsr[:width]), acc.o.ready.eq(1)]
        with m.If(acc.i.ready):
            state = lfsr[:32]
            for step in range(32):
                # A signal per step: the expression would double in size with each one.
                nxt = Signal(32, name=f"lfsr_step{step}")
                m.d.comb += nxt.eq(_lfsr_step(state))
                state = nxt
            m.d.sync += lfsr.eq(Cat(state, lfsr[:len(lfsr) - 32]))
        answer = acc.o.payload.as_value()
        checksum = Signal(32)
        with m.If(acc.o.valid):
            folded = checksum.rotate_left(1)
            for start in range(0, len(answer), 32):
                folded = folded ^ answer[start:start + 32]
            m.d.sync += checksum.eq(folded)
        m.d.comb += [self.tx.eq(checksum.xor()),
                     self.leds.eq(checksum[:len(self.leds)])]
        return m


def _lfsr_step(state):
    """One step of a Galois LFSR over a 32-bit value."""
    shifted = state >> 1
    return shifted ^ (Cat(*([state[0]] * 32)) & LFSR_TAPS)


def _bench_boards():
    """``bench/boards.py`` (its name is taken by the ``boards`` package)."""
    spec = importlib.util.spec_from_file_location("bench_boards",
                                                  Path(__file__).with_name("boards.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class EngineTop(PlatformTop):
    """The board's clock and pins around :class:`EngineBench`."""

    def __init__(self, board, accelerator, target_hz):
        self._clock_and_uart(board, target_hz, board.baud)
        self.engine = EngineBench(accelerator, len(board.leds))


def build(board_name, folding, in_lanes, clock_mhz, out_dir, seed=None, placer="heap",
          router="router2", log=print):
    """Synthesise, place and route the engine alone; return the measured figures."""
    board = get_board(board_name)
    qnet = _bench_boards().random_qnet((784, 256, 256, 10), 8)
    accelerator = Accelerator(qnet, folding=folding, in_lanes=in_lanes)
    estimate = accelerator.estimate()
    top = EngineTop(board, accelerator, clock_mhz * 1e6)
    env, tools = toolchain_env(board.family)
    log(f"{board.name}: folding {folding}, in_lanes {in_lanes}, "
        f"{estimate['cycles_per_image']} cycles/image, ~{estimate['totals']['lut']} LUT "
        f"estimated, clock {top.clock_hz / 1e6:g} MHz")
    gateware, steps = _prepare(board, top, out_dir, env, tools)
    by_tool = {step.tool: step for step in steps}
    log_lines = []
    started = time.perf_counter()
    synth = _run_tool(by_tool["yosys"], gateware, env, 3600, log_lines)
    synth_s = time.perf_counter() - started
    (out_dir / "build.log").write_text("\n".join(log_lines))
    log(f"synthesis: {synth.outcome} in {synth_s:.0f} s")
    counts = synth_cell_counts(load_json(gateware / "synth_stat.json"))
    row = {"board": board.name, "folding": [list(f) for f in folding], "in_lanes": in_lanes,
           "placer": placer, "router": router,
           "cycles_per_image": estimate["cycles_per_image"],
           "estimated_lut": estimate["totals"]["lut"], "synth_s": round(synth_s),
           "synth_cells": counts}
    if synth.outcome != "ok":
        row["status"] = f"synthesis {synth.outcome}"
        return row
    started = time.perf_counter()
    run, tool_log, in_placement = _place_and_route(
        by_tool[f"nextpnr-{board.family}"], gateware, env,
        # HeAP places this design in 2 minutes, then its annealing refinement takes 23
        # minutes a line every minute or so; with a reset per MAC lane (before the ECP5
        # leaves zeroed by a mask) both placers' legalisers sat silent for over 40 minutes.
        BuildBounds(pnr_s=3 * 3600, route_stall_s=600, place_stall_s=1800), seed, router,
        placer)
    row["pnr_s"] = round(time.perf_counter() - started)
    (out_dir / "nextpnr.log").write_text(run.output + "\n" + tool_log)
    row["status"] = f"place-and-route {run.outcome}" + (" (in placement)" if in_placement
                                                         else "")
    report = gateware / "pnr_report.json"
    if report.exists():
        pnr = load_json(report)
        row["resources"] = utilisation(pnr, counts, board)
        achieved, constraint = clock_figures(pnr)
        row["fmax_mhz"] = achieved and round(achieved / 1e6, 1)
        row["requested_mhz"] = constraint and round(constraint / 1e6, 1)
        if achieved:
            hz = min(achieved, top.clock_hz)
            row["images_per_s"] = round(hz / estimate["cycles_per_image"])
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="ulx3s-85f")
    parser.add_argument("--folding", nargs="+",
                        help="PExSIMD per layer (default: bench/boards.py's ENGINE_FOLDINGS)")
    parser.add_argument("--in-lanes", type=int,
                        help="pixels per beat (default: bench/boards.py's ENGINE_FOLDINGS)")
    parser.add_argument("--clock", type=float, default=100.0, help="MHz")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--placer", choices=PLACERS, default="heap",
                        help="nextpnr placer (default heap, nextpnr's own)")
    parser.add_argument("--router", choices=("router1", "router2"), default="router2")
    parser.add_argument("--out", default="build/bench/engine")
    args = parser.parse_args(argv)
    default_folding, default_lanes = _bench_boards().ENGINE_FOLDINGS.get(
        (args.board, "mlp784"), (None, 1))
    if not (args.folding or default_folding):
        parser.error(f"--folding: required for {args.board} (no ENGINE_FOLDINGS entry)")
    folding = ([tuple(int(v) for v in text.split("x")) for text in args.folding]
               if args.folding else default_folding)
    in_lanes = args.in_lanes or default_lanes
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    row = build(args.board, folding, in_lanes, args.clock, out_dir, args.seed, args.placer,
                args.router)
    print(json.dumps({k: v for k, v in row.items() if k != "synth_cells"}, indent=1))
    write_json(out_dir / "summary.json", row, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
