"""Planning side of :mod:`hdl.adder_tree`: its latency and resource estimate (no Amaranth)."""

__all__ = ["tree_latency", "level_widths", "estimate"]


def tree_latency(lanes):
    """Cycles from ``valid_in`` to ``valid_out``: input and leaf registers plus one per level."""
    return 2 + max(0, int(lanes - 1).bit_length())


def level_widths(lanes, leaf_width, out_width):
    """``(nodes, width)`` of each level above the leaves, up to the root."""
    widths, n, width = [], lanes, leaf_width
    while n > 1:
        n = (n + 1) // 2
        width = min(width + 1, out_width)
        widths.append((n, width))
    return widths


def estimate(lanes, leaf_width, out_width):
    """Resource estimate of one tree (LUT4 + carry fabric, FFs)."""
    # One LUT per leaf bit for the xor-and-gate, one per adder bit.
    lut = lanes * leaf_width
    # The input register (value, nonzero, negative) and the leaf register (value, carry).
    ff = lanes * (leaf_width + 1) + lanes * (leaf_width + 1)
    for n, width in level_widths(lanes, leaf_width, out_width):
        lut += (n if lanes > 1 else 0) * (width + 1)
        ff += n * (width + 1)
    return {"lut": lut, "ff": ff, "cycles": tree_latency(lanes)}
