"""``mulfree generate``: Verilog/RTLIL and the estimate report of a QNet's accelerator."""

import json
import os
from pathlib import Path

from golden_model.cli_args import integer, positive_int
from golden_model.errors import MulfreeError
from golden_model.output_files import check_output_file, write_text
from golden_model.qnet import QNet
from hdl.errors import HardwareGenerationError
from hdl.layer_plan import MAX_IMAGES
from hdl.supported import check_supported

__all__ = ["configure", "main", "parse_folding", "parse_weight_store", "check_auto_folding_options"]


def parse_folding(text):
    """``None``/``"auto"``, or ``"pe:simd,pe:simd,..."`` -> list of (pe, simd)."""
    if text is None or text == "none":
        return None
    if text == "auto":
        return "auto"
    pairs = []
    for item in text.split(","):
        try:
            pe, simd = (int(part) for part in item.split(":"))
        except ValueError:
            raise HardwareGenerationError(
                f"--folding: expected 'auto', 'none' or PE:SIMD pairs separated by commas "
                f"(e.g. 4:8,2:4), got {text!r}") from None
        pairs.append((pe, simd))
    return pairs


def parse_weight_store(text, allow_auto=False):
    """``--weight-store`` text: one store for every layer, or ``"a,b,c"``, one per layer.

    With ``allow_auto``, ``"auto"`` (the board builder's choice) is accepted too.
    """
    from hdl.layer_plan import WEIGHT_STORES
    if allow_auto and text == "auto":
        return "auto"
    stores = text.split(",")
    if any(store not in WEIGHT_STORES for store in stores):
        choices = ("'auto' or " if allow_auto else "") + ", ".join(WEIGHT_STORES)
        raise HardwareGenerationError(
            f"--weight-store: expected {choices} (one, or one per layer separated by "
            f"commas), got {text!r}")
    return stores[0] if len(stores) == 1 else stores


def check_auto_folding_options(args):
    """``--lut-budget`` / ``--target-cycles`` steer only ``--folding auto``: refuse them elsewhere.

    Otherwise a budget would be silently ignored and the design could exceed it.
    """
    for option in ("lut_budget", "target_cycles"):
        if getattr(args, option, None) is not None and args.folding != "auto":
            raise HardwareGenerationError(
                f"--{option.replace('_', '-')} {getattr(args, option)}: only used with "
                f"--folding auto; expected --folding auto (got --folding {args.folding})")


def configure(parser):
    parser.add_argument("model", help="QNet file (.qnet.npz)")
    parser.add_argument("--out", default="build/accel.v",
                        help="output file; .il writes RTLIL, anything else Verilog "
                             "(default: %(default)s)")
    parser.add_argument("--rtlil", default=None, help="also write RTLIL to this file")
    parser.add_argument("--folding", default="none",
                        help="'none' (PE=SIMD=1), 'auto', or PE:SIMD per layer, e.g. 4:8,2:4")
    parser.add_argument("--in-lanes", type=positive_int, default=1, help="pixels per input beat")
    parser.add_argument("--weight-store", default="rom",
                        help="rom (preloaded), ram or spram (iCE40 SB_SPRAM256KA): loaded "
                             "through the wload port; one for every layer or one per layer")
    parser.add_argument("--target-cycles", type=positive_int, default=None,
                        help="auto folding: cycles per image to reach")
    parser.add_argument("--lut-budget", type=positive_int, default=None,
                        help="auto folding: LUT estimate not to exceed")
    parser.add_argument("--images", type=integer(1, MAX_IMAGES, "a number of images in flight"),
                        default=1, help="images in flight: each weight word read serves a "
                        "group of this many images (default: %(default)s)")
    parser.add_argument("--report", default=None,
                        help="estimate report (JSON); default: next to --out")


def report_path(args):
    """The estimate report's path: ``--report``, else next to ``--out``."""
    return Path(args.report) if args.report else Path(args.out).with_suffix(".estimate.json")


def check_outputs(args):
    """Refuse unusable output paths before the accelerator is built."""
    check_output_file(args.out, "--out")
    if args.rtlil:
        check_output_file(args.rtlil, "--rtlil")
    check_output_file(report_path(args), "--report" if args.report else "--out")
    written = [Path(args.out), report_path(args)] + ([Path(args.rtlil)] if args.rtlil else [])
    if len({os.path.realpath(path) for path in written}) < len(written):
        raise MulfreeError(f"--out, --rtlil, --report: expected different files, got "
                           f"{', '.join(map(str, written))}")


def main(args):
    from hdl.accelerator import Accelerator
    from hdl.accelerator_plan import plan_accelerator
    from hdl.estimate import write_report
    from hdl.export import TOP_NAME

    check_outputs(args)
    check_auto_folding_options(args)
    qnet = QNet.load(args.model)
    check_supported(qnet, args.model, maps=True)
    plan = plan_accelerator(
        qnet, folding=parse_folding(args.folding), in_lanes=args.in_lanes,
        target_cycles=args.target_cycles, lut_budget=args.lut_budget,
        weight_store=parse_weight_store(args.weight_store), images=args.images)
    accelerator = Accelerator.from_plan(plan)
    out = Path(args.out)
    from amaranth.back import rtlil, verilog
    if out.suffix == ".il":
        write_text(out, rtlil.convert(accelerator, name=TOP_NAME, emit_src=False), "--out")
    else:
        write_text(out, verilog.convert(accelerator, name=TOP_NAME, emit_src=False), "--out")
    if args.rtlil:
        write_text(args.rtlil, rtlil.convert(accelerator, name=TOP_NAME, emit_src=False),
                   "--rtlil")
    report = plan.report()
    write_report(report, report_path(args))
    print(f"{out}: {TOP_NAME}, folding {json.dumps(report['folding'])}, "
          f"{report['cycles_per_image']} cycles/image (estimate), "
          f"~{report['totals']['lut']} LUT, {report['totals']['memory_bits']} memory bits; "
          f"report {report_path(args)}")
    return 0
