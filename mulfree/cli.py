"""The ``mulfree`` command line.

Each subcommand lives in the package that owns its stage, in a module that
defines ``configure(parser)`` and ``main(args) -> int``. They are imported
lazily so that ``mulfree train`` does not pay for Amaranth or cocotb.
"""

import argparse
import importlib
import sys

from golden_model.errors import MulfreeError

#: subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "train": ("golden_model.cmd_train", "train a float/BC/TC/QB network"),
    "learn": ("golden_model.cmd_learn", "integer, multiplier-free training (QTrain) on a dataset"),
    "quantize": ("golden_model.cmd_quantize", "quantize a trained model to a QNet file"),
    "inspect": ("golden_model.cmd_inspect", "print a QNet file's layers, widths and costs"),
    "generate": ("hdl.cmd_generate", "generate the accelerator's Verilog/RTLIL from a QNet"),
    "sim": ("sim.cmd_sim", "verify the generated RTL against the QNet in Verilator/Icarus"),
    "build": ("boards.cmd_build", "build a bitstream for a board, with reports"),
    "program": ("boards.cmd_program", "program a built bitstream onto a board"),
    "run": ("boards.cmd_run", "stream a test set through a board and check every answer"),
    "demo": ("mulfree.demo", "the whole flow on the built-in digits dataset"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mulfree",
        description="Multiplier-free neural-network accelerators for open FPGAs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module_name)
    return parser, sub


def main(argv=None):
    """Run the command line; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, sub = build_parser()
    # Only the chosen subcommand's module is imported (and configures its parser).
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[command][0])
        module.configure(sub.choices[command])
    args = parser.parse_args(argv)
    module = importlib.import_module(args._module)
    try:
        return int(module.main(args) or 0)
    except MulfreeError as error:
        print(f"mulfree {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mulfree: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
