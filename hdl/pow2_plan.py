"""Planning side of :mod:`hdl.pow2`: code width and the coders' estimates (no Amaranth)."""

__all__ = ["exponent_bits", "code_width", "estimate_encoder", "estimate_decoder"]


def exponent_bits(e_max):
    """Bits of the exponent field of a code with exponents up to ``e_max``."""
    return max(1, int(e_max).bit_length())


def code_width(e_max):
    """Bits of one power-of-two code: ``nonzero``, ``sign`` and the exponent."""
    return 2 + exponent_bits(e_max)


def estimate_encoder(width, e_max):
    """LUT estimate: absolute value, a priority chain over the bits, a clamp."""
    e_bits = exponent_bits(e_max)
    return {"lut": width + width * e_bits // 2 + e_bits, "ff": 0, "cycles": 0}


def estimate_decoder(e_max):
    """LUT estimate: a barrel shift of a one (``e_max + 1`` output bits)."""
    e_bits = exponent_bits(e_max)
    return {"lut": (int(e_max) + 1) * e_bits // 2 + 1, "ff": 0, "cycles": 0}
