"""One round of the contract's ``mix`` (``docs/qtrain.md``, "Random bits") in Amaranth.

A round is Wang's ``hash32shift`` plus a constant: constant shifts, xors and
32-bit additions, no multiplier. The trainer's random-word unit applies one
round per cycle (``mix`` is two rounds).
"""

from golden_model.qtrain.random_bits import MIX_CONSTANT, MIX_ROUNDS

__all__ = ["MIX_ROUNDS", "mix_round"]


def mix_round(x):
    """The 32-bit word after one round of ``mix`` of the 32-bit unsigned value ``x``."""
    x = ((x << 15) + ~x)[:32]
    x = x ^ (x >> 12)
    x = (x + (x << 2))[:32]
    x = x ^ (x >> 4)
    x = (x + (x << 3) + (x << 11))[:32]
    x = x ^ (x >> 16)
    return (x + MIX_CONSTANT)[:32]
