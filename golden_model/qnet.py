"""The QNet: an integer-only network, its golden forward and its file format.

A QNet is the one contract between the trained model and the hardware. Its
integer forward (:meth:`QNet.forward`) is the reference that every hardware
check compares against, exactly. The semantics (see ``DESIGN.md``):

- input ``x``: ``n_inputs`` unsigned integers, ``0 <= x < 2**input.bits``;
- dense layer ``k``: ``acc[j] = sum_i W[j, i] * a[i]`` with ``W`` in
  {-1, 0, +1} (``ternary``) or {-1, +1} (``binary``);
- requantize: ``z[j] = (acc[j] + b[j]) >> s[j]`` (arithmetic shift, floor);
  a negative ``s[j]`` is a left shift by ``-s[j]``;
- activation on the integer ``z``: ``relu`` ``max(z, 0)``; ``trec``
  ``z if z > t[j] else 0``; ``tlin`` ``z if |z| > t[j] else 0``; ``linear``
  ``z``; then saturate to ``out_bits`` bits, unsigned for relu/trec, signed
  for tlin/linear;
- optional power-of-two code: ``y != 0`` becomes ``sign * 2**e`` with ``e``
  the position of the leading one of ``|y|``, plus one if the next lower bit
  is set, clamped to ``[0, e_max]``; ``0`` stays ``0``;
- the last layer's ``z`` (no activation, no saturation) is the logit vector;
  the class is the argmax, lowest index on ties.

Members
-------
InputSpec, QLayer, LayerWidths, QNet
    The data model.
pow2_encode, pow2_decode
    The power-of-two activation code.
signed_bits, unsigned_bits, code_range
    Bit widths that hold an integer range, and the range of a width.
"""

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden_model import bounded_json, json_schema
from golden_model.bounded_json import JSONLimitError
from golden_model.errors import QNetFormatError
from golden_model.json_schema import Bool, Const, Int, List, Nullable, Number, Object, Str
from golden_model.limits import (
    MAX_FILE_BYTES,
    MAX_HEADER_BYTES,
    MAX_IMAGE_DIMS,
    MAX_INPUTS,
    MAX_LAYERS,
    MAX_NAME_CHARS,
    MAX_UNITS,
    MAX_WEIGHTS,
)
from golden_model.npz_archive import ArchiveError, NpzArchive
from golden_model.output_files import atomic_output

FORMAT_NAME = "mulfree.qnet"
FORMAT_VERSION = 1

WEIGHT_MODES = ("ternary", "binary")
ACTIVATIONS = ("relu", "trec", "tlin", "linear")
UNSIGNED_ACTIVATIONS = ("relu", "trec")

#: Bounds that keep every intermediate inside int64 with room to spare.
MAX_INPUT_BITS = 16
MAX_OUT_BITS = 32
MAX_SHIFT = 31
MAX_E_MAX = 30
MAX_WIDTH = 48


def signed_bits(lo, hi):
    """Smallest two's-complement width that holds every integer in ``[lo, hi]``.

    Parameters
    ----------
    lo, hi : int
        The inclusive range.

    Returns
    -------
    int
        Width ``w >= 1`` with ``-2**(w-1) <= lo`` and ``hi <= 2**(w-1) - 1``.
    """
    lo, hi = int(lo), int(hi)
    return 1 + max(hi.bit_length() if hi > 0 else 0, (-lo - 1).bit_length() if lo < 0 else 0)


def unsigned_bits(hi):
    """Smallest unsigned width (at least 1) that holds ``[0, hi]``."""
    return max(1, int(hi).bit_length())


def code_range(bits, signed):
    """Inclusive ``(low, high)`` of a ``bits``-bit code."""
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def pow2_encode(y, e_max):
    """Power-of-two code of integer activations.

    Parameters
    ----------
    y : array_like of int
        Saturated activations.
    e_max : int
        Largest exponent.

    Returns
    -------
    sign : ndarray of int64
        -1, 0 or +1 (0 exactly where ``y == 0``).
    exponent : ndarray of int64
        ``e`` in ``[0, e_max]`` where ``y != 0``, else 0.
    """
    y = np.asarray(y, dtype=np.int64)
    magnitude = np.abs(y)
    # Leading-one position from the float64 exponent; above 2**53 the
    # conversion may round up to the next power of two, which the shift undoes.
    lead = np.maximum(np.frexp(magnitude.astype(np.float64))[1].astype(np.int64) - 1, 0)
    lead -= (magnitude >> lead) == 0
    lead = np.maximum(lead, 0)
    below = np.where(lead > 0, (magnitude >> np.maximum(lead - 1, 0)) & 1, 0)
    exponent = np.clip(lead + below, 0, e_max)
    sign = np.sign(y)
    return sign, np.where(sign == 0, 0, exponent)


def pow2_decode(sign, exponent):
    """Integer value ``sign * 2**exponent`` of a power-of-two code."""
    return np.asarray(sign, dtype=np.int64) << np.asarray(exponent, dtype=np.int64)


def _shift(values, shift):
    """``values >> shift`` (floor) where ``shift >= 0``, ``values << -shift`` elsewhere."""
    values = np.asarray(values, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    return np.where(shift >= 0, values >> np.maximum(shift, 0), values << np.maximum(-shift, 0))


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


@dataclass(frozen=True)
class LayerWidths:
    """Worst-case bounds of one layer's intermediates and the widths that hold them.

    ``in_*`` is the range of the layer's input values (after the previous
    layer's saturation and power-of-two code); ``acc_*`` of ``W @ a``;
    ``sum_*`` of ``acc + b``; ``z_*`` of the shifted value; ``out_*`` of what
    the layer hands on (saturated activation, or its power-of-two value; for
    the last layer the logits, i.e. ``z``). All ``*_bits`` are two's-complement
    widths except ``in_bits``, which is unsigned where ``in_min >= 0``.
    """

    in_min: int
    in_max: int
    in_bits: int
    in_signed: bool
    acc_min: int
    acc_max: int
    acc_bits: int
    sum_min: int
    sum_max: int
    sum_bits: int
    z_min: int
    z_max: int
    z_bits: int
    out_min: int
    out_max: int

    def to_json(self):
        return {name: (bool(v) if isinstance(v, bool | np.bool_) else int(v))
                for name, v in self.__dict__.items()}


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


@dataclass(eq=False)
class QNet:
    """An integer-only network; validated on construction.

    Parameters
    ----------
    input : InputSpec
    layers : list of QLayer
        The last layer produces the logits.
    meta : dict
        Free-form JSON-serialisable information (training config, accuracy,
        quantization report).

    Raises
    ------
    QNetFormatError
        If any field breaks the QNet contract; the message names the field.
    """

    input: InputSpec
    layers: list
    meta: dict = field(default_factory=dict)
    source: str = field(default="", repr=False)

    def __post_init__(self):
        self.layers = list(self.layers)
        _validate(self)
        self.widths = _compute_widths(self)

    # -- semantics ---------------------------------------------------------

    @property
    def n_classes(self):
        return self.layers[-1].n_out

    def forward_trace(self, x):
        """Integer forward with every intermediate.

        Parameters
        ----------
        x : array_like of int, shape (n_inputs,) or (batch, n_inputs)

        Returns
        -------
        list of dict
            Per layer, int64 arrays of shape (batch, n_out): ``input`` (what
            the layer received), ``acc``, ``z``, ``y`` (saturated activation;
            equals ``z`` for the last layer), ``out`` (what is handed on) and,
            for power-of-two layers, ``sign`` and ``exponent``.
        """
        a = self._check_input(x)
        trace = []
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            w = layer.weights.astype(np.int64)
            acc = a @ w.T
            z = _shift(acc + layer.bias.astype(np.int64), layer.shift)
            step = {"input": a, "acc": acc, "z": z}
            if k == last:
                step["y"] = step["out"] = z
            else:
                y = layer.activate(z)
                step["y"] = y
                if layer.pow2:
                    sign, exponent = pow2_encode(y, layer.e_max)
                    step["sign"], step["exponent"] = sign, exponent
                    step["out"] = pow2_decode(sign, exponent)
                else:
                    step["out"] = y
            trace.append(step)
            a = step["out"]
        return trace

    def forward(self, x):
        """Integer forward: the golden reference.

        Parameters
        ----------
        x : array_like of int, shape (n_inputs,) or (batch, n_inputs)
            Raw unsigned pixels.

        Returns
        -------
        logits : ndarray of int64, shape (batch, n_classes)
        classes : ndarray of int64, shape (batch,)
            Argmax of the logits, lowest index on ties.
        """
        logits = self.forward_trace(x)[-1]["out"]
        return logits, np.argmax(logits, axis=1).astype(np.int64)

    def predict(self, x):
        """Classes only (see :meth:`forward`)."""
        return self.forward(x)[1]

    def _check_input(self, x):
        a = np.asarray(x)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != self.input.n_inputs:
            raise QNetFormatError(
                f"input: expected shape (batch, {self.input.n_inputs}), got {np.shape(x)}")
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise QNetFormatError(f"input: expected integer pixels, got dtype {a.dtype}")
        a = a.astype(np.int64)
        if a.size and (a.min() < 0 or a.max() >= (1 << self.input.bits)):
            raise QNetFormatError(
                f"input: pixels must be in [0, {(1 << self.input.bits) - 1}] "
                f"({self.input.bits} bits), got [{a.min()}, {a.max()}]")
        return a

    # -- identity and file format -----------------------------------------

    def header(self):
        """The JSON header as a dict (what :meth:`save` writes)."""
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "input": {
                "n_inputs": self.input.n_inputs,
                "bits": self.input.bits,
                "dataset": self.input.dataset,
                "image_shape": list(self.input.image_shape),
            },
            "layers": [
                {
                    "n_in": layer.n_in,
                    "n_out": layer.n_out,
                    "weight_mode": layer.weight_mode,
                    "activation": layer.activation,
                    "out_bits": int(layer.out_bits),
                    "pow2": bool(layer.pow2),
                    "e_max": int(layer.e_max),
                    "widths": widths.to_json(),
                }
                for layer, widths in zip(self.layers, self.widths, strict=True)
            ],
            "meta": self.meta,
        }

    def arrays(self):
        """The integer arrays (what :meth:`save` writes), by name."""
        out = {}
        for k, layer in enumerate(self.layers):
            out[f"layer{k}.weights"] = layer.weights.astype(np.int8)
            out[f"layer{k}.bias"] = layer.bias.astype(np.int64)
            out[f"layer{k}.shift"] = layer.shift.astype(np.int64)
            out[f"layer{k}.threshold"] = layer.threshold.astype(np.int64)
        return out

    def fingerprint(self):
        """SHA-256 (hex) of everything that defines the integer function.

        ``meta`` is left out, so re-saving with other notes keeps the hash.
        """
        header = self.header()
        header.pop("meta")
        digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
        for name, array in sorted(self.arrays().items()):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def save(self, path):
        """Write a ``.qnet.npz`` file atomically (a failed write leaves no file).

        Parameters
        ----------
        path : str or Path
            Missing parent folders are created.

        Raises
        ------
        OutputFileError
            When the file cannot be written (e.g. a full disk); a previous
            file at ``path`` is then unchanged.
        """
        header = json.dumps(self.header(), sort_keys=True).encode()
        arrays = {"header": np.frombuffer(header, dtype=np.uint8), **self.arrays()}
        with atomic_output(path, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path):
        """Read and validate a ``.qnet.npz`` file.

        Raises
        ------
        QNetFormatError
            Naming the file, the field and what was expected. Nothing is
            returned unless everything validates.
        """
        path = Path(path)
        try:
            return _load(path)
        except QNetFormatError as error:
            if str(path) in str(error):
                raise
            raise QNetFormatError(f"{path}: {error}") from None


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


def _validate(qnet):
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


def _activation_range(layer, z_lo, z_hi):
    """Inclusive bounds of the saturated activation for ``z`` in ``[z_lo, z_hi]``."""
    if layer.activation == "linear":
        lo, hi = z_lo, z_hi
    elif layer.activation == "tlin":
        # A threshold sends any z to 0, so 0 is reachable whatever the range.
        lo, hi = min(z_lo, 0), max(z_hi, 0)
    else:
        lo, hi = 0, max(z_hi, 0)
    sat_lo, sat_hi = layer.saturation_range()
    return min(max(lo, sat_lo), sat_hi), max(min(hi, sat_hi), sat_lo)


def _check_left_shift(k, sum_min, sum_max, shift):
    """Refuse a negative shift that would carry ``z`` past ``MAX_WIDTH`` bits.

    Checked before shifting: in int64 the shifted bound could wrap around and
    look small.
    """
    left = np.maximum(-np.asarray(shift, dtype=np.int64), 0)
    if not left.any():
        return
    # Exact two's-complement width of the shifted bounds, in Python integers.
    needed = max(
        signed_bits(int(lo) << int(s), int(hi) << int(s))
        for lo, hi, s in zip(sum_min, sum_max, left, strict=True)
    )
    if needed > MAX_WIDTH:
        _fail(f"layers[{k}] z_bits", f"at most {MAX_WIDTH} bits", needed)


def _compute_widths(qnet):
    widths = []
    lo, hi = 0, (1 << qnet.input.bits) - 1
    last = len(qnet.layers) - 1
    for k, layer in enumerate(qnet.layers):
        w = layer.weights.astype(np.int64)
        pos = (w > 0).sum(axis=1)
        neg = (w < 0).sum(axis=1)
        acc_max = pos * hi - neg * lo
        acc_min = pos * lo - neg * hi
        bias = layer.bias.astype(np.int64)
        sum_min, sum_max = acc_min + bias, acc_max + bias
        _check_left_shift(k, sum_min, sum_max, layer.shift)
        z_min, z_max = _shift(sum_min, layer.shift), _shift(sum_max, layer.shift)
        in_signed = lo < 0
        in_bits = signed_bits(lo, hi) if in_signed else unsigned_bits(hi)
        if k == last:
            out_min, out_max = int(z_min.min()), int(z_max.max())
        else:
            y_lo, y_hi = _activation_range(layer, int(z_min.min()), int(z_max.max()))
            if layer.pow2:
                out_min = int(pow2_decode(*pow2_encode(y_lo, layer.e_max)))
                out_max = int(pow2_decode(*pow2_encode(y_hi, layer.e_max)))
            else:
                out_min, out_max = y_lo, y_hi
        entry = LayerWidths(
            in_min=int(lo), in_max=int(hi), in_bits=int(in_bits), in_signed=bool(in_signed),
            acc_min=int(acc_min.min()), acc_max=int(acc_max.max()),
            acc_bits=signed_bits(acc_min.min(), acc_max.max()),
            sum_min=int(sum_min.min()), sum_max=int(sum_max.max()),
            sum_bits=signed_bits(sum_min.min(), sum_max.max()),
            z_min=int(z_min.min()), z_max=int(z_max.max()),
            z_bits=signed_bits(z_min.min(), z_max.max()),
            out_min=int(out_min), out_max=int(out_max),
        )
        for name in ("acc_bits", "sum_bits", "z_bits"):
            if getattr(entry, name) > MAX_WIDTH:
                _fail(f"layers[{k}] {name}", f"at most {MAX_WIDTH} bits",
                      getattr(entry, name))
        widths.append(entry)
        lo, hi = out_min, out_max
    return widths


# -- loading ----------------------------------------------------------------------------------

_WIDTH_VALUE = Int(-(1 << 63), (1 << 63) - 1)
_WIDTHS = Object({name: Bool() if name == "in_signed" else _WIDTH_VALUE
                  for name in LayerWidths.__dataclass_fields__}, closed=True)
_LAYER = Object({
    "n_in": Int(1, MAX_INPUTS), "n_out": Int(1, MAX_UNITS),
    "weight_mode": Str(WEIGHT_MODES), "activation": Str(ACTIVATIONS),
    "out_bits": Int(1, MAX_OUT_BITS), "pow2": Bool(), "e_max": Int(0, MAX_E_MAX),
    "widths": _WIDTHS,
}, closed=True)
_INPUT = Object({
    "n_inputs": Int(1, MAX_INPUTS), "bits": Int(1, MAX_INPUT_BITS),
    "dataset": Str(max_chars=MAX_NAME_CHARS, optional=True),
    "image_shape": List(Int(1, MAX_INPUTS), max_len=MAX_IMAGE_DIMS, optional=True),
}, closed=True)
_FRACTION = Number(0, 1)
# ``meta`` is free-form, but the fields that mulfree itself reads back
# (inspect, the agreement check) must have the types it writes.
_QUANTIZED_LAYER = Object({
    "index": Int(0, MAX_LAYERS), "scale_error": Number(lo=0), "bias_error": Number(lo=0),
    "step": Nullable(Number(above=0)), "calibrated": Bool(), "sign_flips": Int(0, MAX_UNITS),
    "shift_min": Int(-MAX_SHIFT, MAX_SHIFT), "shift_max": Int(-MAX_SHIFT, MAX_SHIFT),
    "exact": Bool(),
})
_META = Object({
    "agreement": Object({
        "split": Str(max_chars=MAX_NAME_CHARS, optional=True), "n": Int(0, 1 << 62),
        "float_accuracy": _FRACTION, "qnet_accuracy": _FRACTION, "disagreement": _FRACTION,
        "layers": List(Object(), max_len=MAX_LAYERS, optional=True),
    }, optional=True),
    "quantization": Object({
        "layers": List(_QUANTIZED_LAYER, max_len=MAX_LAYERS, optional=True),
        "max_scale_error": Number(lo=0), "max_bias_error": Number(lo=0), "exact": Bool(),
        "logit_scale_log2": Int(-1024, 1024, optional=True),
    }, optional=True),
    "class_names": List(Str(max_chars=MAX_NAME_CHARS), max_len=MAX_UNITS, optional=True),
    "source_model": Str(optional=True),
    "train_config": Object(optional=True),
    "network_config": Object(optional=True),
}, optional=True)
_HEADER = Object({
    "format": Const(FORMAT_NAME), "version": Const(FORMAT_VERSION), "input": _INPUT,
    "layers": List(_LAYER, max_len=MAX_LAYERS), "meta": _META,
}, closed=True)
#: The header and four arrays per layer.
_MAX_MEMBERS = 1 + 4 * MAX_LAYERS


def _load(path):
    if not path.exists():
        raise QNetFormatError(f"{path}: no such file (expected a .qnet.npz QNet file)")
    if not path.is_file():
        raise QNetFormatError(f"{path}: not a file (expected a .qnet.npz QNet file)")
    try:
        with NpzArchive(path, max_file_bytes=MAX_FILE_BYTES, max_members=_MAX_MEMBERS) as archive:
            header = _read_header(archive)
            arrays = _read_arrays(archive, header["layers"])
    except ArchiveError as error:
        if error.member is None:
            raise QNetFormatError(f"{path}: not a readable .npz archive ({error})") from None
        raise QNetFormatError(f"{path}: {error}") from None
    layers = []
    for k, entry in enumerate(header["layers"]):
        layers.append(QLayer(
            weights=arrays[f"layer{k}.weights"], bias=arrays[f"layer{k}.bias"],
            shift=arrays[f"layer{k}.shift"], threshold=arrays[f"layer{k}.threshold"],
            weight_mode=entry["weight_mode"], activation=entry["activation"],
            out_bits=entry["out_bits"], pow2=entry["pow2"], e_max=entry["e_max"]))
    spec = header["input"]
    qnet = QNet(
        input=InputSpec(n_inputs=spec["n_inputs"], bits=spec["bits"],
                        dataset=spec.get("dataset", ""),
                        image_shape=tuple(spec.get("image_shape", ()))),
        layers=layers, meta=header.get("meta", {}), source=str(path))
    for k, (entry, widths) in enumerate(zip(header["layers"], qnet.widths, strict=True)):
        if entry["widths"] != widths.to_json():
            _fail(f"header.layers[{k}].widths", f"{widths.to_json()} (recomputed from the arrays)",
                  entry["widths"])
    return qnet


def _read_header(archive):
    """The JSON header, parsed within bounds and checked field by field against the schema."""
    if "header" not in archive.names():
        _fail("field 'header'", "the JSON header", "missing")
    member = archive.open_member("header", MAX_HEADER_BYTES)
    if member.dtype != np.uint8 or len(member.shape) != 1:
        _fail("header", "a 1-D uint8 array of JSON bytes", member.dtype)
    try:
        header = bounded_json.loads(member.read().tobytes(), max_bytes=MAX_HEADER_BYTES)
    except JSONLimitError as error:
        raise QNetFormatError(f"field 'header': {error}") from None
    if not isinstance(header, dict):
        _fail("header", "a JSON object", type(header).__name__)
    try:
        json_schema.check(header, _HEADER, "header")
    except json_schema.SchemaError as error:
        raise QNetFormatError(str(error)) from None
    # Sizes from the header, in Python integers, before any array is read.
    total = sum(entry["n_in"] * entry["n_out"] for entry in header["layers"])
    if total > MAX_WEIGHTS:
        _fail("header.layers", f"at most {MAX_WEIGHTS} weights in all", f"{total} declared")
    return header


def _read_arrays(archive, layer_specs):
    """Every layer's arrays, each refused before it is decompressed unless the header's
    shape and dtype account for it."""
    expected = {}
    for k, entry in enumerate(layer_specs):
        expected[f"layer{k}.weights"] = (np.dtype(np.int8), (entry["n_out"], entry["n_in"]),
                                         f"layers[{k}].weights")
        for part in ("bias", "shift", "threshold"):
            expected[f"layer{k}.{part}"] = (np.dtype(np.int64), (entry["n_out"],),
                                            f"layers[{k}].{part}")
    names = archive.names() - {"header"}
    for name in expected:
        if name not in names:
            _fail(f"array '{name}'", "present", "missing")
    extra = names - set(expected)
    if extra:
        _fail("arrays", f"only the arrays of {len(layer_specs)} layers",
              f"unexpected {sorted(extra)}")
    arrays = {}
    for name, (dtype, shape, field_name) in expected.items():
        member = archive.open_member(name, math.prod(shape) * dtype.itemsize)
        if member.dtype != dtype:
            _fail(f"array '{name}'", f"dtype {dtype}", member.dtype)
        if member.shape != shape:
            _fail(f"array '{name}' ({field_name})", f"shape {shape} as the header says",
                  member.shape)
        arrays[name] = member.read()
    return arrays
