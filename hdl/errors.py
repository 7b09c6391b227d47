"""Errors of the hardware generator."""

from golden_model.errors import MulfreeError


class HardwareGenerationError(MulfreeError):
    """A QNet, folding or generator option the hardware generator cannot build.

    Raised before any elaboration work; the message names the layer and the
    parameter and says what was expected.
    """
