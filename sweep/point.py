"""One point of a sweep: its stages, run in its own folder, to one result.

:func:`run_point` is a pure function of the point's parameters (training is
seeded and single-threaded), so it gives the same result in this process or
on any Dask worker. An expected failure -- the pre-check refuses the design,
the clock is missed, training leaves a dead layer, a tool fails, RTL
simulation disagrees with the QNet -- is a result with its status and reason.
Anything else (a bug, memory) is raised, for Dask to retry and the sweep to
record as ``error``.

Members
-------
run_point
    Run a point's stages in its folder; returns (and writes) ``result.json``.
STATUSES
    Every status a result may have.
"""

import time
from pathlib import Path

from golden_model.errors import MulfreeError
from golden_model.output_files import write_json, write_text

from .cache import FORMAT_VERSION, RESULT_FILE, point_key

__all__ = ["METRICS", "STATUSES", "run_point"]

#: Status -> meaning.
STATUSES = {
    "ok": "every stage ran and passed",
    "dead_network": "training left a hidden layer dead (0 on every validation image)",
    "does_not_fit": "the pre-check or place-and-route found the design too big for the board",
    "timing_missed": "the bitstream was built but misses the requested clock",
    "build_failed": "synthesis, place-and-route or packing failed",
    "sim_mismatch": "RTL simulation disagreed with the QNet (or could not run)",
    "failed": "another stage refused the point (e.g. an unsupported network or folding)",
    "error": "an unexpected error (not cached: the point runs again next time)",
}

#: Result fields that hold figures (None when the stages that measure them did not run).
METRICS = ("float_acc", "qnet_acc", "lut", "ff", "bram", "spram", "dsp", "fmax_mhz",
           "clock_mhz", "cycles_per_image", "images_per_s", "sim_images", "sim_mismatches")

#: Share of the board's LUTs that automatic folding plans for, when no budget is given:
#: estimates run up to ~1.5x under synthesis and the UART engine needs its share. On the
#: iCE40 the share is of logic cells (LUTs plus flip-flops), as nextpnr counts them.
AUTO_LUT_SHARE = 0.4


def _status_of(error):
    from boards.build import BuildError, TimingError
    from boards.precheck import DoesNotFit
    from golden_model.dead_units import DeadNetworkError

    for cls, status in ((DeadNetworkError, "dead_network"), (DoesNotFit, "does_not_fit"),
                        (TimingError, "timing_missed"), (BuildError, "build_failed"),
                        (_SimFailed, "sim_mismatch")):
        if isinstance(error, cls):
            return status
    return "failed"


class _SimFailed(MulfreeError):
    """RTL simulation found mismatches or could not run."""


def run_point(point, work_dir, log=None):
    """Run ``point``'s stages in ``work_dir`` and write its ``result.json`` last.

    Parameters
    ----------
    point : dict
        One of :meth:`sweep.spec.SweepSpec.points`.
    work_dir : str or Path
        The point's own folder (every artefact goes there).
    log : callable, optional
        Receives progress lines (they also go to ``point.log``).

    Returns
    -------
    dict
        The result: ``key``, ``params``, ``status``, ``reason``, the
        :data:`METRICS`, ``folding``, ``resources_from`` (``"build"`` or
        ``"estimate"``), ``stage_s`` and ``wall_s``.
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    lines = []

    def say(line):
        lines.append(line)
        if log is not None:
            log(line)

    result = {"format": FORMAT_VERSION, "key": point_key(point), "params": point,
              "status": "ok", "reason": "", **dict.fromkeys(METRICS), "folding": None,
              "resources_from": None, "stage_s": {}}
    start = time.perf_counter()
    try:
        _run_stages(point, work, result, say)
    except MulfreeError as error:
        result["status"], result["reason"] = _status_of(error), str(error)
        say(f"{result['status']}: {error}")
    result["wall_s"] = round(time.perf_counter() - start, 3)
    write_text(work / "point.log", "\n".join(lines) + "\n")
    write_json(work / RESULT_FILE, result, indent=2)
    return result


def _timed(result, stage):
    class _Timer:
        def __enter__(self):
            self.t0 = time.perf_counter()

        def __exit__(self, *exc):
            result["stage_s"][stage] = round(time.perf_counter() - self.t0, 3)

    return _Timer()


def _run_stages(point, work, result, say):
    from golden_model.agreement import measure_agreement
    from golden_model.cmd_train import network_config
    from golden_model.datasets import load_dataset
    from golden_model.dead_units import CHECK_IMAGES, DeadNetworkError, dead_layers, describe_dead
    from golden_model.model_io import save_model
    from golden_model.quantize import quantize
    from golden_model.train import TrainConfig, train_model

    from .train_args import train_arguments

    stages = point["stages"]
    args = train_arguments(point)
    with _timed(result, "train"):
        dataset = load_dataset(args.dataset, seed=args.seed)
        config = network_config(args, dataset)
        train_config = TrainConfig(
            epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
            lr_start=args.lr_start, lr_end=args.lr_end, loss=args.loss, seed=args.seed,
            quiet=True, threads=1, bn_calibration=args.bn_calibration)
        network, history = train_model(dataset, config, train_config)
        result["float_acc"] = float(history.final["test_acc"])
        dead = dead_layers(network, dataset.x_val[:CHECK_IMAGES])
        if dead:
            raise DeadNetworkError(describe_dead(network, dead))
        save_model(work / "model.npz", network, train_config=train_config.to_dict(),
                   dataset=dataset.input_spec, final=history.final)
    say(f"train: float test accuracy {result['float_acc']:.4f}")

    with _timed(result, "quantize"):
        qnet = quantize(network, dataset, meta={"source_model": "model.npz"})
        agreement = measure_agreement(network, qnet, dataset.x_test, dataset.y_test)
        qnet.meta["agreement"] = {"split": "test", **agreement.to_json()}
        qnet.save(work / "model.qnet.npz")
        result["qnet_acc"] = float(agreement.qnet_accuracy)
    say(f"quantize: QNet test accuracy {result['qnet_acc']:.4f}")

    if not any(stage in stages for stage in ("generate", "sim", "build")):
        return
    with _timed(result, "generate"):
        plan = _hardware(qnet, point, work, "generate" in stages, result)
    say(f"generate: folding {result['folding']}, {result['cycles_per_image']} cycles/image, "
        f"~{result['lut']} LUT (estimate)")

    if "sim" in stages:
        with _timed(result, "sim"):
            _simulate(qnet, dataset, point, work, plan, result, say)
    if "build" in stages:
        with _timed(result, "build"):
            _build(qnet, point, work, plan, result, say)


def _hardware(qnet, point, work, write, result):
    """Plan the accelerator (folding, weight stores) for the point's board, pre-check it."""
    from amaranth.back import verilog

    from hdl.accelerator import Accelerator
    from hdl.cmd_generate import parse_folding
    from hdl.estimate import write_report
    from hdl.export import TOP_NAME
    from hdl.supported import check_supported

    check_supported(qnet, "the point's QNet", maps=True)
    board = _board(point)
    folding = point["folding"]
    lut_budget = None
    if isinstance(folding, int):
        folding, lut_budget = "auto", folding
    else:
        folding = parse_folding(folding)
    weight_store, bram_budget = "rom", None
    if board is not None:
        from boards.memory_plan import block_ram_budget, plan_memory

        count_ff = False
        if folding == "auto" and lut_budget is None:
            lut_budget = int(AUTO_LUT_SHARE * board.capacity.lut)
            # An iCE40 logic cell is one LUT and one flip-flop: the share is of both.
            count_ff = board.family == "ice40"
        memory = plan_memory(qnet, board, folding, lut_budget=lut_budget, count_ff=count_ff)
        weight_store, folding = memory.weight_store, memory.folding
        bram_budget = {board.family: block_ram_budget(qnet, board)}
    accelerator = Accelerator(qnet, folding=folding, lut_budget=lut_budget,
                              bram_budget=bram_budget, weight_store=weight_store)
    # Refused or not written, it is never elaborated: its plan and estimate are what count.
    accelerator._MustUse__used = True
    estimate = accelerator.estimate()
    _record_estimate(point, board, accelerator, estimate, result)
    if board is not None:
        from boards.precheck import precheck

        precheck(estimate, board)  # before the netlist: a refused design costs no Verilog
    if write:
        write_text(work / "accel.v", verilog.convert(accelerator, name=TOP_NAME,
                                                     emit_src=False))
        write_report(estimate, work / "accel.estimate.json")
    stores = list(getattr(accelerator, "weight_stores", [])) or weight_store
    return {"folding": [tuple(f) for f in result["folding"]], "weight_store": stores,
            "lut_budget": lut_budget}


def _record_estimate(point, board, accelerator, estimate, result):
    """The generator's figures (a build, if it runs, replaces them with measured ones)."""
    totals = estimate["totals"]
    clock_mhz = _clock_mhz(point, board)
    result.update(folding=[[int(pe), int(simd)] for pe, simd in accelerator.folding],
                  resources_from="estimate", lut=int(totals["lut"]), ff=int(totals["ff"]),
                  spram=int(totals.get("spram_blocks", 0)), dsp=0,
                  cycles_per_image=int(estimate["cycles_per_image"]), clock_mhz=clock_mhz)
    if board is not None:
        result["bram"] = int(totals["block_rams"][board.family])
    if clock_mhz is not None:
        result["images_per_s"] = round(clock_mhz * 1e6 / estimate["cycles_per_image"], 1)


def _board(point):
    from boards.registry import get_board

    return None if point["board"] == "none" else get_board(point["board"])


def _clock_mhz(point, board):
    if point["clock"] != "default":
        return float(point["clock"])
    return None if board is None else board.target_hz / 1e6


def _simulate(qnet, dataset, point, work, plan, result, say):
    from sim.regression import run_regression
    from sim.report import write_report

    n = min(int(point["sim_images"]), len(dataset.x_test))
    report = run_regression(
        qnet, dataset.x_test[:n], [point["simulator"]], folding=plan["folding"],
        primitives=False, driven_images=min(4, n), build_root=work / "sim",
        weight_store=plan["weight_store"], progress=say)
    write_report(report, work / "sim_report.json")
    entry = report["simulators"][0]
    if entry["status"] == "skipped":
        raise _SimFailed(f"{point['simulator']}: not available ({entry.get('reason')})")
    result["sim_images"] = int(entry["images_checked"])
    result["sim_mismatches"] = int(entry["mismatches"])
    if not report["passed"]:
        raise _SimFailed(f"{point['simulator']}: "
                         f"{entry.get('reason') or str(entry['mismatches']) + ' mismatches'} "
                         f"against the QNet; see {work / 'sim_report.json'}")


def _build(qnet, point, work, plan, result, say):
    import json

    from boards.build import TimingError, build_bitstream

    board_dir = work / point["board"]
    try:
        report = build_bitstream(
            qnet, point["board"], board_dir,
            clock_mhz=None if point["clock"] == "default" else point["clock"],
            folding=plan["folding"], weight_store=plan["weight_store"],
            lut_budget=plan["lut_budget"], log=say)
    except TimingError:
        # The bitstream and report exist: keep the figures of a design that misses its clock.
        _record_build(json.loads((board_dir / "report.json").read_text()), result)
        raise
    _record_build(report, result)


def _record_build(report, result):
    resources = report["resources"]

    def used(name):
        return int(resources[name]["used"]) if name in resources else None

    result.update(resources_from="build", lut=used("LUT"), ff=used("FF"), bram=used("BRAM"),
                  spram=used("SPRAM"), dsp=used("DSP"),
                  fmax_mhz=report["clock"]["achieved_mhz"],
                  clock_mhz=report["clock"]["requested_mhz"],
                  cycles_per_image=int(report["cycles_per_image"]),
                  images_per_s=report["images_per_s"])
