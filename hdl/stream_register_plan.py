"""Planning side of :mod:`hdl.stream_register`: its estimate (no Amaranth)."""

__all__ = ["estimate"]


def estimate(width):
    """Resources (LUT4, FFs) and latency (cycles) of a register on ``width`` payload bits."""
    return {"lut": 2, "ff": width + 1, "cycles": 1}
