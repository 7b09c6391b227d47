"""The layer kinds of a QNet, their parameters and the checks of the contract.

Members
-------
InputSpec, QLayer, QConv2D, QMaxPool2D, QFlatten
    The input and the layer kinds.
validate
    Check a whole QNet against the contract (raises :class:`QNetFormatError`).
"""

import math
from dataclasses import dataclass

import numpy as np

from golden_model.conv2d import PADDINGS, conv_geometry
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


class _Requantized:
    """Activation and saturation shared by the layers with weights (per output unit/channel)."""

    @property
    def signed_out(self):
        """Whether the saturated activation is signed (tlin/linear)."""
        return self.activation not in UNSIGNED_ACTIVATIONS

    def saturation_range(self):
        """Inclusive range of the saturated activation."""
        return code_range(self.out_bits, self.signed_out)

    def activate(self, z):
        """Activation and saturation of integer ``z`` (before any power-of-two code).

        ``z`` is ``(batch, positions * n_out)``, the unit fastest (one position
        for a dense layer).
        """
        t = np.tile(self.threshold.astype(np.int64), z.shape[-1] // self.n_out)
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


@dataclass(eq=False)
class QLayer(_Requantized):
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


@dataclass(eq=False)
class QConv2D(_Requantized):
    """A convolution of a QNet, channels-last; per output channel like a dense unit.

    ``acc[y, x, j] = sum_{dy, dx, c} W[j, dy, dx, c] * a[y*s + dy - top, x*s + dx - left, c]``
    where a position outside the map reads ``pad_value[c]``; then requantize,
    activation, saturation and power-of-two code per channel ``j``, exactly as
    for a :class:`QLayer` unit.

    Parameters
    ----------
    weights : ndarray of int, shape (C_out, k, k, C_in)
    bias, shift, threshold : ndarray of int, shape (C_out,)
    in_shape : (int, int, int)
        ``(H, W, C_in)`` of the input map.
    stride : {1, 2}
    padding : {"same", "valid"}
        ``same``: ``ceil(H / stride)`` outputs per axis, padded
        ``(out - 1) * stride + k - H`` positions in all, the odd one after;
        ``valid``: no padding.
    pad_value : ndarray of int, shape (C_in,)
        The padding per channel: a raw pixel value for the first layer (the
        float model padded raw pixels with it before normalising), 0 after.
    weight_mode, activation, out_bits, pow2, e_max
        As for :class:`QLayer`.
    """

    weights: np.ndarray
    bias: np.ndarray
    shift: np.ndarray
    in_shape: tuple = ()
    stride: int = 1
    padding: str = "same"
    pad_value: np.ndarray = None
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
        self.in_shape = tuple(self.in_shape)
        if self.threshold is None:
            self.threshold = np.zeros(self.weights.shape[:1], dtype=np.int64)
        self.threshold = np.asarray(self.threshold)
        if self.pad_value is None:
            self.pad_value = np.zeros(self.weights.shape[-1:], dtype=np.int64)
        self.pad_value = np.asarray(self.pad_value)

    @property
    def n_out(self):
        """``C_out``: the units that requantize, one per channel."""
        return int(self.weights.shape[0])

    @property
    def kernel(self):
        return int(self.weights.shape[1])

    @property
    def matrix(self):
        """The weights as ``(C_out, k*k*C_in)`` rows in ``(dy, dx, c)`` order (int64)."""
        return self.weights.astype(np.int64).reshape(self.n_out, -1)

    @property
    def pads(self):
        """``((top, bottom), (left, right))``."""
        return tuple(conv_geometry(n, self.kernel, self.stride, self.padding)[1]
                     for n in self.in_shape[:2])

    @property
    def out_shape(self):
        h, w = (conv_geometry(n, self.kernel, self.stride, self.padding)[0]
                for n in self.in_shape[:2])
        return (h, w, self.n_out)


@dataclass(eq=False)
class QMaxPool2D:
    """Maximum over ``size x size`` windows, stride ``size``, of a channels-last map.

    It takes the values the previous layer hands on; the power-of-two code is
    monotone, so that equals pooling the saturated activations before coding
    (which is what hardware does). A remainder row or column is dropped.
    """

    in_shape: tuple
    size: int = 2

    def __post_init__(self):
        self.in_shape = tuple(self.in_shape)

    @property
    def out_shape(self):
        h, w, c = self.in_shape
        return (h // self.size, w // self.size, c)


@dataclass(eq=False)
class QFlatten:
    """A channels-last map ``(H, W, C)`` read as a vector of ``H*W*C`` (channel fastest)."""

    in_shape: tuple

    def __post_init__(self):
        self.in_shape = tuple(self.in_shape)

    @property
    def out_shape(self):
        return (math.prod(self.in_shape),)


#: The layers that take a map; a dense layer takes a vector.
MAP_LAYERS = (QConv2D, QMaxPool2D, QFlatten)
#: Largest convolution kernel side.
MAX_KERNEL = 15


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
    shape = _input_shape(spec, qnet.layers[0])
    last = len(qnet.layers) - 1
    for k, layer in enumerate(qnet.layers):
        name = f"layers[{k}]"
        if isinstance(layer, QLayer):
            if len(shape) != 1:
                _fail(name, f"a flatten before a dense layer (its input is a {_dims(shape)} map)",
                      "a dense layer")
            _check_dense(name, layer, shape[0])
        elif isinstance(layer, MAP_LAYERS):
            if k == last:
                _fail(name, "a dense output layer", type(layer).__name__)
            if len(shape) != 3:
                _fail(name, "a dense layer after a flatten", type(layer).__name__)
            if layer.in_shape != shape:
                _fail(f"{name}.in_shape", f"{list(shape)} (the previous layer's output)",
                      list(layer.in_shape))
            if isinstance(layer, QConv2D):
                _check_conv(name, layer, k, spec)
            elif isinstance(layer, QMaxPool2D):
                _check_int(f"{name}.size", layer.size, 1, min(shape[:2]))
        else:
            _fail(name, "a QLayer, QConv2D, QMaxPool2D or QFlatten", type(layer).__name__)
        if not isinstance(layer, QMaxPool2D | QFlatten):
            _check_requantizer(name, layer, k == last)
        shape = (layer.n_out,) if isinstance(layer, QLayer) else layer.out_shape
        if math.prod(shape) > MAX_INPUTS:
            _fail(f"{name} output", f"at most {MAX_INPUTS} values", math.prod(shape))
    total = sum(int(getattr(layer, "weights", np.zeros(0)).size) for layer in qnet.layers)
    if total > MAX_WEIGHTS:
        _fail("layers", f"at most {MAX_WEIGHTS} weights in all", total)


def _dims(shape):
    return "x".join(str(int(d)) for d in shape)


def _input_shape(spec, first):
    """The input as a vector, or as an ``(H, W, C)`` map when the first layer takes one."""
    if not isinstance(first, MAP_LAYERS):
        return (spec.n_inputs,)
    shape = tuple(int(d) for d in spec.image_shape)
    if len(shape) == 2:
        shape += (1,)
    if len(shape) != 3:
        _fail("input.image_shape", "(H, W) or (H, W, C) before a convolution or pool",
              list(shape))
    return shape


def _check_weights(name, layer, shape):
    _check_array(f"{name}.weights", layer.weights, shape, -1, 1)
    if layer.weight_mode == "binary" and layer.weights.size and np.any(layer.weights == 0):
        _fail(f"{name}.weights", "only -1 and +1 for a binary layer", "a 0")


def _check_dense(name, layer, n_in):
    w = layer.weights
    if w.ndim != 2 or w.shape[0] < 1:
        _fail(f"{name}.weights", "a 2-D array (n_out, n_in) with n_out >= 1", w.shape)
    _check_weights(name, layer, (w.shape[0], n_in))


def _check_conv(name, layer, k, spec):
    h, w, c = layer.in_shape
    weights = layer.weights
    if weights.ndim != 4 or not 1 <= weights.shape[0] or weights.shape[1] != weights.shape[2] \
            or not 1 <= weights.shape[1] <= MAX_KERNEL:
        _fail(f"{name}.weights", f"a 4-D array (C_out, k, k, C_in) with C_out >= 1 and "
              f"1 <= k <= {MAX_KERNEL}", weights.shape)
    _check_weights(name, layer, (weights.shape[0], weights.shape[1], weights.shape[1], c))
    _check_int(f"{name}.stride", layer.stride, 1, 2)
    if layer.padding not in PADDINGS:
        _fail(f"{name}.padding", f"one of {PADDINGS}", repr(layer.padding))
    if layer.padding == "valid" and layer.kernel > min(h, w):
        _fail(f"{name}.weights", f"a kernel of at most {min(h, w)} for 'valid' padding of a "
              f"{h}x{w} map", layer.kernel)
    # Only the first layer's input has an offset (the pixel mean) that padding must match.
    hi = (1 << spec.bits) - 1 if k == 0 else 0
    _check_array(f"{name}.pad_value", layer.pad_value, (c,), 0, hi)


def _check_requantizer(name, layer, last):
    if layer.weight_mode not in WEIGHT_MODES:
        _fail(f"{name}.weight_mode", f"one of {WEIGHT_MODES}", repr(layer.weight_mode))
    if layer.activation not in ACTIVATIONS:
        _fail(f"{name}.activation", f"one of {ACTIVATIONS}", repr(layer.activation))
    m = layer.n_out
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
    if last:
        if layer.activation != "linear":
            _fail(f"{name}.activation", "'linear' for the output layer",
                  repr(layer.activation))
        if layer.pow2:
            _fail(f"{name}.pow2", "false for the output layer", "true")


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
