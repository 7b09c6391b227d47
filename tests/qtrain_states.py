"""Random QTrain states for the tests: every layer option, shadows anywhere in range."""

import numpy as np

from golden_model.qnet import InputSpec
from golden_model.qtrain import QTrainConfig, QTrainLayer, QTrainState


def random_state(rng, sizes=(7, 5, 4, 3), weight_mode="ternary", sampling="stochastic",
                 input_rounding="stochastic", activation=None, pow2=None, delta_bits=10,
                 input_bits=4, step=None, epoch=0, decay_epochs=0):
    """A state with random shadows, biases, shifts and hyper-parameters."""
    n = len(sizes) - 1
    w0_log2 = int(rng.integers(3, 11))
    bias_log2 = int(rng.integers(4, 12))
    config = QTrainConfig(
        weight_mode=weight_mode, sampling=sampling, input_rounding=input_rounding,
        w0_log2=w0_log2, bias_log2=bias_log2,
        target=int(rng.integers(1, (1 << (delta_bits - 1)) - 1)), delta_bits=delta_bits,
        eta=tuple(int(v) for v in rng.integers(0, 9, n)),
        eta_bias=tuple(int(v) for v in rng.integers(0, 9, n)),
        backward_shift=(0,) + tuple(int(v) for v in rng.integers(0, 6, n - 1)),
        decay_epochs=decay_epochs, seed=int(rng.integers(0, 1 << 32)))
    layers = []
    for k in range(n):
        last = k == n - 1
        act = "linear" if last else (activation or str(rng.choice(["relu", "trec", "tlin",
                                                                  "linear"])))
        threshold = (rng.integers(0, 4, sizes[k + 1]) if act in ("trec", "tlin")
                     else np.zeros(sizes[k + 1], dtype=np.int64))
        layers.append(QTrainLayer(
            shadow=rng.integers(-(1 << w0_log2), (1 << w0_log2) + 1, (sizes[k + 1], sizes[k])),
            bias=rng.integers(-(1 << bias_log2), (1 << bias_log2) + 1, sizes[k + 1]),
            shift=rng.integers(-1, 3, sizes[k + 1]),
            activation=act, threshold=threshold, out_bits=int(rng.integers(3, 7)),
            pow2=(bool(rng.integers(0, 2)) if pow2 is None else pow2) and not last,
            e_max=int(rng.integers(2, 6))))
    return QTrainState(
        input=InputSpec(n_inputs=sizes[0], bits=input_bits), layers=layers, config=config,
        step=int(rng.integers(0, 1 << 40)) if step is None else step, epoch=epoch)


def random_input(rng, state):
    return rng.integers(0, 1 << state.input.bits, state.input.n_inputs)
