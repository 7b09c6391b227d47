"""Quantize a trained float network to a :class:`~golden_model.qnet.QNet`.

Every hidden layer of the float model, in evaluation mode, computes from the
integer codes ``a_int`` of its input (raw pixels for the first layer)::

    u    = c * acc + d              acc = W_int @ a_int, c and d per neuron
    code = floor(u / step + 0.5)    then threshold, saturate, power-of-two code

with ``c = gamma' * alpha * step_in`` (``gamma'`` the batch norm's evaluation
scale, 1 without batch norm; ``step_in`` the input's step, ``2**-B_in`` for
pixels) and ``d`` collecting the Dense bias, the batch-norm shift and the
pixel mean (preprocessing folded into layer 1). The QNet computes
``(acc + b) >> s``. So, per neuron:

- the sign of ``c`` goes into the weight row (``acc`` changes sign);
- ``s = -log2(|c| / step)``, rounded to an integer; exact when ``|c| / step``
  is a power of two, which shift-based batch norm guarantees; otherwise the
  relative error ``|2**-s / (|c|/step) - 1|`` is reported;
- ``b = floor(2**s * (d / step + 0.5))``: for ``s >= 0`` this folds
  round-to-nearest into the bias *exactly*, because
  ``floor((n + r) / 2**s) == floor((n + floor(r)) / 2**s)`` for integer ``n``;
  for ``s < 0`` (a left shift) ``b`` is rounded to a multiple of ``2**-s``
  code units and that error is reported.

The output layer has no activation grid: its logits ``u_j = |c_j| acc_j +
d_j`` are compared across classes, so a factor common to all ``c_j`` (the
batch norm's ``common_factor``) is dropped and every class is put on the
finest scale ``2**p_min`` of them: ``z_j = (acc_j + b_j) << (p_j - p_min)``
with ``b_j = round(d_j / |c_j|)``; the bias rounding (at most half an
accumulator unit) is reported.

A hidden layer trained without an activation quantizer gets a grid here:
``act_bits`` bits and the smallest power-of-two step that holds the largest
activation seen on calibration images. That is an approximation by nature;
the agreement report measures its cost.
"""

from dataclasses import dataclass

import numpy as np

from .conv2d import Conv2D
from .dense import Dense
from .errors import MulfreeError
from .layer import EVAL
from .pooling import Flatten, MaxPool2D
from .qnet import MAX_E_MAX, MAX_SHIFT, InputSpec, QConv2D, QFlatten, QLayer, QMaxPool2D, QNet

__all__ = ["QuantizeError", "quantize", "float_blocks", "LayerReport"]

#: A scale whose log2 is this close to an integer counts as an exact power of two
#: (the float model itself computes it in float32).
EXACT_LOG2_TOLERANCE = 1e-5
#: Largest bias magnitude the QNet format accepts.
MAX_BIAS = 1 << 40


class QuantizeError(MulfreeError):
    """The float network cannot be turned into a QNet (names the layer and why)."""


@dataclass(frozen=True)
class LayerReport:
    """What the quantizer did to one layer, and what it had to approximate.

    Members
    -------
    scale_error : float
        Largest ``|2**-s / scale - 1|`` over the layer's neurons (0 when every
        scale is a power of two).
    bias_error : float
        Largest bias rounding, in units of ``z`` for hidden layers (0 when
        ``s >= 0``: round-to-nearest folds exactly) and in accumulator units
        for the output layer.
    step : float or None
        Activation step of a hidden layer (``None`` for the output layer).
    calibrated : bool
        The step was chosen from calibration images (no activation quantizer
        in the float model).
    sign_flips : int
        Neurons whose negative scale was folded into the weight row.
    """

    index: int
    scale_error: float
    bias_error: float
    step: float | None
    calibrated: bool
    sign_flips: int
    shift_min: int
    shift_max: int

    @property
    def exact(self):
        return (self.scale_error < EXACT_LOG2_TOLERANCE and self.bias_error == 0
                and not self.calibrated)

    def to_json(self):
        return {
            "index": self.index, "scale_error": float(self.scale_error),
            "bias_error": float(self.bias_error),
            "step": None if self.step is None else float(self.step),
            "calibrated": self.calibrated, "sign_flips": int(self.sign_flips),
            "shift_min": int(self.shift_min), "shift_max": int(self.shift_max),
            "exact": self.exact,
        }


def float_blocks(network, x):
    """Evaluation-mode outputs of every block of the float network.

    Parameters
    ----------
    network : Network
    x : array_like, (batch, n_inputs)
        Raw pixels.

    Returns
    -------
    list of numpy.ndarray
        Per Dense block, the value handed to the next block (after activation,
        activation quantizer and dropout); the last entry is the logits.
    """
    blocks = network.blocks()
    ends = {id(_last_layer(block)) for block in blocks}
    outputs = []
    a = np.asarray(x, dtype=np.float32)
    for layer in network.layers:
        a = layer.forward(a, EVAL)
        if id(layer) in ends:
            outputs.append(a)
    return outputs


def _last_layer(block):
    for layer in (block.dropout, block.act_quant, block.activation, block.batchnorm):
        if layer is not None:
            return layer
    return block.dense


def _affine(block, step_in, mean):
    """``(W_int, c, d)`` with ``u = c * (W_int @ a_int) + d`` for this block."""
    dense = block.dense
    if dense.weight_mode == "float":
        raise QuantizeError(
            f"{dense!r}: float weights; expected a binary or ternary layer to quantize")
    weights = dense.quantized_weights().astype(np.int64)
    alpha = float(dense.alpha)
    bias = np.zeros(dense.n_out) if dense.b is None else dense.b.astype(np.float64)
    offset = alpha * step_in * (weights @ mean) if mean is not None else 0.0
    pre = bias - offset
    bn = block.batchnorm
    if bn is None:
        return weights, np.full(dense.n_out, alpha * step_in), pre
    gain = bn.eval_scale().astype(np.float64)
    centre = bn.running_mean.astype(np.float64)
    return weights, gain * alpha * step_in, gain * (pre - centre) + bn.beta.astype(np.float64)


def _check_parameters(network):
    """Refuse non-finite parameters and negative batch-norm variances, naming layer and field.

    Either one turns into NaN scales or offsets, which would round to
    arbitrary integer shifts and biases: a QNet that loads, but computes
    nonsense.
    """
    _require_finite("preprocess", "mean", network.preprocess.mean)
    for k, block in enumerate(network.blocks()):
        where = f"layer {k}"
        dense = block.dense
        _require_finite(where, "weights", dense.W)
        _require_finite(where, "alpha", dense.alpha, positive=True)
        if dense.b is not None:
            _require_finite(where, "bias", dense.b)
        bn = block.batchnorm
        if bn is not None:
            for name in ("gamma", "beta", "running_mean"):
                _require_finite(f"{where} batch norm", name, getattr(bn, name))
            _require_finite(f"{where} batch norm", "running_var", bn.running_var)
            variance = np.asarray(bn.running_var)
            if np.any(variance < 0):
                j = int(np.argmin(variance))
                raise QuantizeError(
                    f"{where} batch norm: running_var of neuron {j} is {float(variance[j]):g}; "
                    "expected variances >= 0")
            _require_finite(f"{where} batch norm", "eps", bn.eps, positive=True)
            _require_finite(f"{where} batch norm", "in_scale", bn.in_scale, positive=True)
        if block.activation is not None:
            _require_finite(where, "activation theta", block.activation.theta)


def _require_finite(where, name, values, positive=False):
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values) | ((values <= 0) if positive else False)
    if np.any(bad):
        j = int(np.flatnonzero(bad.reshape(-1))[0])
        value = float(values.reshape(-1)[j])
        at = f" (entry {j})" if values.ndim else ""
        expected = "finite numbers > 0" if positive else "finite numbers"
        raise QuantizeError(f"{where}: {name} is {value:g}{at}; expected {expected}")


def _pow2_exponent(scale):
    """Nearest integer ``p`` with ``2**p ~ scale`` (> 0) and the relative error."""
    p = np.round(np.log2(scale)).astype(np.int64)
    return p, np.abs(np.exp2(p) / scale - 1.0)


def _fold_signs(weights, scale, weight_mode, where):
    """Fold a negative scale into the weight row; returns ``(weights, |scale|, flips)``."""
    zero = scale == 0
    if np.any(zero & (weight_mode == "binary")):
        raise QuantizeError(
            f"{where}: neuron {int(np.flatnonzero(zero)[0])} has a zero scale "
            "(batch-norm gamma 0); a binary row cannot be all zeros")
    negative = scale < 0
    weights = np.where(negative[:, None], -weights, weights)
    weights = np.where(zero[:, None], 0, weights)
    return weights, np.abs(scale), int(negative.sum())


def _hidden_layer(k, block, weights, c, d, step, act_bits, calibrated):
    where = f"layer {k}"
    mode = block.dense.weight_mode
    weights, scale, flips = _fold_signs(weights, c / step, mode, where)
    offset = d / step
    live = scale > 0
    safe_scale = np.where(live, scale, 1.0)
    p, _ = _pow2_exponent(safe_scale)
    # A scale beyond the shifter's reach is clamped; the report shows the cost.
    shift = np.where(live, np.clip(-p, -MAX_SHIFT, MAX_SHIFT), 0)
    scale_error = np.where(live, np.abs(np.exp2(-shift.astype(float)) / safe_scale - 1.0), 0.0)
    target = np.floor(offset + 0.5)  # the code of a dead neuron, and the left-shift bias
    right = shift >= 0
    bias = np.where(right, np.floor(np.exp2(np.maximum(shift, 0)) * (offset + 0.5)),
                    np.round(target * np.exp2(shift)))
    bias_error = np.where(right, 0.0, np.abs(bias * np.exp2(-shift) - target))
    bias = np.where(live, bias, target)
    if np.any(np.abs(bias) >= MAX_BIAS):
        raise QuantizeError(f"{where}: a bias of {np.abs(bias).max():.3g} does not fit "
                            f"the QNet's {MAX_BIAS.bit_length() - 1}-bit bias")

    activation = block.activation
    kind = "linear" if activation is None else activation.kind
    threshold = None
    if kind in ("trec", "tlin"):
        # z > theta  <=>  code > theta / step: floor is exact for integer codes
        threshold = np.full(len(bias), max(0, int(np.floor(activation.theta / step))))
    quant = block.act_quant
    pow2 = quant is not None and quant.mode == "pow2"
    e_max = quant.e_max if pow2 else 0
    if pow2 and not 0 <= e_max <= MAX_E_MAX:
        raise QuantizeError(f"{where}: power-of-two e_max={e_max}; expected 0..{MAX_E_MAX}")
    bits = quant.bits if quant is not None else act_bits
    layer = QLayer(
        weights=weights.astype(np.int8), bias=bias.astype(np.int64), shift=shift.astype(np.int64),
        weight_mode=mode, activation=kind, threshold=threshold, out_bits=int(bits),
        pow2=pow2, e_max=int(e_max),
    )
    report = LayerReport(
        index=k, scale_error=float(scale_error.max(initial=0.0)),
        bias_error=float(bias_error.max(initial=0.0)), step=float(step),
        calibrated=calibrated, sign_flips=flips,
        shift_min=int(shift.min()), shift_max=int(shift.max()),
    )
    return layer, report


def _output_layer(k, block, weights, c, d):
    mode = block.dense.weight_mode
    weights, scale, flips = _fold_signs(weights, c, mode, f"layer {k} (output)")
    live = scale > 0
    if not live.any():
        raise QuantizeError(f"layer {k} (output): every logit has a zero scale")
    # Only the logits' ratios decide the class: a common factor is not a scale error.
    bn = block.batchnorm
    common = 1.0 if bn is None else bn.common_factor(bn.running_var)
    p, scale_error = _pow2_exponent(np.where(live, scale / common, 1.0))
    p_min = int(p[live].min())
    shift = np.where(live, p_min - p, 0)
    if shift.min() < -MAX_SHIFT:
        raise QuantizeError(
            f"layer {k} (output): logit scales span 2**{-int(shift.min())}; "
            f"expected at most 2**{MAX_SHIFT}")
    units = np.where(live, d / np.where(live, scale, 1.0), d / 2.0**p_min)
    bias = np.floor(units + 0.5)
    bias_error = np.abs(bias - units)
    layer = QLayer(weights=weights.astype(np.int8), bias=bias.astype(np.int64),
                   shift=shift.astype(np.int64), weight_mode=mode, activation="linear",
                   out_bits=1)
    report = LayerReport(
        index=k, scale_error=float(np.where(live, scale_error, 0).max()),
        bias_error=float(bias_error.max()), step=None, calibrated=False, sign_flips=flips,
        shift_min=int(shift.min()), shift_max=int(shift.max()),
    )
    return layer, report, p_min, common


def _patch_mean(weights_layer, mean):
    """The pixel mean under each weight of the first layer: per pixel for a Dense layer, the
    channel mean under each kernel tap for a Conv2D (which needs one mean per channel)."""
    if not isinstance(weights_layer, Conv2D):
        return mean
    channels = weights_layer.in_shape[2]
    per_channel = mean.reshape(-1, channels)
    if np.any(per_channel != per_channel[0]):
        raise QuantizeError("preprocess: a per-pixel input mean; a convolution folds only one "
                            "mean per channel (build the network from its config)")
    return np.tile(per_channel[0], weights_layer.kernel ** 2)


def _as_conv(layer, conv, first):
    """The :class:`QConv2D` of a quantized Conv2D block (``layer`` holds its rows)."""
    c_in = conv.in_shape[2]
    pad = np.asarray(conv.pad_raw, np.int64) if first else np.zeros(c_in, np.int64)
    return QConv2D(weights=layer.weights.reshape(conv.n_out, conv.kernel, conv.kernel, c_in),
                   bias=layer.bias, shift=layer.shift, in_shape=conv.in_shape,
                   stride=conv.stride, padding=conv.padding, pad_value=pad,
                   weight_mode=layer.weight_mode, activation=layer.activation,
                   threshold=layer.threshold, out_bits=layer.out_bits, pow2=layer.pow2,
                   e_max=layer.e_max)


def _calibrated_step(values, bits, signed):
    """Smallest power-of-two step whose ``bits``-bit code holds every value."""
    top = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    peak = float(np.abs(values).max(initial=0.0))
    if peak == 0.0 or top == 0:
        return 1.0
    return float(2.0 ** np.ceil(np.log2(peak / top)))


def quantize(network, dataset=None, *, calibration_x=None, act_bits=8, meta=None):
    """Turn a trained float network into an integer-only :class:`QNet`.

    Parameters
    ----------
    network : Network
        Binary or ternary Dense layers, a :class:`Preprocess` first (see
        ``golden_model.network``).
    dataset : Dataset, optional
        Names the input in the QNet header and provides calibration images
        (its training split) for layers without an activation quantizer.
    calibration_x : array_like, optional
        Raw pixels used to choose the grid of un-quantized activations
        (overrides ``dataset``'s training images).
    act_bits : int
        ``B`` of layers that had no activation quantizer in training.
    meta : dict, optional
        Extra JSON-ready information stored in the QNet.

    Returns
    -------
    QNet
        With ``meta["quantization"]``: per-layer :class:`LayerReport` as JSON,
        and the largest scale and bias errors introduced.

    Raises
    ------
    QuantizeError
        Non-finite parameters, a negative batch-norm variance, float weights,
        a zero-scale binary row, scales or biases the QNet
        cannot hold, or a layer that needs calibration images and got none.
    """
    pre = network.preprocess
    blocks = network.blocks()
    if not blocks:
        raise QuantizeError("network: expected at least one Dense layer")
    _check_parameters(network)
    needs_calibration = any(b.act_quant is None for b in blocks[:-1])
    float_outputs = None
    if needs_calibration:
        if calibration_x is None and dataset is not None:
            calibration_x = dataset.x_train[:4096]
        if calibration_x is None:
            raise QuantizeError(
                "network: hidden layers without an activation quantizer need calibration "
                "images (pass dataset or calibration_x)")
        float_outputs = float_blocks(network, calibration_x)

    layers, reports = [], []
    step_in = float(pre.scale)
    mean = pre.mean.astype(np.float64)
    p_min = 0
    stages = network.stages()
    n_blocks = 0  # weight blocks so far: the index into float_outputs
    for k, stage in enumerate(stages):
        if isinstance(stage, MaxPool2D):
            layers.append(QMaxPool2D(in_shape=stage.in_shape, size=stage.size))
            continue
        if isinstance(stage, Flatten):
            layers.append(QFlatten(in_shape=stage.in_shape))
            continue
        block = stage
        first_mean = _patch_mean(block.dense, mean) if n_blocks == 0 else None
        weights, c, d = _affine(block, step_in, first_mean)
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(d))):
            raise QuantizeError(f"layer {k}: its folded scale or offset overflows float64; "
                                "expected finite parameters of a sensible size")
        if k == len(stages) - 1:
            if not isinstance(block.dense, Dense):
                raise QuantizeError(f"layer {k} (output): {block.dense!r}; expected a dense "
                                    "output layer")
            layer, report, p_min, logit_common = _output_layer(k, block, weights, c, d)
        else:
            calibrated = block.act_quant is None
            if calibrated:
                signed = block.activation is None or block.activation.kind in ("tlin", "linear")
                step = _calibrated_step(float_outputs[n_blocks], act_bits, signed)
            else:
                step = float(block.act_quant.step)
            layer, report = _hidden_layer(k, block, weights, c, d, step, act_bits, calibrated)
            step_in = step
        if isinstance(block.dense, Conv2D):
            layer = _as_conv(layer, block.dense, first=n_blocks == 0)
        layers.append(layer)
        reports.append(report)
        n_blocks += 1

    info = {
        "layers": [r.to_json() for r in reports],
        "max_scale_error": max(r.scale_error for r in reports),
        "max_bias_error": max(r.bias_error for r in reports),
        "exact": all(r.exact for r in reports),
        "logit_scale_log2": p_min,
        "logit_common_factor": logit_common,
    }
    all_meta = dict(meta or {})
    all_meta["quantization"] = info
    if dataset is not None:
        all_meta.setdefault("class_names", list(dataset.class_names))
    config = getattr(network, "config", None)
    if config is not None and hasattr(config, "to_dict"):
        all_meta.setdefault("network_config", _jsonable(config.to_dict()))
    image_shape = getattr(config, "image_shape", ()) if dataset is None else dataset.image_shape
    spec = InputSpec(
        n_inputs=int(pre.n_inputs), bits=int(pre.input_bits),
        dataset="" if dataset is None else dataset.name,
        image_shape=tuple(int(v) for v in image_shape),
    )
    return QNet(spec, layers, meta=all_meta)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
