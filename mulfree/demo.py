"""``mulfree demo``: the whole flow on the built-in ``digits`` dataset.

Six stages, each printing its progress:

1. train a TernaryConnect + quantized-backprop network (golden model);
2. quantize it to a QNet and measure float-vs-QNet accuracy;
3. generate the multiplier-free accelerator's Verilog and its estimates;
4. verify test images in RTL simulation (Verilator) bit-exact against the QNet;
5. build an iCEBreaker bitstream with YoWASP (resources, Fmax, no DSPs);
6. print one summary with every figure and the path of every artefact.

From Python::

    from mulfree.demo import DemoConfig, run_demo
    summary = run_demo(DemoConfig(out_dir="build/demo"))
    print(summary["qnet_accuracy"], summary["mismatches"], summary["artefacts"])

Members
-------
DemoConfig
    What the demo trains and builds (smaller settings make a quick check).
run_demo
    Run the stages; returns the summary dict (also written as JSON).
format_summary
    The printed summary.
"""

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from golden_model.errors import MulfreeError
from golden_model.output_files import (
    check_output_dir,
    check_output_file,
    write_json,
    write_text,
)

#: Share of the board's LUTs that automatic folding may plan for the accelerator.
DEMO_LUT_SHARE = 0.4


class DemoError(MulfreeError):
    """A demo stage failed its check (accuracy, mismatches, build)."""


@dataclass
class DemoConfig:
    """Settings of the demo flow.

    Members
    -------
    out_dir : str
        Where every artefact goes.
    dataset : str
        Dataset name (the built-in ``digits`` by default).
    hidden : tuple of int
        Hidden layer sizes.
    epochs : int
        Training epochs.
    seed : int
        Seeds training: the same seed gives the same model.
    act_bits : int
        Activation width ``B`` of the hidden layers.
    sim_images : int
        Test images verified in RTL simulation.
    simulator : str
        ``verilator`` or ``icarus``.
    board : str or None
        Board to build a bitstream for; None skips the build (stage 5).
    folding : str or list
        Accelerator folding (``"auto"``, None, or ``[(pe, simd), ...]``).
    quiet : bool
        No training progress bar.
    """

    out_dir: str = "build/demo"
    dataset: str = "digits"
    hidden: tuple = (64, 64)
    epochs: int = 20
    seed: int = 0
    act_bits: int = 4
    sim_images: int = 100
    simulator: str = "verilator"
    board: str | None = "icebreaker"
    folding: object = "auto"
    quiet: bool = False


def _stage(log, number, total, title):
    log(f"[{number}/{total}] {title}")
    return time.perf_counter()


def run_demo(config=None, log=print):
    """Run the demo flow.

    Parameters
    ----------
    config : DemoConfig, optional
    log : callable
        Receives progress lines.

    Returns
    -------
    dict
        The summary: accuracies, mismatches, resources, clock, throughput,
        stage times and ``artefacts`` (name -> path). Also written to
        ``<out_dir>/summary.json``.

    Raises
    ------
    DemoError
        If RTL simulation finds a mismatch or the simulator is missing.
    """
    from golden_model.agreement import measure_agreement
    from golden_model.datasets import load_dataset
    from golden_model.model_io import save_model
    from golden_model.network import NetworkConfig
    from golden_model.plots import plot_history, plot_weight_histograms
    from golden_model.quantize import quantize
    from golden_model.train import TrainConfig, train_model

    config = config or DemoConfig()
    _check_config(config)
    out = Path(config.out_dir)
    _check_outputs(out, config.board, "out_dir")
    out.mkdir(parents=True, exist_ok=True)
    total = 6 if config.board else 5
    times, artefacts = {}, {}
    summary = {"config": asdict(config)}
    start_all = time.perf_counter()

    # 1. train
    t0 = _stage(log, 1, total, f"train a ternary + quantized-backprop network on "
                               f"{config.dataset} ({config.epochs} epochs)")
    dataset = load_dataset(config.dataset, seed=config.seed)
    sizes = (dataset.n_inputs, *config.hidden, dataset.n_classes)
    net_config = NetworkConfig(
        sizes=sizes, weight_mode="ternary",
        quantized_backprop=True, activation="relu", batchnorm=True, shift_based=True,
        act_quant="int", act_bits=config.act_bits, act_frac_bits=2)
    train_config = TrainConfig(epochs=config.epochs, seed=config.seed, quiet=config.quiet)
    network, history = train_model(dataset, net_config, train_config)
    model_path = out / "model.npz"
    save_model(model_path, network, train_config=train_config.to_dict(),
               dataset=dataset.input_spec, final=history.final)
    history.save(out / "model.history.json")
    plot_history(history, out / "model.curves.png")
    plot_weight_histograms(network, out / "model.weights.png")
    artefacts.update(model=model_path, history=out / "model.history.json",
                     curves_plot=out / "model.curves.png",
                     weights_plot=out / "model.weights.png")
    summary["architecture"] = "-".join(str(s) for s in sizes)
    summary["float_accuracy"] = float(history.final["test_acc"])
    times["train"] = time.perf_counter() - t0
    log(f"      test accuracy {summary['float_accuracy']:.4f} ({times['train']:.1f} s)")

    # 2. quantize
    t0 = _stage(log, 2, total, "quantize to an integer QNet and compare with the float model")
    qnet = quantize(network, dataset, meta={"source_model": str(model_path)})
    agreement = measure_agreement(network, qnet, dataset.x_test, dataset.y_test)
    qnet.meta["agreement"] = {"split": "test", **agreement.to_json()}
    qnet_path = out / "model.qnet.npz"
    qnet.save(qnet_path)
    artefacts["qnet"] = qnet_path
    summary["qnet_accuracy"] = float(agreement.qnet_accuracy)
    summary["class_disagreement"] = float(agreement.disagreement)
    summary["qnet_fingerprint"] = qnet.fingerprint()
    times["quantize"] = time.perf_counter() - t0
    log(f"      float {agreement.float_accuracy:.4f}  QNet {agreement.qnet_accuracy:.4f}  "
        f"classes differ on {100 * agreement.disagreement:.2f}% of test images")

    # 3. generate
    t0 = _stage(log, 3, total, "generate the multiplier-free accelerator (Verilog)")
    from amaranth.back import verilog

    from hdl.accelerator import Accelerator
    from hdl.accelerator_plan import plan_accelerator
    from hdl.export import TOP_NAME

    lut_budget = bram_budget = None
    if config.folding == "auto" and config.board:
        from boards.memory_plan import block_ram_budget
        from boards.registry import get_board

        board = get_board(config.board)
        # Estimates run up to ~1.5x under synthesis and the UART top needs its
        # share: 40 % of the device keeps the accelerator well inside it.
        lut_budget = int(DEMO_LUT_SHARE * board.capacity.lut)
        bram_budget = {board.family: block_ram_budget(qnet, board, board.max_batch)}
    plan = plan_accelerator(qnet, folding=config.folding, lut_budget=lut_budget,
                            bram_budget=bram_budget)
    folding = list(plan.folding)
    verilog_path = out / "accel.v"
    write_text(verilog_path, verilog.convert(Accelerator.from_plan(plan), name=TOP_NAME,
                                             emit_src=False))
    estimate = plan.report()
    estimate_path = out / "accel.estimate.json"
    write_json(estimate_path, estimate, indent=2, default=str)
    artefacts.update(verilog=verilog_path, estimate=estimate_path)
    summary["folding"] = [list(map(int, f)) for f in folding]
    summary["cycles_per_image_estimate"] = int(plan.cycles_per_image)
    times["generate"] = time.perf_counter() - t0
    log(f"      folding (PE, SIMD) {summary['folding']}, "
        f"{plan.cycles_per_image} cycles/image estimated")

    # 4. simulate
    t0 = _stage(log, 4, total, f"verify {config.sim_images} test images on "
                               f"{config.simulator} against the QNet")
    from sim.regression import run_regression
    from sim.report import write_report

    n = min(config.sim_images, len(dataset.x_test))
    report = run_regression(
        qnet, dataset.x_test[:n], [config.simulator], folding=folding, primitives=False,
        driven_images=min(4, n), build_root=out / "sim",
        design={"model": str(qnet_path), "dataset": config.dataset},
        progress=lambda line: log(f"      {line}"))
    sim_path = out / "sim_report.json"
    write_report(report, sim_path)
    artefacts["sim_report"] = sim_path
    entry = report["simulators"][0]
    if entry["status"] == "skipped":
        raise DemoError(f"{config.simulator}: not available ({entry.get('reason')})")
    summary["images_simulated"] = int(entry["images_checked"])
    summary["mismatches"] = int(entry["mismatches"])
    summary["cycles_per_image_simulated"] = entry.get("cycles_per_image")
    times["simulate"] = time.perf_counter() - t0
    if not report["passed"]:
        summary["times"] = times
        _write_summary(out, summary, artefacts)
        what = (f"{entry['mismatches']} mismatches against the QNet" if entry["mismatches"]
                and not entry.get("reason") else entry.get("reason") or "failed")
        raise DemoError(f"{config.simulator}: {what}; see {sim_path}")

    # 5. bitstream
    if config.board:
        t0 = _stage(log, 5, total, f"build a {config.board} bitstream with YoWASP")
        from boards.build import build_bitstream

        board_dir = out / config.board
        build = build_bitstream(qnet, config.board, board_dir, folding=folding,
                                log=lambda line: log(f"      {line}"))
        summary["board"] = config.board
        summary["resources"] = build["resources"]
        summary["clock"] = build["clock"]
        summary["images_per_s"] = build["images_per_s"]
        summary["multiplier_free"] = build["multiplier_free"]["ok"]
        artefacts.update(bitstream=Path(build["bitstream"]),
                         board_report=board_dir / "report.json")
        times["bitstream"] = time.perf_counter() - t0

    times["total"] = time.perf_counter() - start_all
    summary["times"] = {k: round(v, 1) for k, v in times.items()}
    _stage(log, total, total, "summary")
    _write_summary(out, summary, artefacts)
    log(format_summary(summary))
    return summary


def _check_config(config):
    """Refuse bad settings before any stage runs (nothing is trained in vain)."""
    from boards.registry import get_board
    from golden_model.datasets import list_datasets
    from sim.toolchain import SIMULATORS

    if config.dataset not in list_datasets():
        raise DemoError(f"dataset {config.dataset!r}: expected one of {list_datasets()}")
    if config.simulator not in SIMULATORS:
        raise DemoError(f"simulator {config.simulator!r}: expected one of {SIMULATORS}")
    if config.board:
        get_board(config.board)  # raises BoardError naming the board and the known ones
    for name in ("epochs", "sim_images"):
        if int(getattr(config, name)) < 1:
            raise DemoError(f"{name} {getattr(config, name)}: expected at least 1")


#: Files the demo writes in its output folder (``<board>/`` and ``sim/`` are folders).
DEMO_FILES = ("model.npz", "model.history.json", "model.curves.png", "model.weights.png",
              "model.qnet.npz", "accel.v", "accel.estimate.json", "sim_report.json",
              "summary.json")


def _check_outputs(out, board, what):
    """Refuse an output folder the demo cannot fill, before anything is trained."""
    check_output_dir(out, what)
    for name in DEMO_FILES:
        check_output_file(out / name, what)
    for name in ("sim", board):
        if name:
            check_output_dir(out / name, what)


def _write_summary(out, summary, artefacts):
    artefacts = dict(artefacts, summary=out / "summary.json")
    summary["artefacts"] = {name: str(path) for name, path in artefacts.items()}
    write_json(out / "summary.json", summary, indent=2, default=str)


def format_summary(summary):
    """The printed summary of a :func:`run_demo` result."""
    lines = [
        "mulfree demo summary",
        f"  network          {summary['architecture']} ternary + quantized backprop",
        f"  accuracy         float {summary['float_accuracy']:.4f}, "
        f"QNet {summary['qnet_accuracy']:.4f} "
        f"(classes differ on {100 * summary['class_disagreement']:.2f}%)",
        f"  RTL simulation   {summary['images_simulated']} images, "
        f"{summary['mismatches']} mismatches",
        f"  cycles/image     {summary['cycles_per_image_simulated']} simulated, "
        f"{summary['cycles_per_image_estimate']} estimated",
    ]
    if "resources" in summary:
        res = summary["resources"]
        used = ", ".join(f"{name} {entry['used']}/{entry['available']}"
                         for name, entry in res.items())
        clock = summary["clock"]
        lines += [
            f"  {summary['board']:<16} {used}",
            f"  clock            {clock['achieved_mhz']} MHz achieved, "
            f"{clock['requested_mhz']} MHz requested",
            f"  throughput       {summary['images_per_s']:,.0f} images/s",
            f"  multipliers      {'none' if summary['multiplier_free'] else 'PRESENT'}",
        ]
    lines.append("  times            " + ", ".join(f"{k} {v:.1f} s"
                                                   for k, v in summary["times"].items()))
    lines.append("  artefacts")
    lines += [f"    {name:<15}{path}" for name, path in summary["artefacts"].items()]
    return "\n".join(lines)


def configure(parser):
    from golden_model.cli_args import positive_int, seed

    defaults = DemoConfig()
    parser.add_argument("--out-dir", default=defaults.out_dir, help="where artefacts go")
    parser.add_argument("--epochs", type=positive_int, default=defaults.epochs)
    parser.add_argument("--seed", type=seed, default=defaults.seed)
    parser.add_argument("--sim-images", type=positive_int, default=defaults.sim_images,
                        help="test images verified in RTL simulation")
    parser.add_argument("--simulator", choices=("verilator", "icarus"),
                        default=defaults.simulator)
    parser.add_argument("--board", default=defaults.board,
                        help="board to build for (default icebreaker)")
    parser.add_argument("--no-bitstream", action="store_true", help="skip the bitstream build")
    parser.add_argument("--quiet", action="store_true", help="no training progress bar")


def main(args):
    for option in ("epochs", "sim_images"):
        if getattr(args, option) < 1:
            raise MulfreeError(f"--{option.replace('_', '-')} {getattr(args, option)}: "
                               "expected at least 1")
    _check_outputs(Path(args.out_dir), None if args.no_bitstream else args.board, "--out-dir")
    config = DemoConfig(out_dir=args.out_dir, epochs=args.epochs, seed=args.seed,
                        sim_images=args.sim_images, simulator=args.simulator,
                        board=None if args.no_bitstream else args.board, quiet=args.quiet)
    run_demo(config)
    return 0
