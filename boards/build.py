"""QNet to bitstream for one board, with its report.

``build/<board>/`` receives ``mulfree.bin`` (iCE40) or ``mulfree.bit``
(ECP5), ``report.json``, ``build.log`` and the tool inputs under
``gateware/``. The build fails, with a message naming the cause, when the
pre-check says the design cannot fit, when place-and-route runs out of a
resource, when the netlist holds a hard multiplier, or when the clock is
missed.

Members
-------
build_bitstream
    The whole flow; returns the report.
BuildError, TimingError
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

from boards.memory_plan import block_ram_budget, plan_memory
from boards.platform_top import PlatformTop
from boards.precheck import DoesNotFit, precheck
from boards.registry import get_board
from boards.report import format_table, load_json, make_report, synth_cell_counts
from boards.toolchain import toolchain_env
from golden_model.errors import MulfreeError
from golden_model.output_files import copy_file, write_text

NAME = "mulfree"

#: nextpnr cell type -> the resource a user knows it as.
_CELL_NAMES = {"ICESTORM_LC": "LUT", "ICESTORM_RAM": "block RAM", "ICESTORM_SPRAM": "SPRAM",
               "ICESTORM_DSP": "DSP", "TRELLIS_COMB": "LUT", "TRELLIS_SLICE": "LUT",
               "TRELLIS_FF": "FF", "DP16KD": "block RAM", "SB_IO": "I/O", "TRELLIS_IO": "I/O"}


class BuildError(MulfreeError):
    """Synthesis or place-and-route failed, or the netlist breaks a rule."""


class TimingError(BuildError):
    """The design does not meet the requested clock."""


def _tool_errors(log):
    return [line.strip() for line in log.splitlines() if line.lstrip().startswith("ERROR")]


def _out_of_resource(errors):
    for line in errors:
        for cell, name in _CELL_NAMES.items():
            if cell in line and re.search(r"(no BELs remaining|device only has|only \d+|"
                                          r"insufficient|too many|not enough|exceed)",
                                          line, re.IGNORECASE):
                return name
    return None


#: nextpnr's message when its legaliser gives up, which depends on the placement seed.
_UNPLACEABLE = "Unable to find legal placement"


def _synthesise_place_route(board, top, out_dir, env, seed):
    """Write the tool inputs under ``out_dir/gateware`` and run the build script once."""
    pnr_opts = ["--report", "pnr_report.json", "--timing-allow-fail"]
    if seed is not None:
        pnr_opts += ["--seed", str(int(seed))]
    plan = board.make_platform().prepare(
        top, name=NAME,
        # -dsp lets Yosys map any multiplier to SB_MAC16, where the check below sees it.
        synth_opts="-dsp" if board.family == "ice40" else "",
        nextpnr_opts=" ".join(pnr_opts),
        script_after_synth="tee -q -o synth_stat.json stat -json")
    gateware = out_dir / "gateware"
    if gateware.exists():
        shutil.rmtree(gateware)
    plan.extract(str(gateware))
    run = subprocess.run(["sh", f"build_{NAME}.sh"], cwd=gateware, env=env,
                         capture_output=True, text=True)
    build_log = run.stdout + run.stderr
    for name in (f"{NAME}.rpt", f"{NAME}.tim"):  # Yosys and nextpnr logs
        if (gateware / name).exists():
            build_log += f"\n===== {name}\n" + (gateware / name).read_text(errors="replace")
    return run, build_log, gateware


def build_bitstream(qnet, board, out_dir=None, *, clock_mhz=None, baud=None, folding=None,
                    weight_store="auto", lut_budget=None, accelerator=None, seed=None,
                    placement_attempts=3, log=print):
    """Build a bitstream of ``qnet`` for ``board``.

    Parameters
    ----------
    qnet : QNet
    board : str or boards.registry.Board
    out_dir : path, optional
        Default ``build/<board>``.
    clock_mhz : float, optional
        Accelerator clock; default the board's (``Board.target_hz``).
    baud : int, optional
        UART rate; default the board's.
    folding : optional
        Passed to the Accelerator (None, ``"auto"`` or ``[(pe, simd), ...]``).
    weight_store : "auto", str or list of str
        Where the weights live (:data:`hdl.layer_plan.WEIGHT_STORES`);
        ``"auto"`` keeps them in block RAM when they fit and otherwise moves
        the largest layers to SPRAM (:func:`boards.memory_plan.plan_memory`),
        whose weights ``mulfree run`` then loads over the UART.
    lut_budget : int, optional
        For ``folding="auto"``.
    accelerator : wiring.Component, optional
        A ready accelerator (overrides ``folding``).
    seed : int, optional
        nextpnr placement seed.
    placement_attempts : int
        When nextpnr cannot legalise the placement (which, near full
        utilisation, depends on the seed), the build is retried with the next
        seeds, this many attempts in all.
    log : callable
        Receives progress lines.

    Returns
    -------
    dict
        The report (also written to ``out_dir/report.json``).

    Raises
    ------
    DoesNotFit, BuildError, TimingError
    """
    board = get_board(board) if isinstance(board, str) else board
    out_dir = Path(out_dir or Path("build") / board.name)
    target_hz = board.target_hz if clock_mhz is None else float(clock_mhz) * 1e6
    baud = board.baud if baud is None else int(baud)
    env, tools = toolchain_env(board.family)

    if accelerator is None:
        from hdl.accelerator import Accelerator
        if isinstance(weight_store, str) and weight_store == "auto":
            memory = plan_memory(qnet, board, folding, lut_budget=lut_budget)
            weight_store, folding = memory.weight_store, memory.folding
            log(f"{board.name}: weights: {memory.reason}")
        accelerator = Accelerator(qnet, folding=folding, lut_budget=lut_budget,
                                  bram_budget={board.family: block_ram_budget(qnet, board)},
                                  weight_store=weight_store)
    estimate = accelerator.estimate()
    precheck(estimate, board)

    top = PlatformTop(board, qnet, target_hz, baud, accelerator=accelerator)
    log(f"{board.name}: clock {top.clock_hz / 1e6:g} MHz, UART {baud} baud, "
        f"folding {getattr(accelerator, 'folding', '?')}, "
        f"~{estimate['totals']['lut']} LUT estimated")
    log(f"{board.name}: synthesis and place-and-route in {out_dir / 'gateware'} "
        f"({', '.join(f'{tool}={source}' for tool, (_, source) in tools.items())})")
    seeds = [seed] + [(1 if seed is None else int(seed)) + k
                      for k in range(1, max(1, int(placement_attempts)))]
    for attempt, current in enumerate(seeds):
        run, build_log, gateware = _synthesise_place_route(board, top, out_dir, env, current)
        last = attempt == len(seeds) - 1
        if run.returncode == 0 or _UNPLACEABLE not in build_log or last:
            break
        # Near full utilisation, nextpnr's legaliser fails for some placement seeds only.
        log(f"{board.name}: nextpnr could not legalise the placement "
            f"(seed {'default' if current is None else current}); "
            f"trying seed {seeds[attempt + 1]}")
    write_text(out_dir / "build.log", build_log)
    if run.returncode != 0:
        errors = _tool_errors(build_log)
        resource = _out_of_resource(errors)
        if resource:
            raise DoesNotFit(f"{board.name}: place-and-route ran out of {resource} "
                             f"({errors[0]}); see {out_dir / 'build.log'}")
        tail = build_log.strip().splitlines()[-1:] or ["no output"]
        detail = "; ".join(errors[:3]) or tail[0]
        raise BuildError(f"{board.name}: the build failed ({detail}); "
                         f"see {out_dir / 'build.log'}")

    report = make_report(
        board=board, pnr=load_json(gateware / "pnr_report.json"),
        synth_counts=synth_cell_counts(load_json(gateware / "synth_stat.json")),
        clock_hz=top.clock_hz, baud=baud,
        cycles_per_image=estimate["cycles_per_image"],
        latency_cycles=estimate["latency_cycles"], estimate=estimate,
        fingerprint=qnet.fingerprint(), tools=tools)
    load_map = getattr(accelerator, "load_map", None)
    slices = load_map.total_slices if load_map is not None else 0
    report["nextpnr_seed"] = current
    report["weights"] = {"store": list(getattr(accelerator, "weight_stores", [])),
                         "load_slices": int(slices), "load_bytes": int(2 * slices)}
    report_path = out_dir / "report.json"
    write_text(report_path, json.dumps(report, indent=2, sort_keys=True) + "\n")
    bitstream = out_dir / f"{NAME}.{board.bitstream_ext}"
    copy_file(gateware / f"{NAME}.{board.bitstream_ext}", bitstream)
    report["bitstream"] = str(bitstream)
    log(format_table(report))

    if not report["multiplier_free"]["ok"]:
        raise BuildError(f"{board.name}: the netlist holds hard multipliers "
                         f"{report['multiplier_free']['hard_multiplier_cells']}; "
                         "a mulfree design must have none")
    if not report["clock"]["met"]:
        raise TimingError(
            f"{board.name}: timing missed: {report['clock']['achieved_mhz']} MHz achieved, "
            f"{report['clock']['requested_mhz']} MHz requested; build with --clock "
            f"{int(report['clock']['achieved_mhz'])} or fold the network differently "
            f"(report in {report_path})")
    return report
