"""Netlist adjustments between synthesis and place-and-route.

Yosys maps a read-only memory (the ``rom`` weight store) to ``SB_RAM40_4K``
blocks whose write port is unused, and ties that port's clock ``WCLK`` to
constant 0. nextpnr-ice40 then treats the constant net as a clock, promotes
it to one of the eight global buffers (``$PACKER_GND_NET_$glb_clk`` in its
log) and routes it to every such block. A write clock matters only when the
write port is enabled; with ``WE`` and ``WCLKE`` tied low it never is, so the
block's read clock can drive ``WCLK`` as well: same behaviour, no constant
clock, no global buffer spent on it.

Members
-------
tie_unused_write_clocks
    Rewrite a Yosys JSON netlist in place; returns how many blocks changed.
"""

import json
from pathlib import Path

from golden_model.output_files import write_text

#: Block RAM cells of the iCE40 (read clock, write clock, ports that keep writes off).
_ICE40_RAMS = ("SB_RAM40_4K", "SB_RAM40_4KNR", "SB_RAM40_4KNW", "SB_RAM40_4KNRNW")


def _constant_zero(bits):
    return all(bit == "0" for bit in bits)


def _clock_pin(cell_type, read):
    # The NR/NW variants name the clock of the negated edge RCLKN/WCLKN.
    if read:
        return "RCLKN" if "NR" in cell_type else "RCLK"
    return "WCLKN" if cell_type.endswith("NW") else "WCLK"


def tie_unused_write_clocks(netlist_path):
    """Drive the constant write clock of never-written iCE40 block RAMs from their read clock.

    Parameters
    ----------
    netlist_path : path
        Yosys ``write_json`` output, rewritten in place (atomically).

    Returns
    -------
    list of str
        The names of the cells whose write clock was tied to their read clock.
    """
    path = Path(netlist_path)
    netlist = json.loads(path.read_text())
    changed = []
    for module in netlist.get("modules", {}).values():
        for name, cell in module.get("cells", {}).items():
            if cell.get("type") not in _ICE40_RAMS:
                continue
            pins = cell.get("connections", {})
            read_clock = pins.get(_clock_pin(cell["type"], read=True))
            write_pin = _clock_pin(cell["type"], read=False)
            write_clock = pins.get(write_pin)
            never_written = _constant_zero(pins.get("WE", ["0"])) or _constant_zero(
                pins.get("WCLKE", ["0"]))
            if (write_clock is None or not _constant_zero(write_clock) or not never_written
                    or read_clock is None or any(isinstance(b, str) for b in read_clock)):
                continue
            pins[write_pin] = list(read_clock)
            changed.append(name)
    if changed:
        write_text(path, json.dumps(netlist))
    return changed
