"""A QTrain state: shadow weights, biases, fixed layer codes, hyper-parameters, step.

The contract is ``docs/qtrain.md``. A state exports to a
:class:`golden_model.qnet.QNet` with its deterministic weights
(:meth:`QTrainState.to_qnet`).
"""

import copy
from dataclasses import asdict, dataclass, field

import numpy as np

from golden_model.errors import MulfreeError, QNetFormatError
from golden_model.qnet import ACTIVATIONS, WEIGHT_MODES, InputSpec, QLayer, QNet

from .sampling import sample_weights

MODES = ("deterministic", "stochastic")
#: Largest update and bias-update shift (the random field is 16 bits wide).
MAX_ETA = 16
MAX_W0_LOG2 = 14
MAX_BIAS_LOG2 = 40
MAX_DELTA_BITS = 32
MAX_BACKWARD_SHIFT = 32


class QTrainError(MulfreeError):
    """A QTrain state, its hyper-parameters or its file break the contract."""


@dataclass
class QTrainConfig:
    """The hyper-parameters of a QTrain run (all integers; rates are shifts).

    Parameters
    ----------
    weight_mode : {"ternary", "binary"}
    sampling, input_rounding : {"deterministic", "stochastic"}
        Weight sampling and the power-of-two rounding of the update's inputs.
    w0_log2 : int
        ``W0 = 2**w0_log2``; shadow weights lie in ``[-W0, W0]``.
    bias_log2 : int
        Biases lie in ``[-2**bias_log2, 2**bias_log2]``.
    target : int
        ``T`` of the squared hinge.
    delta_bits : int
        Errors are clipped to ``[-D, D]``, ``D = 2**(delta_bits-1) - 1``.
    eta, eta_bias : tuple of int
        Per layer, the update shifts of weights and biases (epoch 0).
    backward_shift : tuple of int
        Per layer, ``r_k`` of the backward into layer ``k - 1`` (entry 0 unused).
    decay_epochs : int
        Every this many epochs all update shifts grow by one (0: never).
    seed : int
        32-bit seed of the random bits.
    """

    weight_mode: str = "ternary"
    sampling: str = "stochastic"
    input_rounding: str = "stochastic"
    w0_log2: int = 10
    bias_log2: int = 16
    target: int = 64
    delta_bits: int = 16
    eta: tuple = ()
    eta_bias: tuple = ()
    backward_shift: tuple = ()
    decay_epochs: int = 0
    seed: int = 0

    @property
    def w0(self):
        return 1 << self.w0_log2

    @property
    def bias_limit(self):
        return 1 << self.bias_log2

    @property
    def delta_limit(self):
        return (1 << (self.delta_bits - 1)) - 1

    def to_json(self):
        out = asdict(self)
        for name in ("eta", "eta_bias", "backward_shift"):
            out[name] = [int(v) for v in out[name]]
        return out


@dataclass(eq=False)
class QTrainLayer:
    """One layer's learned integers and fixed codes (see :class:`golden_model.qnet.QLayer`).

    Parameters
    ----------
    shadow : ndarray of int64, shape (n_out, n_in)
    bias : ndarray of int64, shape (n_out,)
    shift : ndarray of int64, shape (n_out,)
    activation : str
    threshold : ndarray of int64, shape (n_out,), optional
    out_bits : int
    pow2 : bool
    e_max : int
    """

    shadow: np.ndarray
    bias: np.ndarray
    shift: np.ndarray
    activation: str = "relu"
    threshold: np.ndarray = None
    out_bits: int = 8
    pow2: bool = False
    e_max: int = 7

    def __post_init__(self):
        self.shadow = np.asarray(self.shadow)
        self.bias = np.asarray(self.bias)
        self.shift = np.asarray(self.shift)
        if self.threshold is None:
            self.threshold = np.zeros(self.shadow.shape[:1], dtype=np.int64)
        self.threshold = np.asarray(self.threshold)

    @property
    def n_out(self):
        return int(self.shadow.shape[0])

    @property
    def n_in(self):
        return int(self.shadow.shape[1])

    def qlayer(self, weights, weight_mode):
        """The :class:`QLayer` that computes this layer's forward with ``weights``."""
        return QLayer(weights=weights, bias=self.bias, shift=self.shift,
                      weight_mode=weight_mode, activation=self.activation,
                      threshold=self.threshold, out_bits=self.out_bits, pow2=self.pow2,
                      e_max=self.e_max)


@dataclass(eq=False)
class QTrainState:
    """Everything a QTrain run's next step depends on; validated on construction.

    Parameters
    ----------
    input : InputSpec
    layers : list of QTrainLayer
    config : QTrainConfig
    step : int
        Samples seen (the ``t`` of the random bits).
    epoch : int
        Epochs completed (sets the learning-rate decay).

    Raises
    ------
    QTrainError
        Naming the field and what was expected.
    """

    input: InputSpec
    layers: list
    config: QTrainConfig
    step: int = 0
    epoch: int = 0
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.layers = list(self.layers)
        _validate(self)
        from .widths import compute_widths

        self.widths = compute_widths(self)
        _check_widths(self.widths)

    def copy(self):
        """A deep copy (training mutates a state in place)."""
        return copy.deepcopy(self)

    def eta(self, k):
        """Current ``(weight, bias)`` update shifts of layer ``k`` after the decay."""
        decay = self.epoch // self.config.decay_epochs if self.config.decay_epochs else 0
        return (min(MAX_ETA, self.config.eta[k] + decay),
                min(MAX_ETA, self.config.eta_bias[k] + decay))

    def deterministic_weights(self, k):
        return sample_weights(self.layers[k].shadow, self.config.w0_log2,
                              self.config.weight_mode, stochastic=False)

    def to_qnet(self, meta=None):
        """The QNet with the deterministic weights: its forward is the QTrain forward.

        Parameters
        ----------
        meta : dict, optional
            Stored in the QNet (default: the state's ``meta`` plus the step).
        """
        layers = [layer.qlayer(self.deterministic_weights(k).astype(np.int8),
                               self.config.weight_mode)
                  for k, layer in enumerate(self.layers)]
        if meta is None:
            meta = {**self.meta, "qtrain": {"step": self.step, "epoch": self.epoch,
                                            "config": self.config.to_json()}}
        return QNet(input=self.input, layers=layers, meta=meta)


def _fail(name, expected, got):
    raise QTrainError(f"{name}: expected {expected}, got {got}")


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) \
            or not lo <= int(value) <= hi:
        _fail(name, f"an integer in [{lo}, {hi}]", repr(value))


def _check_shifts(name, values, n_layers, lo, hi):
    if not isinstance(values, tuple | list) or len(values) != n_layers:
        _fail(name, f"{n_layers} integers (one per layer)", repr(values))
    for k, value in enumerate(values):
        _check_int(f"{name}[{k}]", value, lo, hi)


def _validate(state):
    _check_int("step", state.step, 0, (1 << 62))
    _check_int("epoch", state.epoch, 0, 1 << 30)
    if not state.layers:
        _fail("layers", "at least one layer", "none")
    config = state.config
    _validate_config(config, len(state.layers))
    _validate_layers(state)


def _validate_config(config, n):
    if not isinstance(config, QTrainConfig):
        _fail("config", "a QTrainConfig", type(config).__name__)
    if config.weight_mode not in WEIGHT_MODES:
        _fail("config.weight_mode", f"one of {WEIGHT_MODES}", repr(config.weight_mode))
    for name in ("sampling", "input_rounding"):
        if getattr(config, name) not in MODES:
            _fail(f"config.{name}", f"one of {MODES}", repr(getattr(config, name)))
    _check_int("config.w0_log2", config.w0_log2, 1, MAX_W0_LOG2)
    _check_int("config.bias_log2", config.bias_log2, 0, MAX_BIAS_LOG2)
    _check_int("config.delta_bits", config.delta_bits, 2, MAX_DELTA_BITS)
    _check_int("config.target", config.target, 1, config.delta_limit)
    _check_int("config.decay_epochs", config.decay_epochs, 0, 1 << 20)
    _check_int("config.seed", config.seed, 0, (1 << 32) - 1)
    _check_shifts("config.eta", config.eta, n, 0, MAX_ETA)
    _check_shifts("config.eta_bias", config.eta_bias, n, 0, MAX_ETA)
    _check_shifts("config.backward_shift", config.backward_shift, n, 0, MAX_BACKWARD_SHIFT)


def _validate_layers(state):
    config = state.config
    for k, layer in enumerate(state.layers):
        if not isinstance(layer, QTrainLayer):
            _fail(f"layers[{k}]", "a QTrainLayer", type(layer).__name__)
        if layer.activation not in ACTIVATIONS:
            _fail(f"layers[{k}].activation", f"one of {ACTIVATIONS}", repr(layer.activation))
        for name, array, limit in (("shadow", layer.shadow, config.w0),
                                   ("bias", layer.bias, config.bias_limit)):
            if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.integer):
                _fail(f"layers[{k}].{name}", "an integer array",
                      getattr(array, "dtype", type(array).__name__))
            if array.size and np.abs(array.astype(np.int64)).max() > limit:
                _fail(f"layers[{k}].{name}", f"values in [-{limit}, {limit}]",
                      f"[{array.min()}, {array.max()}]")
    try:
        state.to_qnet(meta={})
    except QNetFormatError as error:
        raise QTrainError(f"as a QNet: {error}") from None


#: Widest intermediate allowed: every value stays inside int64 with room to spare.
MAX_WIDTH = 62


def _check_widths(widths):
    for k, entry in enumerate(widths):
        lo, hi = entry.ranges["input"]
        if max(-lo, hi) >= 1 << 32:
            _fail(f"layers[{k}] input", "values below 2**32 (the rounding field)",
                  f"[{lo}, {hi}]")
        for name in entry.ranges:
            if entry.bits(name) > MAX_WIDTH:
                _fail(f"layers[{k}] {name} width", f"at most {MAX_WIDTH} bits",
                      entry.bits(name))


def init_state(sizes, input_bits, config, shift, activation="relu", out_bits=8, pow2=False,
               e_max=7, dataset="", image_shape=(), init_seed=None):
    """A seeded random initial state: shadow weights uniform in ``[-W0, W0]``, biases 0.

    Parameters
    ----------
    sizes : sequence of int
        ``n_0, ..., n_L``.
    input_bits : int
    config : QTrainConfig
    shift : int or sequence of int
        Per layer, the requantization shift of every unit.
    activation, out_bits, pow2, e_max
        Of every hidden layer (the last layer is linear).
    init_seed : int, optional
        Seed of the initial weights (default ``config.seed``). The initial
        state is the host's to choose; only the steps are the contract.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise QTrainError(f"sizes: expected at least two positive layer sizes, got {sizes}")
    n = len(sizes) - 1
    shifts = [int(shift)] * n if np.ndim(shift) == 0 else [int(s) for s in shift]
    if len(shifts) != n:
        raise QTrainError(f"shift: expected {n} shifts (one per layer), got {len(shifts)}")
    _validate_config(config, n)
    rng = np.random.default_rng(config.seed if init_seed is None else init_seed)
    w0 = config.w0
    layers = []
    for k in range(n):
        last = k == n - 1
        layers.append(QTrainLayer(
            shadow=rng.integers(-w0, w0 + 1, size=(sizes[k + 1], sizes[k]), dtype=np.int64),
            bias=np.zeros(sizes[k + 1], dtype=np.int64),
            shift=np.full(sizes[k + 1], shifts[k], dtype=np.int64),
            activation="linear" if last else activation,
            out_bits=out_bits, pow2=bool(pow2) and not last, e_max=e_max))
    return QTrainState(input=InputSpec(n_inputs=sizes[0], bits=input_bits, dataset=dataset,
                                       image_shape=tuple(image_shape)),
                       layers=layers, config=config)


def state_from_qnet(qnet, config):
    """A state whose deterministic export is ``qnet`` (fine-tuning a quantized float model).

    Ternary weights ``w`` become shadows ``w * 3 W0 / 4`` (half-way inside the
    deterministic threshold ``W0 / 2``); binary weights ``w * W0 / 2``.
    Biases, shifts, activations and codes are the QNet's.

    Raises
    ------
    QTrainError
        If the QNet's weight mode is not ``config.weight_mode`` or a bias does
        not fit ``[-B0, B0]``.
    """
    modes = {layer.weight_mode for layer in qnet.layers}
    if modes != {config.weight_mode}:
        raise QTrainError(f"QNet weight mode {sorted(modes)}: expected "
                          f"{config.weight_mode!r} throughout (the QTrain weight mode)")
    magnitude = 3 * config.w0 // 4 if config.weight_mode == "ternary" else config.w0 // 2
    layers = []
    for k, layer in enumerate(qnet.layers):
        largest = int(np.abs(layer.bias).max()) if layer.bias.size else 0
        if largest > config.bias_limit:
            raise QTrainError(f"QNet layer {k} bias {largest}: expected at most "
                              f"2**bias_log2 = {config.bias_limit}; raise bias_log2")
        layers.append(QTrainLayer(
            shadow=layer.weights.astype(np.int64) * magnitude,
            bias=layer.bias.astype(np.int64), shift=layer.shift.astype(np.int64),
            activation=layer.activation, threshold=layer.threshold.astype(np.int64),
            out_bits=int(layer.out_bits), pow2=bool(layer.pow2), e_max=int(layer.e_max)))
    return QTrainState(input=qnet.input, layers=layers, config=config,
                       meta={"init": {"qnet": qnet.source, "fingerprint": qnet.fingerprint()}})
