"""A QTrain state and folding to a training bitstream for one board, with its report.

The same tools, steps and report as the inference build (:mod:`boards.build`),
around :class:`boards.train_top.TrainTop`: ``out_dir`` receives
``mulfree.bin``/``.bit``, ``report.json`` (LUT, FF, block RAM, SPRAM, DSP,
Fmax, the zero-multiplier check, and the trainer's cycles and samples/s),
``build.log`` and the tool inputs under ``gateware/``.

Members
-------
TrainPlatformTop
    Pins, clock and reset around the training board top.
build_training_bitstream
    The whole flow; returns the report.
"""

import json
from pathlib import Path

from boards import train_protocol as tp
from boards.build import (
    NAME,
    BuildError,
    TimingError,
    _place_and_route,
    _prepare,
    _run_tool,
    _tool_errors,
)
from boards.build_bounds import BuildBounds
from boards.netlist_fixups import tie_unused_write_clocks
from boards.place_progress import logic_cells
from boards.platform_top import PlatformTop
from boards.precheck import DoesNotFit
from boards.registry import get_board
from boards.report import format_table, load_json, make_report, synth_cell_counts
from boards.toolchain import toolchain_env
from boards.train_top import TrainTop
from golden_model.output_files import copy_file, write_text
from hdl.trainer.plan import plan_trainer

__all__ = ["TrainPlatformTop", "build_training_bitstream"]


class TrainPlatformTop(PlatformTop):
    """Everything that goes into one training bitstream.

    Parameters
    ----------
    board : boards.registry.Board
    plan : hdl.trainer.plan.TrainerPlan
    target_hz : float
        Wanted clock (the PLL's nearest is used; see ``clock_hz``).
    baud : int
    """

    def __init__(self, board, plan, target_hz, baud):
        self._clock_and_uart(board, target_hz, baud)
        self.engine = TrainTop(plan, divisor=self.divisor, clock_hz=round(self.clock_hz),
                               timeout_cycles=self.timeout_cycles, n_leds=len(board.leds))


def build_training_bitstream(state, folding, board, out_dir=None, *, clock_mhz=None, baud=None,
                             seed=None, routers=("router1", "router2"), bounds=None,
                             allow_timing_miss=False, log=print, spram=()):
    """Build the training bitstream of ``state`` at ``folding`` for ``board``.

    Parameters
    ----------
    state : QTrainState
        Fixes the network and the QTrain parameters (not the learned values,
        which ``mulfree learn --board`` loads).
    folding : sequence of (PE, SIMD)
    spram : iterable of int
        Layers whose shadows go to SPRAM (iCE40 UP; :func:`hdl.trainer.plan.plan_trainer`);
        ``TRAIN_INFO`` tells the host.
    board : str or boards.registry.Board
    out_dir : path, optional
        Default ``build/<board>-train``.
    clock_mhz : float, optional
        Default the board's ``target_hz``.
    allow_timing_miss : bool
        Return the report (with the achieved Fmax) instead of raising
        :class:`~boards.build.TimingError` when the clock is missed.

    Raises
    ------
    TrainerPlanError, BuildError, TimingError
    """
    board = get_board(board) if isinstance(board, str) else board
    plan = plan_trainer(state, folding, spram)
    out_dir = Path(out_dir or Path("build") / f"{board.name}-train")
    target_hz = board.target_hz if clock_mhz is None else float(clock_mhz) * 1e6
    baud = board.baud if baud is None else int(baud)
    env, tools = toolchain_env(board.family)
    bounds = bounds or BuildBounds()
    top = TrainPlatformTop(board, plan, target_hz, baud)
    sizes = "-".join(str(n) for n in [plan.n_inputs] + [lp.n_out for lp in plan.layers])
    design = f"the {board.name} trainer of {sizes} at folding {list(folding)}"
    log(f"{board.name}: {design}, clock {top.clock_hz / 1e6:g} MHz, UART {baud} baud, "
        f"{plan.cycles_per_sample} cycles per sample")
    gateware, steps = _prepare(board, top, out_dir, env, tools)
    log_lines = []
    by_tool = {step.tool: step for step in steps}
    pnr_tool = f"nextpnr-{board.family}"

    def fail(error_class, message):
        write_text(out_dir / "build.log", "\n".join(log_lines))
        raise error_class(f"{message}; see {out_dir / 'build.log'}")

    synth = _run_tool(by_tool["yosys"], gateware, env, bounds.synth_s, log_lines)
    if synth.outcome != "ok":
        errors = _tool_errors("\n".join(log_lines))
        fail(BuildError, f"{board.name}: synthesis (yosys) of {design} {synth.outcome} "
                         f"({'; '.join(errors[:3]) or 'exit code ' + str(synth.returncode)})")
    if board.family == "ice40":
        tie_unused_write_clocks(gateware / f"{NAME}.json")
    attempts = []
    for router in routers:
        run, tool_log, in_placement = _place_and_route(by_tool[pnr_tool], gateware, env,
                                                       bounds, seed, router)
        attempts.append(f"{router}: {run.outcome} after {run.seconds:.0f} s"
                        + (f" ({run.detail})" if run.outcome in ("stalled", "timeout") else ""))
        log_lines.append(f"===== {pnr_tool} {router} {run.outcome}\n{run.output}\n{tool_log}")
        if run.outcome == "ok":
            break
        if run.outcome != "failed" and in_placement:
            # Stopped in placement: another router cannot help (build.py says why).
            cells = logic_cells(tool_log)
            used = (f", {cells[1]:,} of {cells[2]:,} logic cells ({cells[0]})"
                    if cells else "")
            fail(DoesNotFit, f"{board.name}: nextpnr could not place {design} "
                             f"({attempts[-1]}{used}); the design is too full to place: "
                             "fold it further or pick a larger board")
        if run.outcome == "failed":
            errors = _tool_errors(run.output + "\n" + tool_log)
            fail(BuildError, f"{board.name}: place-and-route of {design} failed "
                             f"({'; '.join(errors[:3]) or 'no error line'})")
    else:
        fail(BuildError, f"{board.name}: place-and-route of {design} did not complete "
                         f"({'; '.join(attempts)})")
    pack_tool = next(step.tool for step in steps if step.tool not in ("yosys", pnr_tool))
    pack = _run_tool(by_tool[pack_tool], gateware, env, bounds.pack_s, log_lines)
    if pack.outcome != "ok":
        fail(BuildError, f"{board.name}: packing the bitstream ({pack_tool}) {pack.outcome}")
    write_text(out_dir / "build.log", "\n".join(log_lines))

    estimate = {"cycles_per_sample": plan.cycles_per_sample,
                "compute_cycles": plan.compute_cycles, "memory_bits": plan.memory_bits}
    report = make_report(
        board=board, pnr=load_json(gateware / "pnr_report.json"),
        synth_counts=synth_cell_counts(load_json(gateware / "synth_stat.json")),
        clock_hz=top.clock_hz, baud=baud, cycles_per_image=plan.cycles_per_sample,
        latency_cycles=plan.cycles_per_sample, estimate=estimate,
        fingerprint=tp.plan_fingerprint(plan).hex(), tools=tools)
    achieved = report["clock"]["achieved_mhz"]
    report["trainer"] = {
        "sizes": sizes, "folding": [list(pair) for pair in folding],
        "cycles_per_sample": plan.cycles_per_sample,
        "samples_per_s": round(top.clock_hz / plan.cycles_per_sample, 1),
        "samples_per_s_at_fmax": (round(achieved * 1e6 / plan.cycles_per_sample, 1)
                                  if achieved else None),
        "place_and_route": attempts}
    report_path = out_dir / "report.json"
    write_text(report_path, json.dumps(report, indent=2, sort_keys=True) + "\n")
    bitstream = out_dir / f"{NAME}.{board.bitstream_ext}"
    copy_file(gateware / f"{NAME}.{board.bitstream_ext}", bitstream)
    report["bitstream"] = str(bitstream)
    log(format_table(report).replace("per image", "per sample").replace("images/s", "samples/s"))
    if not report["multiplier_free"]["ok"]:
        raise BuildError(f"{board.name}: the netlist holds hard multipliers "
                         f"{report['multiplier_free']['hard_multiplier_cells']}; "
                         "a mulfree design must have none")
    if not report["clock"]["met"] and not allow_timing_miss:
        raise TimingError(f"{board.name}: timing missed: {achieved} MHz achieved, "
                          f"{report['clock']['requested_mhz']} MHz requested (report in "
                          f"{report_path})")
    return report
