"""The float network: an ordered list of layers, and how to build one from a config.

Structure (what the quantizer walks)
------------------------------------
``network.layers`` is a list, in forward order::

    Preprocess                      mean (n_inputs,), input_bits, scale = 2**-input_bits
    then, per hidden layer k:
      Dense                         quantized_weights() -> int8 (n_out, n_in), alpha,
                                    b (or None), weight_mode, W (shadow), w0
      BatchNorm       (optional)    gamma, beta, running_mean, running_var, eps,
                                    shift_based, in_scale (= the Dense's alpha),
                                    eval_scale() -> the factor on x - running_mean
      Activation                    kind in {relu, trec, tlin, linear}, theta,
                                    step (the ActQuant's step, or None)
      ActQuant        (optional)    mode in {int, pow2}, bits, signed, frac_bits,
                                    e_max, step = 2**-frac_bits
      Dropout         (optional)    p (identity at evaluation)
    then the output layer:
      Dense
      BatchNorm       (optional)    -> logits: no activation, no saturation

:meth:`Network.blocks` groups the same objects per Dense layer.

In evaluation mode a hidden layer computes, from the previous activation
value ``a = a_int * step_prev`` (``step_prev = 2**-input_bits`` for pixels,
after subtracting the mean)::

    u = alpha * (W_int @ a) + b                        # Dense
    u = bn.eval_scale() * (u - running_mean) + beta    # BatchNorm
    code = floor(u / step + 0.5)                       # Activation: onto the grid
    code = threshold(code)                             #   relu / trec / tlin (theta / step)
    code = saturate(code, bits, signed)                # ActQuant
    code = sign * 2**e  (pow2 mode)                    #   pow2_encode
    a_next = code * step

With shift-based batch norm ``alpha * eval_scale()`` is a signed power of
two, so ``u / step`` is ``±2**-s * W_int @ a_int`` plus a constant: the
QNet's ``(acc + b) >> s`` up to the integer rounding of the bias.
"""

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .act_quant import ActQuant
from .activations import Activation
from .architecture import ConvSpec, DenseSpec, layer_shapes, parse_architecture
from .batchnorm import BatchNorm
from .conv2d import Conv2D
from .dense import Dense
from .dropout import Dropout
from .errors import MulfreeError
from .layer import EVAL, RunMode
from .pooling import Flatten, MaxPool2D
from .preprocess import Preprocess


@dataclass
class NetworkConfig:
    """Everything needed to rebuild a network (saved with the model).

    Members
    -------
    sizes : tuple of int
        ``(n_inputs, hidden..., n_classes)``, e.g. ``(64, 128, 128, 10)``.
    input_bits : int
        ``B_in`` of the raw pixels.
    weight_mode : {"float", "binary", "ternary"}
    stochastic : bool
        Stochastic weight sampling during training. Off by default: on
        Fashion-MNIST (784-256-256-10, 10,000 images, 5 epochs) sampled
        binary weights ended 2.8 points below full precision and
        deterministic ones 0.6 (54,000 images, 30 epochs: 3.3 and 2.1); the
        sampling noise needs far more updates than such budgets.
    quantized_backprop, qb_stochastic, qb_range :
        Power-of-two rounding of layer inputs in the weight-gradient product.
    activation : {"relu", "trec", "tlin", "linear"}
    theta : float
    batchnorm, shift_based, bn_momentum, bn_eps :
        Batch norm after every Dense (including the output layer).
    output_common_scale : bool
        With ``shift_based``: the output layer's batch-norm scales are powers
        of two up to one common factor, which the QNet drops (see
        :class:`~golden_model.batchnorm.BatchNorm`); False gives each logit a
        power of two of its own, as models saved before this option had.
    act_quant : None, "int" or "pow2"
        Quantization-aware activations on hidden layers.
    act_bits, act_frac_bits, act_e_max :
        ``B``, ``f`` (step ``2**-f``) and ``E_max`` of the activations.
    dropout : float
        Dropout probability after each hidden layer (0 for none).
    alpha_pow2 : bool
        Round each Dense's ``alpha`` to a power of two.
    arch : str
        A convolutional architecture (``golden_model.architecture``), e.g.
        ``"c16k3-p2-128-10"``; empty for a dense network of ``sizes``. With
        it, ``sizes`` is ``(n_inputs, dense units..., n_classes)``.
    image_shape : tuple of int
        ``(H, W)`` or ``(H, W, C)`` of the input images (needed with ``arch``).
    """

    sizes: tuple = (64, 128, 128, 10)
    input_bits: int = 8
    weight_mode: str = "ternary"
    stochastic: bool = False
    quantized_backprop: bool = False
    qb_stochastic: bool = True
    qb_range: tuple = (-4, 3)
    activation: str = "relu"
    theta: float = 1.0
    batchnorm: bool = True
    shift_based: bool = True
    bn_momentum: float = 0.1
    bn_eps: float = 1e-4
    output_common_scale: bool = True
    act_quant: str | None = None
    act_bits: int = 8
    act_frac_bits: int = 4
    act_e_max: int | None = None
    dropout: float = 0.0
    alpha_pow2: bool = False
    arch: str = ""
    image_shape: tuple = ()
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.sizes = tuple(int(s) for s in self.sizes)
        self.qb_range = tuple(int(k) for k in self.qb_range)
        self.image_shape = tuple(int(d) for d in self.image_shape)
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise MulfreeError(f"architecture {self.sizes}: expected at least an input and "
                               "an output size, all positive")

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        # Saved before the option existed: trained with a power of two per logit.
        known.setdefault("output_common_scale", False)
        return cls(**known)


#: Arrays a layer keeps besides its parameters, saved with them (a convolution's
#: padding depends on the input mean, which is only known after building).
_STATE_ATTRIBUTES = ("mean", "running_mean", "running_var", "pad_value", "pad_raw")


class Block:
    """The layers that belong to one Dense or Conv2D layer (absent ones are None)."""

    def __init__(self, dense):
        self.dense = dense
        self.batchnorm = None
        self.activation = None
        self.act_quant = None
        self.dropout = None

    def __repr__(self):
        parts = [self.dense, self.batchnorm, self.activation, self.act_quant, self.dropout]
        return "Block(" + ", ".join(repr(p) for p in parts if p is not None) + ")"


class Network:
    """A sequential network.

    Parameters
    ----------
    layers : list
        Layer objects in forward order, the first a :class:`Preprocess`.
    config : NetworkConfig, optional
        How the layers were built (kept for saving).
    """

    def __init__(self, layers, config=None):
        self.layers = list(layers)
        self.config = config

    def __repr__(self):
        inner = ",\n    ".join(repr(layer) for layer in self.layers)
        return f"Network([\n    {inner}\n])"

    @property
    def preprocess(self):
        return self.layers[0]

    def blocks(self):
        """One :class:`Block` per Dense or Conv2D layer, in order."""
        return [stage for stage in self.stages() if isinstance(stage, Block)]

    def stages(self):
        """What the quantizer turns into QNet layers, in order: a :class:`Block` per
        Dense or Conv2D layer, and each :class:`MaxPool2D` and :class:`Flatten`."""
        blocks = []
        for layer in self.layers[1:]:
            if isinstance(layer, MaxPool2D | Flatten):
                blocks.append(layer)
            elif isinstance(layer, Dense | Conv2D):
                blocks.append(Block(layer))
            elif isinstance(layer, BatchNorm):
                blocks[-1].batchnorm = layer
            elif isinstance(layer, Activation):
                blocks[-1].activation = layer
            elif isinstance(layer, ActQuant):
                blocks[-1].act_quant = layer
            elif isinstance(layer, Dropout):
                blocks[-1].dropout = layer
        return blocks

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def forward(self, x, mode=EVAL):
        for layer in self.layers:
            x = layer.forward(x, mode)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def after_update(self):
        """Keep parameters in range after an optimizer step (clip shadow weights)."""
        for layer in self.layers:
            if isinstance(layer, Dense | Conv2D):
                layer.clip_weights()

    def logits(self, x, batch_size=1000, shadow=False):
        """Evaluation-mode logits, in batches."""
        mode = RunMode(train=False, shadow=shadow)
        out = [self.forward(x[i:i + batch_size], mode) for i in range(0, len(x), batch_size)]
        if not out:
            return np.zeros((0, self.blocks()[-1].dense.n_out), np.float32)
        return np.concatenate(out)

    def predict(self, x, batch_size=1000, shadow=False):
        """Class indices (argmax of the evaluation logits, lowest index on ties)."""
        return np.argmax(self.logits(x, batch_size, shadow), axis=1)

    def accuracy(self, x, y, shadow=False):
        return float(np.mean(self.predict(x, shadow=shadow) == y))

    def state(self):
        """Every array that defines the trained network, keyed ``"<layer index>.<name>"``."""
        state = {}
        for i, layer in enumerate(self.layers):
            for p in layer.parameters():
                state[f"{i}.{p.name}"] = p.value.copy()
            for attr in _STATE_ATTRIBUTES:
                if hasattr(layer, attr):
                    state[f"{i}.{attr}"] = np.array(getattr(layer, attr), copy=True)
        return state

    def load_state(self, state):
        """Copy arrays from :meth:`state` back into the layers (shapes must match)."""
        for i, layer in enumerate(self.layers):
            for p in layer.parameters():
                p.value[...] = state[f"{i}.{p.name}"]
            for attr in _STATE_ATTRIBUTES:
                if hasattr(layer, attr):
                    setattr(layer, attr, np.array(state[f"{i}.{attr}"], dtype=np.float32))


def build_network(config, mean=None, rng=None):
    """Build a :class:`Network` from a :class:`NetworkConfig`.

    Parameters
    ----------
    config : NetworkConfig
    mean : array_like, (n_inputs,), optional
        Per-pixel mean of the raw training pixels (zeros if omitted). A
        convolutional network uses its per-channel average instead (a
        per-pixel mean would not fold into a convolution's bias).
    rng : numpy.random.Generator, optional
        Draws the initial weights.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    sizes = config.sizes
    mean = np.zeros(sizes[0], np.float32) if mean is None else np.asarray(mean, np.float32)
    if mean.shape != (sizes[0],):
        raise MulfreeError(f"input mean of shape {mean.shape}: expected ({sizes[0]},)")
    if config.arch:
        return _build_conv_network(config, mean, rng)
    layers = [Preprocess(mean, config.input_bits)]
    n_layers = len(sizes) - 1
    for k in range(n_layers):
        dense = Dense(sizes[k], sizes[k + 1], config.weight_mode, **_weight_options(config),
                      rng=rng)
        layers.append(dense)
        layers += _after_weights(config, dense, last=k == n_layers - 1)
    return Network(layers, config)


def _weight_options(config):
    return {"stochastic": config.stochastic, "bias": not config.batchnorm,
            "quantized_backprop": config.quantized_backprop,
            "qb_stochastic": config.qb_stochastic, "qb_range": config.qb_range,
            "alpha_pow2": config.alpha_pow2}


def _after_weights(config, weights, last, step_in=None):
    """Batch norm, activation, activation quantizer and dropout after a Dense or Conv2D.

    With ``step_in`` (the step of the layer's integer input) and an activation
    grid, a shift-based batch norm keeps its total scale within
    ``step_out / step_in``: the QNet then needs no left shift, and folds the
    rounding of every hidden layer exactly.
    """
    layers = []
    if config.batchnorm:
        max_scale = None
        if step_in is not None and config.act_quant is not None and not last:
            max_scale = 2.0 ** -config.act_frac_bits / step_in
        layers.append(BatchNorm(weights.n_out, shift_based=config.shift_based,
                                in_scale=weights.alpha, momentum=config.bn_momentum,
                                eps=config.bn_eps, max_scale=max_scale,
                                common_scale=last and config.output_common_scale))
    if last:
        return layers
    quant = None
    if config.act_quant is not None:
        quant = ActQuant(config.act_quant, config.act_bits,
                         signed=config.activation in ("tlin", "linear"),
                         frac_bits=config.act_frac_bits, e_max=config.act_e_max)
    layers.append(Activation(config.activation, config.theta,
                             step=None if quant is None else quant.step))
    if quant is not None:
        layers.append(quant)
    if config.dropout > 0:
        layers.append(Dropout(config.dropout))
    return layers


def _build_conv_network(config, mean, rng):
    """The network of ``config.arch``: the first convolution pads with the raw pixel value
    nearest each channel's mean, so that its padding is (almost) zero after preprocessing
    and an integer the QNet can record."""
    specs = parse_architecture(config.arch, "architecture")
    shapes, _ = layer_shapes(specs, config.image_shape, "architecture")
    shape = config.image_shape + (1,) if len(config.image_shape) == 2 else config.image_shape
    n_classes = specs[-1].units
    if math.prod(shape) != config.sizes[0] or n_classes != config.sizes[-1]:
        raise MulfreeError(f"architecture {config.arch!r} on {shape} images: expected sizes "
                           f"({math.prod(shape)}, ..., {n_classes}), got {config.sizes}")
    channel_mean = mean.reshape(-1, shape[2]).mean(axis=0, dtype=np.float64)
    pre = Preprocess(np.tile(channel_mean, math.prod(shape[:2])), config.input_bits)
    pad_raw = np.clip(np.round(channel_mean), 0, (1 << config.input_bits) - 1).astype(np.int64)
    layers = [pre]
    first = True
    step_in = pre.scale
    for k, (spec, out_shape) in enumerate(zip(specs, shapes, strict=True)):
        last = k == len(specs) - 1
        if isinstance(spec, ConvSpec):
            pad_value = (pad_raw - channel_mean) * pre.scale if first else 0.0
            conv = Conv2D(shape, spec.filters, spec.kernel, config.weight_mode,
                          stride=spec.stride, padding=spec.padding, pad_value=pad_value,
                          **_weight_options(config), rng=rng)
            if first:
                conv.pad_raw = pad_raw
            first = False
            layers.append(conv)
            layers += _after_weights(config, conv, last=False, step_in=step_in)
            step_in = 2.0 ** -config.act_frac_bits
        elif isinstance(spec, DenseSpec):
            if len(shape) == 3:
                layers.append(Flatten(shape))
                shape = (math.prod(shape),)
            dense = Dense(shape[0], spec.units, config.weight_mode, **_weight_options(config),
                          rng=rng)
            layers.append(dense)
            layers += _after_weights(config, dense, last=last, step_in=step_in)
            step_in = 2.0 ** -config.act_frac_bits
        else:
            layers.append(MaxPool2D(shape, spec.size))
        shape = out_shape
    return Network(layers, config)
