"""Refuse, before place-and-route, a design that cannot fit its device.

The accelerator's estimate (LUT, FF, memory bits) plus the serial engine's
measured cost is compared with the device. Only a design that is certain
not to fit is refused -- the estimate is not exact, and nextpnr has the last
word on anything close.

Members
-------
precheck
    Raise :class:`DoesNotFit` naming the resource, or return the figures.
ENGINE_COST
    LUT / FF of the UART engine, PLL and reset (measured, tiny network).
"""

from boards.memory_plan import bram_bits_needed
from golden_model.errors import MulfreeError

#: Measured with nextpnr on a 3-4-3 network (table accelerator): the serial
#: engine, UART, PLL and power-on reset alone.
ENGINE_COST = {"ice40": {"lut": 690, "ff": 280}, "ecp5": {"lut": 790, "ff": 290}}


class DoesNotFit(MulfreeError):
    """A design needs more of a resource than the device has."""


def precheck(estimate, board):
    """Compare an accelerator estimate with ``board``'s device.

    Parameters
    ----------
    estimate : dict
        ``Accelerator.estimate()`` (uses ``totals.lut``, ``totals.ff``,
        ``totals.memory_bits``, ``totals.spram_blocks`` and the layers'
        ``ram`` weights).
    board : boards.registry.Board

    Returns
    -------
    dict
        Resource -> ``(needed, available)``.

    Raises
    ------
    DoesNotFit
        Naming the first resource the design needs more of than the device has.
    """
    device = board.capacity
    totals = estimate["totals"]
    engine = ENGINE_COST[board.family]
    # Block RAM is the only memory a bitstream can initialise; SPRAM holds loaded weights.
    needs = {
        "LUT": (totals["lut"] + engine["lut"], device.lut),
        "FF": (totals["ff"] + engine["ff"], device.ff),
        "block RAM bits": (bram_bits_needed(estimate), device.bram * device.bram_bits),
        "SPRAM blocks": (totals.get("spram_blocks", 0), device.spram),
    }
    for name, (needed, available) in needs.items():
        if needed > available:
            raise DoesNotFit(
                f"{board.name}: the design needs about {needed:,} {name} but the "
                f"{board.device} has {available:,}; fold the network further "
                f"(--folding), make it smaller, or pick a larger board")
    return needs
