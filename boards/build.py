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
from dataclasses import asdict, dataclass
from pathlib import Path

from boards.bounded_run import run_bounded
from boards.build_bounds import BuildBounds
from boards.build_script import script_steps
from boards.link_rate import link_bound
from boards.memory_plan import block_ram_budget, plan_memory
from boards.netlist_fixups import tie_unused_write_clocks
from boards.place_progress import DEFAULT_PLACER, DEFAULT_PLACERS, PLACERS, PnrWatch, logic_cells
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


#: Failures another placement seed may avoid (legaliser, router giving up).
_SEED_DEPENDENT = re.compile(r"(Unable to find legal placement|[Ff]ailed to route)")
#: The router that ran, from nextpnr's log.
_ROUTER_RAN = re.compile(r"Info: (Router[12]) time")


@dataclass
class PnrAttempt:
    """One place-and-route attempt: its options and how it ended (for the report)."""

    router: str
    seed: int | None
    outcome: str
    seconds: float
    detail: str = ""
    placer: str = DEFAULT_PLACER

    def describe(self):
        seed = "default" if self.seed is None else self.seed
        placer = "" if self.placer == DEFAULT_PLACER else f", {self.placer} placer"
        text = f"{self.router} seed {seed}{placer}: {self.outcome} after {self.seconds:.0f} s"
        return text + (f" ({self.detail})" if self.detail else "")


def _prepare(board, top, out_dir, env, tools):
    """Write the tool inputs under ``out_dir/gateware``; returns it and the script's steps."""
    plan = board.make_platform().prepare(
        top, name=NAME,
        # -dsp lets Yosys map any multiplier to SB_MAC16, where the check below sees it.
        synth_opts="-dsp" if board.family == "ice40" else "",
        nextpnr_opts="--report pnr_report.json --timing-allow-fail",
        script_after_synth="tee -q -o synth_stat.json stat -json")
    gateware = out_dir / "gateware"
    if gateware.exists():
        shutil.rmtree(gateware)
    plan.extract(str(gateware))
    script = (gateware / f"build_{NAME}.sh").read_text()
    return gateware, script_steps(script, env, tools)


def _run_tool(step, gateware, env, timeout_s, log_lines):
    """Run a synthesis or packing step within its bound; raise BuildError if it fails."""
    run = run_bounded(list(step.argv), cwd=gateware, env=env, timeout_s=timeout_s)
    log_lines.append(f"===== {step.tool} ({run.outcome}, {run.seconds:.1f} s)\n{run.output}")
    for name in (f"{NAME}.rpt",):  # Yosys's own log
        if step.tool == "yosys" and (gateware / name).exists():
            log_lines.append(f"===== {name}\n" + (gateware / name).read_text(errors="replace"))
    return run


def _place_and_route(step, gateware, env, bounds, seed, router, placer=None):
    """One nextpnr attempt with a wall-clock bound and placement and route-stall watches."""
    options = []
    if seed is not None:
        options += ["--seed", str(int(seed))]
    if router is not None:
        options += ["--router", router]
    if placer is not None and placer != DEFAULT_PLACER:
        options += ["--placer", placer]
    log_name = step.option("--log") or f"{NAME}.tim"
    if (gateware / log_name).exists():
        (gateware / log_name).unlink()
    watch = PnrWatch(bounds.place_stall_s, bounds.stall_s(router or "router1"))
    run = run_bounded(list(step.with_options(*options).argv), cwd=gateware, env=env,
                      timeout_s=bounds.pnr_s, log_path=log_name, watch=watch)
    tool_log = (gateware / log_name).read_text(errors="replace") \
        if (gateware / log_name).exists() else ""
    return run, tool_log, watch.in_placement


def _pnr_plan(seed, placement_attempts, routers):
    seeds = [seed] + [(1 if seed is None else int(seed)) + k
                      for k in range(1, max(1, int(placement_attempts)))]
    return seeds, list(routers)


def check_placers(placers):
    """The placers to try, checked before any work: a non-empty sequence of :data:`PLACERS`."""
    placers = [placers] if isinstance(placers, str) else list(placers)
    unknown = [name for name in placers if name not in PLACERS]
    if not placers or unknown:
        raise MulfreeError(f"placer: expected one or more of {', '.join(PLACERS)}, not "
                           f"{', '.join(map(repr, unknown)) or 'none'}")
    if len(set(placers)) != len(placers):
        raise MulfreeError(f"placer: each placer once, not {', '.join(placers)}")
    return placers


def check_max_batch(qnet, max_batch, explicit=True):
    """``max_batch`` if a frame of ``qnet``'s images holds it; a default is cut to what
    one holds, an explicit one refused (naming ``--max-batch``)."""
    from boards.protocol import Layout

    most = Layout.of(qnet).frame_batch
    if not explicit:
        return max(1, min(int(max_batch), most))
    if not 1 <= int(max_batch) <= most:
        raise MulfreeError(f"--max-batch {max_batch}: expected 1 to {most} (the images of "
                           f"{Layout.of(qnet).image_bytes} bytes one request frame holds)")
    return int(max_batch)


def check_in_lanes(qnet, in_lanes):
    """``in_lanes`` if the board top can feed that many of ``qnet``'s pixels a beat: 1 to
    the image's pixels (more would only leave lanes empty), and for a convolution first a
    divisor of its input channels (a beat holds channels of one pixel); refused naming
    ``--in-lanes`` otherwise."""
    from golden_model.qnet import QConv2D

    n_inputs = qnet.input.n_inputs
    if isinstance(in_lanes, bool) or not isinstance(in_lanes, int) \
            or not 1 <= in_lanes <= n_inputs:
        raise MulfreeError(f"--in-lanes {in_lanes}: expected 1 to {n_inputs} (the pixels of "
                           f"one image of this QNet) pixels per beat")
    first = qnet.layers[0]
    if isinstance(first, QConv2D) and first.in_shape[2] % in_lanes:
        raise MulfreeError(f"--in-lanes {in_lanes}: expected a divisor of the first "
                           f"convolution's {first.in_shape[2]} input channel(s) (a beat "
                           f"holds channels of one pixel)")
    return in_lanes


def build_bitstream(qnet, board, out_dir=None, *, clock_mhz=None, baud=None, folding=None,
                    weight_store="auto", lut_budget=None, accelerator=None, seed=None,
                    placement_attempts=3, routers=("router1", "router2"),
                    placers=DEFAULT_PLACERS, bounds=None, bench=False, images=1,
                    check_estimate=True, max_batch=None, in_lanes=1, log=print):
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
    routers : sequence of str
        The nextpnr routers tried in turn for each seed when routing stalls or
        exceeds its bound (router1 is nextpnr's default).
    placers : sequence of str
        The nextpnr placers (:data:`PLACERS`) tried in turn when placement
        stalls, at the same seed; a placer that stalled is not tried again at
        the next seeds. HeAP (nextpnr's default) printed nothing for 40 minutes
        on the ECP5-85F engine of ``bench/engine_bitstream.py`` while it had a
        reset per MAC lane, where the electrostatic placer (``static``) printed
        an iteration every second or two until its legaliser.
    bounds : BuildBounds, optional
        Time bounds of synthesis, each place-and-route attempt, routing
        without progress, and packing (default :class:`BuildBounds`).
    bench : bool
        Build the board's ``BENCH`` (protocol version 3). Off by default: it
        costs about 700 iCE40 LUTs, and with it the UP5K 784-256-256-10 design
        no longer places.
    images : int
        Images in flight per layer (:func:`hdl.accelerator_plan.plan_accelerator`).
    check_estimate : bool
        Refuse a design whose estimate exceeds the device before synthesis
        (default). False runs synthesis and place-and-route anyway, to measure
        how far over the device a design is.
    max_batch : int, optional
        Images per ``INFER_BATCH``; default the board's (``Board.max_batch``),
        at most what a frame of this QNet holds. 1 without ``bench`` gives the
        protocol version 2 top (one image per request), the smallest.
    in_lanes : int
        Pixels the board top feeds the accelerator per beat (``ceil(n_inputs /
        in_lanes)`` beats an image; the automatic folding keeps up with them).
        Ignored with ``accelerator``, which has its own.
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
    placers = check_placers(placers)
    target_hz = board.target_hz if clock_mhz is None else float(clock_mhz) * 1e6
    baud = board.baud if baud is None else int(baud)
    env, tools = toolchain_env(board.family)
    bounds = bounds or BuildBounds()
    max_batch = check_max_batch(qnet, board.max_batch if max_batch is None else max_batch,
                                explicit=max_batch is not None)
    if accelerator is None:
        in_lanes = check_in_lanes(qnet, in_lanes)
        from hdl.accelerator import Accelerator
        from hdl.accelerator_plan import plan_accelerator
        if isinstance(weight_store, str) and weight_store == "auto":
            memory = plan_memory(qnet, board, folding, lut_budget=lut_budget,
                                 max_batch=max_batch, bench=bench, in_lanes=in_lanes)
            weight_store, folding = memory.weight_store, memory.folding
            log(f"{board.name}: weights: {memory.reason}")
        plan = plan_accelerator(qnet, folding=folding, in_lanes=in_lanes, lut_budget=lut_budget,
                                bram_budget={board.family: block_ram_budget(
                                    qnet, board, max_batch, bench, in_lanes)},
                                weight_store=weight_store, images=images)
        estimate = plan.report()
        if check_estimate:
            precheck(estimate, board)
        accelerator = Accelerator.from_plan(plan)
    else:
        estimate = accelerator.estimate()
        if check_estimate:
            precheck(estimate, board)

    top = PlatformTop(board, qnet, target_hz, baud, accelerator=accelerator, bench=bench,
                      max_batch=max_batch)
    lanes = getattr(accelerator, "in_lanes", 1)
    log(f"{board.name}: clock {top.clock_hz / 1e6:g} MHz, UART {baud} baud, "
        f"folding {getattr(accelerator, 'folding', '?')}, {lanes} pixel(s) per beat, "
        f"~{estimate['totals']['lut']} LUT estimated")
    log(f"{board.name}: synthesis and place-and-route in {out_dir / 'gateware'} "
        f"({', '.join(f'{tool}={source}' for tool, (_, source) in tools.items())})")
    gateware, steps = _prepare(board, top, out_dir, env, tools)
    design = (f"the {board.name} design (QNet {qnet.fingerprint()[:16]}, folding "
              f"{getattr(accelerator, 'folding', '?')})")
    log_lines = []
    pnr_tool = f"nextpnr-{board.family}"
    by_tool = {step.tool: step for step in steps}

    def fail(error_class, message):
        write_text(out_dir / "build.log", "\n".join(log_lines))
        raise error_class(f"{message}; see {out_dir / 'build.log'}")

    synth = _run_tool(by_tool["yosys"], gateware, env, bounds.synth_s, log_lines)
    if synth.outcome == "timeout":
        fail(BuildError, f"{board.name}: synthesis (yosys) of {design} did not finish "
                         f"within its bound of {bounds.synth_s:g} s")
    if synth.outcome != "ok":
        errors = _tool_errors("\n".join(log_lines))
        fail(BuildError, f"{board.name}: synthesis (yosys) failed "
                         f"({'; '.join(errors[:3]) or 'exit code ' + str(synth.returncode)})")
    if board.family == "ice40":
        tied = tie_unused_write_clocks(gateware / f"{NAME}.json")
        if tied:
            log(f"{board.name}: {len(tied)} read-only block RAMs: write clock tied to the read "
                "clock (no constant clock net)")

    seeds, routers = _pnr_plan(seed, placement_attempts, routers)
    attempts = []
    done = False
    placement_stalls = 0
    for current in seeds:
        k = 0
        while k < len(routers):
            router, placer = routers[k], placers[0]
            run, tool_log, in_placement = _place_and_route(by_tool[pnr_tool], gateware, env,
                                                           bounds, current, router, placer)
            ran = _ROUTER_RAN.search(tool_log)
            name = router or (ran.group(1).lower() if ran else "default router")
            attempt = PnrAttempt(name, current, run.outcome, run.seconds,
                                 run.detail if run.outcome in ("stalled", "timeout") else "",
                                 placer)
            attempts.append(attempt)
            log_lines.append(f"===== {pnr_tool} {attempt.describe()}\n{run.output}\n"
                             f"===== {NAME}.tim\n{tool_log}")
            k += 1
            if run.outcome == "ok":
                done = True
                break
            if run.outcome == "failed":
                errors = _tool_errors(run.output + "\n" + tool_log)
                resource = _out_of_resource(errors)
                if resource:
                    fail(DoesNotFit, f"{board.name}: place-and-route ran out of {resource} "
                                     f"({errors[0]})")
                if not any(_SEED_DEPENDENT.search(line) for line in errors):
                    tail = (run.output.strip().splitlines() or ["no output"])[-1]
                    fail(BuildError, f"{board.name}: the build failed "
                                     f"({'; '.join(errors[:3]) or tail})")
                # Near full utilisation, nextpnr's legaliser fails for some placement
                # seeds only: another router will not help, another seed may.
                log(f"{board.name}: nextpnr could not place or route {design} "
                    f"({attempt.describe()}); trying the next seed")
                break
            if in_placement:
                # The legaliser of a design too full to place prints nothing for hours, and
                # HeAP's first iteration on the 85F engine printed nothing for 40 minutes;
                # the router never ran, so another router cannot help: another placer may
                # (dropped for good if it stalled), then the next seed.
                placement_stalls += 1
                cells = logic_cells(tool_log)
                if cells:
                    attempt.detail += (f"; {cells[1]:,} of {cells[2]:,} logic cells "
                                       f"({cells[0]}), {100 * cells[1] // cells[2]} %")
                if len(placers) > 1:
                    placers.pop(0)
                    k = 0
                    log(f"{board.name}: {pnr_tool} {attempt.describe()}; trying the "
                        f"{placers[0]} placer")
                    continue
                log(f"{board.name}: {pnr_tool} {attempt.describe()}; trying the next seed")
                break
            # A router that stalls (router1 can sit for hours on a congested iCE40 design
            # that router2 routes in seconds) or exceeds its bound: try the next router.
            nxt = routers[k] if k < len(routers) else "the next seed"
            log(f"{board.name}: {pnr_tool} {attempt.describe()}; trying {nxt}")
        if done:
            break
    if not done:
        tried = "; ".join(a.describe() for a in attempts)
        if placement_stalls == len(attempts):
            fail(DoesNotFit, f"{board.name}: nextpnr could not place {design}: no placer "
                             f"made progress at any seed tried ({tried}); the design is "
                             "too full to place: fold the network further (--folding, "
                             "--lut-budget), make it smaller, or pick a larger board")
        fail(BuildError, f"{board.name}: place-and-route ({pnr_tool}) of {design} did not "
                         f"complete; tried {tried}")

    pack_tool = next(step.tool for step in steps if step.tool not in ("yosys", pnr_tool))
    pack = _run_tool(by_tool[pack_tool], gateware, env, bounds.pack_s, log_lines)
    if pack.outcome != "ok":
        how = (f"did not finish within {bounds.pack_s:g} s" if pack.outcome == "timeout"
               else f"failed ({(pack.output.strip().splitlines() or ['no output'])[-1]})")
        fail(BuildError, f"{board.name}: packing the bitstream ({pack_tool}) {how}")
    write_text(out_dir / "build.log", "\n".join(log_lines))

    report = make_report(
        board=board, pnr=load_json(gateware / "pnr_report.json"),
        synth_counts=synth_cell_counts(load_json(gateware / "synth_stat.json")),
        clock_hz=top.clock_hz, baud=baud,
        cycles_per_image=estimate["cycles_per_image"],
        latency_cycles=estimate["latency_cycles"], estimate=estimate,
        fingerprint=qnet.fingerprint(), tools=tools,
        link=link_bound(top.engine.layout, baud, batch=top.engine.info.max_batch),
        in_lanes=lanes)
    load_map = getattr(accelerator, "load_map", None)
    slices = load_map.total_slices if load_map is not None else 0
    report["nextpnr_seed"] = current
    report["place_and_route"] = {"router": attempts[-1].router, "seed": current,
                                 "placer": attempts[-1].placer,
                                 "attempts": [asdict(a) for a in attempts]}
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
