"""Which QNets the hardware generator builds.

Dense layers (format version 1), and convolutions, max-pools and flatten
(version 2) where the stream units exist: a max-pool right after a
convolution (on its values or power-of-two codes).
Anything else is refused with one clear error before any planning, instead
of failing somewhere inside it.
"""

from golden_model.qnet import QConv2D, QFlatten, QLayer, QMaxPool2D

from .errors import HardwareGenerationError

#: The names ``mulfree inspect`` and the QNet header use.
_KIND_NAMES = {"QConv2D": "conv2d", "QMaxPool2D": "maxpool2d", "QFlatten": "flatten"}


def has_map_layers(qnet):
    """Whether ``qnet`` has a convolution, max-pool or flatten layer."""
    return any(isinstance(layer, QConv2D | QMaxPool2D | QFlatten) for layer in qnet.layers)


def check_supported(qnet, what="model", maps=False):
    """Refuse a QNet with a layer the generator cannot build.

    Parameters
    ----------
    qnet : QNet
    what : str
        Names the QNet in the message (a file name or option).
    maps : bool
        Whether the caller takes convolutional QNets: planning, ``generate``,
        ``sim``, ``build``, ``run`` and sweeps do; False refuses them (for a
        flow that runs dense layers only).

    Raises
    ------
    HardwareGenerationError
        Naming the first such layer and its kind.
    """
    for k, layer in enumerate(qnet.layers):
        if not maps and not isinstance(layer, QLayer):
            kind = _KIND_NAMES.get(type(layer).__name__, type(layer).__name__)
            raise HardwareGenerationError(
                f"{what}: layer {k} is a {kind} layer; this flow runs dense layers only "
                "(expected a QNet of dense layers, format version 1; mulfree generate "
                "builds convolutional QNets)")
        if isinstance(layer, QMaxPool2D):
            previous = qnet.layers[k - 1] if k else None
            if not isinstance(previous, QConv2D):
                raise HardwareGenerationError(
                    f"{what}: layer {k} is a maxpool2d layer after "
                    f"{_describe(previous)}; the hardware generator builds a max-pool only "
                    "right after a convolution")
        elif not isinstance(layer, QLayer | QConv2D | QFlatten):
            kind = _KIND_NAMES.get(type(layer).__name__, type(layer).__name__)
            raise HardwareGenerationError(
                f"{what}: layer {k} is a {kind} layer; the hardware generator builds dense, "
                "conv2d, maxpool2d and flatten layers")


def _describe(layer):
    if layer is None:
        return "the input"
    return "a " + _KIND_NAMES.get(type(layer).__name__, "dense") + " layer"
