"""``mulfree sim``: verify the generated RTL against the QNet on Verilator/Icarus.

Every test image of the dataset goes through the accelerator's Verilog at full
rate and with random valid/ready gaps; a few more are driven from Python with
a reset in the middle of an image; the primitives run their vectors. The
report (per simulator: images, mismatches, cycles per image, simulated cycles
and images per second of the full-rate scenario, wall time of all of it) is
printed and written as JSON. The exit code is 0
only if every simulator that ran saw 0 mismatches; a simulator that is not
installed is reported as skipped, by name.

``WAVES=1`` in the environment has the same effect as ``--waves``.
"""

import argparse
import os
from pathlib import Path

import numpy as np

from golden_model.cli_args import positive_int
from golden_model.errors import MulfreeError
from golden_model.output_files import check_output_dir, check_output_file
from sim.runner import DEFAULT_BUILD_ROOT

DEFAULT_MODEL = Path("build") / "model.qnet.npz"
#: what a missing default model is trained on when no --dataset is given
DEFAULT_DATASET = "digits"
DEFAULT_REPORT = Path("build") / "sim" / "report.json"


class SimSetupError(MulfreeError):
    """A model, dataset or option given to ``mulfree sim`` does not fit."""


def configure(parser):
    from sim.accel_check import SCENARIOS

    parser.add_argument("--sim", default=os.environ.get("SIM", "all"),
                        help="verilator, icarus or all (default all)")
    parser.add_argument("--dataset", default=None,
                        help="dataset whose test split is streamed (default: the one the "
                             f"model records; {DEFAULT_DATASET} for a new default model)")
    parser.add_argument("--data-dir", default=None, help="folder with the dataset's files")
    parser.add_argument("--model", default=None,
                        help=f"QNet file (default {DEFAULT_MODEL}; trained and quantized "
                             "first if it does not exist)")
    parser.add_argument("--images", type=positive_int, default=None,
                        help="check only the first N test images (default all)")
    parser.add_argument("--gap-images", type=positive_int, default=None,
                        help="images in the random-gap run (default all)")
    parser.add_argument("--folding", default="auto",
                        help="'auto' (default), 'none' (PE=SIMD=1) or PE:SIMD,PE:SIMD,...")
    parser.add_argument("--in-lanes", type=positive_int, default=1, help="pixels per input beat")
    parser.add_argument("--weight-store", default="rom",
                        help="rom (preloaded), ram or spram (loaded through the weight-load "
                             "port first; spram simulates iCE40 SB_SPRAM256KA), one for every "
                             "layer or one per layer, e.g. spram,spram,rom")
    parser.add_argument("--icarus-netlist", choices=("flat", "raw"), default="flat",
                        help="Icarus simulates the Yosys-flattened netlist (default, much "
                             "faster) or the generated Verilog as is")
    parser.add_argument("--no-primitives", action="store_true",
                        help="skip the primitives' vectors")
    parser.add_argument("--waves", action="store_true",
                        default=os.environ.get("WAVES", "") not in ("", "0"),
                        help="trace the first failing scenario (or --waves-scenario) "
                             "to FST/VCD; also WAVES=1")
    parser.add_argument("--waves-scenario", default="reset_mid_image", choices=SCENARIOS,
                        help="scenario traced when nothing fails")
    parser.add_argument("--report", default=str(DEFAULT_REPORT), help="JSON report path")
    parser.add_argument("--build-dir", default=str(DEFAULT_BUILD_ROOT),
                        help="cache of simulator builds")


def parse_folding(text):
    """``None``, ``"auto"`` or a list of ``(pe, simd)`` from the ``--folding`` text."""
    if text in ("none", "None", ""):
        return None
    if text == "auto":
        return "auto"
    try:
        return [tuple(int(v) for v in pair.split(":")) for pair in text.split(",")]
    except ValueError:
        raise SimSetupError(
            f"--folding {text!r}: expected 'auto', 'none' or PE:SIMD,PE:SIMD,...") from None


def default_model(dataset, path=DEFAULT_MODEL, data_dir=None):
    """The QNet at ``path``; trained and quantized there first if it is missing."""
    path = Path(path)
    if path.exists():
        return path
    import importlib

    float_path = path.with_name(path.name.replace(".qnet.npz", ".npz"))
    if float_path == path:
        float_path = path.with_suffix(".float.npz")
    print(f"no model at {path}: training one on {dataset} (mulfree train + quantize) ...")
    for command, argv in (
            ("train", ["--dataset", dataset, "--out", str(float_path), "--quiet"]
             + (["--data-dir", data_dir] if data_dir else [])),
            ("quantize", [str(float_path), "--out", str(path), "--dataset", dataset]
             + (["--data-dir", data_dir] if data_dir else []))):
        module = importlib.import_module(f"golden_model.cmd_{command}")
        parser = argparse.ArgumentParser(prog=f"mulfree {command}")
        module.configure(parser)
        code = module.main(parser.parse_args(argv))
        if code:
            raise SimSetupError(f"training the default model: mulfree {command} exited {code}")
    return path


def _default_model_for(dataset, data_dir):
    """``build/model.qnet.npz``, unless it was trained on another dataset.

    Then ``build/model-<dataset>.qnet.npz`` (trained if missing), so that
    ``make sim DATASET=...`` works next to the default digits model.
    """
    from golden_model.qnet import QNet

    path = DEFAULT_MODEL
    if path.exists() and QNet.load(path).input.dataset not in ("", dataset):
        path = path.with_name(f"model-{dataset}.qnet.npz")
    return default_model(dataset, path=path, data_dir=data_dir)


def model_and_dataset(model, dataset, data_dir=None):
    """``(path, qnet, dataset)``: the QNet to check and the dataset to stream.

    ``dataset`` (``--dataset``) if given, else the one the QNet records, as
    ``mulfree quantize`` does (``DEFAULT_DATASET`` if it records none); the
    default model is trained first if missing.
    """
    from golden_model.datasets import DATASETS
    from golden_model.qnet import QNet
    from hdl.supported import check_supported

    if model:
        path = Path(model)
    elif dataset:
        path = _default_model_for(dataset, data_dir)
    else:
        path = default_model(DEFAULT_DATASET, path=DEFAULT_MODEL, data_dir=data_dir)
    qnet = QNet.load(path)
    check_supported(qnet, str(path), maps=True)
    if dataset:
        return path, qnet, dataset
    recorded = qnet.input.dataset or DEFAULT_DATASET  # hand-made QNets may record none
    if recorded not in DATASETS:
        raise SimSetupError(
            f"{path}: the model records dataset {recorded!r}, not one of "
            f"{', '.join(DATASETS)}; pass --dataset")
    return path, qnet, recorded


def load_test_images(qnet, dataset, data_dir=None, limit=None):
    """``(images, indices)`` of the test split that fits ``qnet``'s input.

    Only the test split is read: the training files need not be there.
    """
    from golden_model.datasets import load_dataset

    data = load_dataset(dataset, data_dir=data_dir, test_only=True)
    images = np.asarray(data.x_test, dtype=np.int64)
    if images.shape[1] != qnet.input.n_inputs:
        raise SimSetupError(
            f"--dataset {dataset}: {images.shape[1]} pixels per image, but the model expects "
            f"{qnet.input.n_inputs}")
    if images.size and images.max() >= (1 << qnet.input.bits):
        raise SimSetupError(
            f"--dataset {dataset}: pixels up to {images.max()}, but the model takes "
            f"{qnet.input.bits}-bit inputs")
    indices = np.arange(len(images))
    if limit is not None:
        if limit < 1:
            raise SimSetupError(f"--images {limit}: expected at least 1")
        images, indices = images[:limit], indices[:limit]
    return images, indices


def check_outputs(args):
    """Refuse unusable output paths before any model is trained or simulator run."""
    check_output_file(args.report, "--report")
    check_output_dir(args.build_dir, "--build-dir")


def main(args):
    from hdl.cmd_generate import parse_weight_store
    from sim.regression import record_waves, run_regression
    from sim.report import format_report, write_report
    from sim.toolchain import resolve_simulators

    check_outputs(args)
    simulators = resolve_simulators(args.sim)
    folding = parse_folding(args.folding)
    weight_store = parse_weight_store(args.weight_store)
    if args.in_lanes < 1:
        raise SimSetupError(f"--in-lanes {args.in_lanes}: expected at least 1")
    model, qnet, dataset = model_and_dataset(args.model, args.dataset, args.data_dir)
    images, indices = load_test_images(qnet, dataset, args.data_dir, args.images)
    design = {"model": str(model), "fingerprint": qnet.fingerprint(), "dataset": dataset,
              "images": len(images), "folding": args.folding, "in_lanes": args.in_lanes,
              "weight_store": args.weight_store}
    report = run_regression(qnet, images, simulators, indices=indices, folding=folding,
                            in_lanes=args.in_lanes, primitives=not args.no_primitives,
                            gap_images=args.gap_images, build_root=args.build_dir,
                            design=design, icarus_netlist=args.icarus_netlist,
                            weight_store=weight_store)
    if args.waves:
        traced = record_waves(qnet, images, report, indices=indices, folding=folding,
                              in_lanes=args.in_lanes, scenario=args.waves_scenario,
                              build_root=args.build_dir, icarus_netlist=args.icarus_netlist,
                              weight_store=weight_store)
        report["waves"] = [{"simulator": s, "file": str(f) if f else None, "traced": what}
                           for s, f, what in traced]
    path = write_report(report, args.report)
    print(format_report(report))
    print(f"report: {path}")
    print("PASSED: 0 mismatches" if report["passed"] else "FAILED")
    return 0 if report["passed"] else 1
