"""Which QNets the hardware generator builds: dense layers only, for now.

QNet format version 2 adds convolution, max-pool and flatten layers; the
generator does not build them yet, so a QNet that has one is refused with one
clear error before any planning, instead of failing somewhere inside it.
"""

from golden_model.qnet import QLayer

from .errors import HardwareGenerationError

#: The names ``mulfree inspect`` and the QNet header use.
_KIND_NAMES = {"QConv2D": "conv2d", "QMaxPool2D": "maxpool2d", "QFlatten": "flatten"}


def check_supported(qnet, what="model"):
    """Refuse a QNet with a layer the generator cannot build.

    Parameters
    ----------
    qnet : QNet
    what : str
        Names the QNet in the message (a file name or option).

    Raises
    ------
    HardwareGenerationError
        Naming the first such layer and its kind.
    """
    for k, layer in enumerate(qnet.layers):
        if not isinstance(layer, QLayer):
            kind = _KIND_NAMES.get(type(layer).__name__, type(layer).__name__)
            raise HardwareGenerationError(
                f"{what}: layer {k} is a {kind} layer; the hardware generator builds dense "
                "layers only (expected a QNet of dense layers, format version 1)")
