"""Planning side of :mod:`hdl.weight_memory`: the logic around loadable storage (no Amaranth)."""

__all__ = ["estimate"]


def estimate(plan):
    """LUTs around the storage: the shared address multiplexer, slice write
    enables and, with several banks, the read multiplexer."""
    address_bits = max(1, (plan.weight_depth - 1).bit_length())
    lut = address_bits + plan.weight_slices
    if plan.spram_banks > 1:
        lut += plan.weight_word_bits * (plan.spram_banks - 1)
    return {"lut": lut, "ff": 1 if plan.spram_banks > 1 else 0}
