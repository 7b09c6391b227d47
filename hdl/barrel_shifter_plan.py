"""Planning side of :mod:`hdl.barrel_shifter`: its estimate (no Amaranth)."""

__all__ = ["estimate"]


def estimate(width, max_amount):
    """LUT4 estimate: one 2:1 mux (a LUT) per bit per stage; combinational."""
    stages = max(0, int(max_amount).bit_length())
    return {"lut": width * stages, "ff": 0, "cycles": 0}
