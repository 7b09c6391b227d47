"""Which pipeline registers keep a reset, chosen per FPGA family.

Only the valid bits of a pipeline need a reset; its data registers are
overwritten before anything reads them. Whether dropping their reset pays
depends on the family: on the ECP5 the synchronous reset from the PLL lock
reaching every adder-tree flip-flop was the critical net of 784-256-256-10
(104.5 MHz with it, 118.5 MHz without), while on the iCE40 UP5K the same
design without it no longer legalised in nextpnr (reset and enable share a
logic cell's flip-flop control set, so a nearly full device packs differently).

A sign-select leaf that is zero for a zero weight (``Mux(nonzero, ±x, 0)``) is
a flip-flop with a synchronous reset to Yosys, one reset net per MAC lane. An
ECP5 tile has two reset (LSR) lines for its eight flip-flops, so the 1,552
distinct lane resets of the ECP5-85F engine (784-256-256-10 at 196 cycles an
image) left nextpnr's legalisers searching for over 40 minutes without placing
it. There the zero is a mask in the leaf's LUT instead (the same LUT count:
a LUT4 takes x, the sign and the mask).
"""

__all__ = ["RESET_LESS_FAMILIES", "MASKED_ZERO_FAMILIES", "family_of",
           "data_registers_reset_less", "zero_by_mask"]

#: Families whose pipeline data registers are built without a reset.
RESET_LESS_FAMILIES = frozenset({"ecp5"})
#: Families whose per-lane zeroing is a LUT mask rather than a flip-flop reset.
MASKED_ZERO_FAMILIES = frozenset({"ecp5"})


def family_of(platform):
    """The FPGA family an elaboration targets, lower case (``"ice40"``, ``"ecp5"``), or None.

    Amaranth's vendor platforms name it ``platform.family`` (``"iCE40"`` for the
    iCE40 ones, hence the lower case); None or a platform without one gives None.
    """
    family = getattr(platform, "family", None)
    return family.lower() if isinstance(family, str) else None


def data_registers_reset_less(platform):
    """Whether pipeline data registers elaborated for ``platform`` go without a reset.

    Parameters
    ----------
    platform : object or None
        The platform passed to ``elaborate`` (an Amaranth vendor platform, whose
        ``family`` is e.g. ``"ice40"`` or ``"ecp5"``); None (plain Verilog
        export, simulation) keeps the resets.
    """
    return family_of(platform) in RESET_LESS_FAMILIES


def zero_by_mask(platform):
    """Whether a per-lane zero (a sign-select leaf's zero weight) is a LUT mask for ``platform``
    rather than a synchronous reset of the leaf's flip-flops (see the module notes).

    Parameters
    ----------
    platform : object or None
        As for :func:`data_registers_reset_less`; None keeps the reset form.
    """
    return family_of(platform) in MASKED_ZERO_FAMILIES
