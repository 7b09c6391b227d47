"""One round of the contract's ``mix`` (``docs/qtrain.md``, "Random bits") in Amaranth.

A round is Wang's ``hash32shift`` plus a constant: constant shifts, xors and
32-bit additions, no multiplier. The trainer's random-word unit applies half
a round per cycle (``mix`` is two rounds: a four-stage pipeline).
"""

from amaranth.hdl import Signal

from golden_model.qtrain.random_bits import MIX_CONSTANT, MIX_ROUNDS

__all__ = ["MIX_ROUNDS", "MIX_HALF", "MIX_STEPS", "mix_round"]


#: The steps of one round, each a function of the 32-bit value before it.
_STEPS = (lambda x: (x << 15) + ~x, lambda x: x ^ (x >> 12), lambda x: x + (x << 2),
          lambda x: x ^ (x >> 4), lambda x: x + (x << 3) + (x << 11),
          lambda x: x ^ (x >> 16), lambda x: x + MIX_CONSTANT)

#: Steps in a round.
MIX_STEPS = len(_STEPS)

#: Where a round splits into two pipeline stages of about equal carry-chain depth
#: (two additions before, the three-term one and the constant after).
MIX_HALF = 4


def mix_round(m, x, name="mix", steps=(0, MIX_STEPS)):
    """The 32-bit word after one round of ``mix`` of the 32-bit unsigned value ``x``
    (or after its steps ``steps[0]`` up to ``steps[1]``, for a pipeline stage).

    Each step's result is a wire of ``m`` (each is used twice by the next
    step; as one expression the netlist would copy it).
    """
    for n in range(*steps):
        wire = Signal(32, name=f"{name}_{n}")
        m.d.comb += wire.eq(_STEPS[n](x)[:32])
        x = wire
    return x
