"""The layer kinds of a QNet, their parameters and the checks of the contract.

Members
-------
InputSpec, QLayer
    The input and the dense layer.
validate
    Check a whole QNet against the contract (raises :class:`QNetFormatError`).
"""

import math
from dataclasses import dataclass

import numpy as np

from golden_model.errors import QNetFormatError
from golden_model.limits import MAX_IMAGE_DIMS, MAX_INPUTS, MAX_LAYERS, MAX_UNITS, MAX_WEIGHTS

from .codes import code_range

WEIGHT_MODES = ("ternary", "binary")
ACTIVATIONS = ("relu", "trec", "tlin", "linear")
UNSIGNED_ACTIVATIONS = ("relu", "trec")

#: Bounds that keep every intermediate inside int64 with room to spare.
MAX_INPUT_BITS = 16
MAX_OUT_BITS = 32
MAX_SHIFT = 31
MAX_E_MAX = 30
MAX_WIDTH = 48


@dataclass(frozen=True)
class InputSpec:
    """What the first layer receives: raw unsigned pixels.

    Parameters
    ----------
    n_inputs : int
        Length of the input vector.
    bits : int
        ``B_in``: every input is in ``[0, 2**bits)``.
    dataset : str
        Name of the dataset the network was trained on (informative).
    image_shape : tuple of int
        Shape of one image before flattening (informative).
    """

    n_inputs: int
    bits: int
    dataset: str = ""
    image_shape: tuple = ()


@dataclass(eq=False)
class QLayer:
    """One dense layer of a QNet.

    Parameters
    ----------
    weights : ndarray of int, shape (n_out, n_in)
        ``W[j, i]`` in {-1, 0, +1} (ternary) or {-1, +1} (binary).
    bias : ndarray of int, shape (n_out,)
        ``b[j]``, added to the accumulator before the shift.
    shift : ndarray of int, shape (n_out,)
        ``s[j]``; arithmetic right shift (floor), or left shift where negative.
    weight_mode : {"ternary", "binary"}
    activation : {"relu", "trec", "tlin", "linear"}
        Ignored for the last layer, which must be ``linear``.
    threshold : ndarray of int, shape (n_out,), optional
        ``t[j] >= 0`` for trec/tlin; zeros (the default) for relu/linear.
    out_bits : int
        Saturation width ``B`` of the activation (unused for the last layer).
    pow2 : bool
        Hand on the power-of-two code of the activation instead of its value.
    e_max : int
        Largest exponent of the power-of-two code.
    """

    weights: np.ndarray
    bias: np.ndarray
    shift: np.ndarray
    weight_mode: str = "ternary"
    activation: str = "relu"
    threshold: np.ndarray = None
    out_bits: int = 8
    pow2: bool = False
    e_max: int = 7

    def __post_init__(self):
        self.weights = np.asarray(self.weights)
        self.bias = np.asarray(self.bias)
        self.shift = np.asarray(self.shift)
        if self.threshold is None:
            self.threshold = np.zeros(self.weights.shape[:1], dtype=np.int64)
        self.threshold = np.asarray(self.threshold)

    @property
    def n_out(self):
        return int(self.weights.shape[0])

    @property
    def n_in(self):
        return int(self.weights.shape[1])

    @property
    def signed_out(self):
        """Whether the saturated activation is signed (tlin/linear)."""
        return self.activation not in UNSIGNED_ACTIVATIONS

    def saturation_range(self):
        """Inclusive range of the saturated activation."""
        return code_range(self.out_bits, self.signed_out)

    def activate(self, z):
        """Activation and saturation of integer ``z`` (before any power-of-two code)."""
        t = self.threshold.astype(np.int64)
        if self.activation == "relu":
            y = np.maximum(z, 0)
        elif self.activation == "trec":
            y = np.where(z > t, z, 0)
        elif self.activation == "tlin":
            y = np.where(np.abs(z) > t, z, 0)
        else:
            y = z
        lo, hi = self.saturation_range()
        return np.clip(y, lo, hi)


def _fail(field_name, expected, got):
    raise QNetFormatError(f"{field_name}: expected {expected}, got {got}")


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        _fail(name, f"an integer in [{lo}, {hi}]", repr(value))
    if not lo <= int(value) <= hi:
        _fail(name, f"an integer in [{lo}, {hi}]", int(value))


def _check_array(name, array, shape, lo=None, hi=None):
    if not isinstance(array, np.ndarray) or not (
            np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
        _fail(name, "an integer array", getattr(array, "dtype", type(array).__name__))
    if array.shape != shape:
        _fail(name, f"shape {shape}", array.shape)
    if array.size and lo is not None and array.min() < lo:
        _fail(name, f"values >= {lo}", int(array.min()))
    if array.size and hi is not None and array.max() > hi:
        _fail(name, f"values <= {hi}", int(array.max()))


def validate(qnet):
    spec = qnet.input
    if not isinstance(spec, InputSpec):
        _fail("input", "an InputSpec", type(spec).__name__)
    _check_int("input.n_inputs", spec.n_inputs, 1, MAX_INPUTS)
    _check_int("input.bits", spec.bits, 1, MAX_INPUT_BITS)
    if not isinstance(spec.dataset, str):
        _fail("input.dataset", "a string", repr(spec.dataset)[:60])
    _check_image_shape(spec)
    if len(qnet.layers) > MAX_LAYERS:
        _fail("layers", f"at most {MAX_LAYERS} layers", len(qnet.layers))
    if not qnet.layers:
        _fail("layers", "at least one layer", "none")
    n_in = spec.n_inputs
    last = len(qnet.layers) - 1
    for k, layer in enumerate(qnet.layers):
        name = f"layers[{k}]"
        if not isinstance(layer, QLayer):
            _fail(name, "a QLayer", type(layer).__name__)
        if layer.weight_mode not in WEIGHT_MODES:
            _fail(f"{name}.weight_mode", f"one of {WEIGHT_MODES}", repr(layer.weight_mode))
        if layer.activation not in ACTIVATIONS:
            _fail(f"{name}.activation", f"one of {ACTIVATIONS}", repr(layer.activation))
        w = layer.weights
        if w.ndim != 2 or w.shape[0] < 1:
            _fail(f"{name}.weights", "a 2-D array (n_out, n_in) with n_out >= 1", w.shape)
        _check_array(f"{name}.weights", w, (w.shape[0], n_in), -1, 1)
        if layer.weight_mode == "binary" and w.size and np.any(w == 0):
            _fail(f"{name}.weights", "only -1 and +1 for a binary layer", "a 0")
        m = w.shape[0]
        if m > MAX_UNITS:
            _fail(f"{name}.weights", f"at most {MAX_UNITS} rows (units)", m)
        _check_array(f"{name}.bias", layer.bias, (m,), -(1 << 40), 1 << 40)
        _check_array(f"{name}.shift", layer.shift, (m,), -MAX_SHIFT, MAX_SHIFT)
        _check_array(f"{name}.threshold", layer.threshold, (m,), 0, 1 << 40)
        _check_int(f"{name}.out_bits", layer.out_bits, 1, MAX_OUT_BITS)
        _check_int(f"{name}.e_max", layer.e_max, 0, MAX_E_MAX)
        if not isinstance(layer.pow2, bool | np.bool_):
            _fail(f"{name}.pow2", "true or false", repr(layer.pow2))
        if layer.activation in ("relu", "linear") and np.any(layer.threshold != 0):
            _fail(f"{name}.threshold", f"zeros for a {layer.activation} layer", "non-zero")
        if k == last:
            if layer.activation != "linear":
                _fail(f"{name}.activation", "'linear' for the output layer",
                      repr(layer.activation))
            if layer.pow2:
                _fail(f"{name}.pow2", "false for the output layer", "true")
        n_in = m
    total = sum(int(layer.weights.size) for layer in qnet.layers)
    if total > MAX_WEIGHTS:
        _fail("layers", f"at most {MAX_WEIGHTS} weights in all", total)


def _check_image_shape(spec):
    """Positive sizes whose product (in Python integers: no int64 wrap-around) is n_inputs."""
    shape = tuple(spec.image_shape)
    if not shape:
        return
    expected = (f"positive sizes whose product is n_inputs={spec.n_inputs} "
                f"(at most {MAX_IMAGE_DIMS} of them)")
    if len(shape) > MAX_IMAGE_DIMS or any(
            isinstance(d, bool) or not isinstance(d, int | np.integer) or not 1 <= d <= MAX_INPUTS
            for d in shape):
        _fail("input.image_shape", expected, list(shape)[:MAX_IMAGE_DIMS + 1])
    if math.prod(int(d) for d in shape) != spec.n_inputs:
        _fail("input.image_shape", expected, [int(d) for d in shape])
