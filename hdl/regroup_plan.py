"""Planning side of :mod:`hdl.regroup`: when it is a wire, and its estimate (no Amaranth)."""

__all__ = ["is_passthrough", "estimate"]


def is_passthrough(in_lanes, out_lanes, length):
    return in_lanes == out_lanes and length % out_lanes == 0


def estimate(element_width, in_lanes, out_lanes, length):
    """Resources and cycles per vector (one input beat per cycle at best)."""
    beats_in = -(-length // in_lanes)
    words_out = -(-length // out_lanes)
    if is_passthrough(in_lanes, out_lanes, length):
        return {"lut": 0, "ff": 0, "cycles": beats_in}
    slots = -(-(in_lanes + out_lanes) // out_lanes) * out_lanes
    return {
        "lut": slots * element_width * (1 + in_lanes // 2) + 16,
        "ff": slots * element_width + 16,
        "cycles": max(beats_in, words_out),
    }
