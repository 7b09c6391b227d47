"""One round of the contract's ``mix`` (``docs/qtrain.md``, "Random bits") in Amaranth.

A round is Wang's ``hash32shift`` plus a constant: constant shifts, xors and
32-bit additions, no multiplier. The trainer's random-word unit applies one
round per cycle (``mix`` is two rounds).
"""

from amaranth.hdl import Signal

from golden_model.qtrain.random_bits import MIX_CONSTANT, MIX_ROUNDS

__all__ = ["MIX_ROUNDS", "mix_round"]


def mix_round(m, x, name="mix"):
    """The 32-bit word after one round of ``mix`` of the 32-bit unsigned value ``x``.

    Each step's result is a wire of ``m`` (each is used twice by the next
    step; as one expression the netlist would copy it).
    """
    steps = (lambda x: (x << 15) + ~x, lambda x: x ^ (x >> 12), lambda x: x + (x << 2),
             lambda x: x ^ (x >> 4), lambda x: x + (x << 3) + (x << 11),
             lambda x: x ^ (x >> 16), lambda x: x + MIX_CONSTANT)
    for n, step in enumerate(steps):
        wire = Signal(32, name=f"{name}_{n}")
        m.d.comb += wire.eq(step(x)[:32])
        x = wire
    return x
