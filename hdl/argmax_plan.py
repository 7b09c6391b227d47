"""Planning side of :mod:`hdl.argmax`: class width, latency and estimate (no Amaranth)."""

__all__ = ["class_width", "estimate", "LATENCY"]

#: Cycles from the last input beat to the output: the beat's maximum, then the merge.
LATENCY = 2


def class_width(n_classes):
    """Width of the class index: ``max(1, ceil(log2(n_classes)))``."""
    return max(1, (int(n_classes) - 1).bit_length())


def estimate(n_classes, lanes, logit_width):
    """Resources, cycles per image and latency.

    One beat per cycle, one cycle for the last beat's merge, one to hand on;
    the class is ready :data:`LATENCY` cycles after the last beat.
    """
    beats = -(-n_classes // lanes)
    index = class_width(n_classes)
    return {
        "lut": lanes * (2 * logit_width + index) + n_classes,
        # logits, running maximum, the beat's maximum, flags
        "ff": n_classes * logit_width + 2 * (logit_width + index) + 8,
        "cycles": beats + LATENCY,
        "latency": LATENCY,
    }
