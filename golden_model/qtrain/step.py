"""One QTrain step: forward on sampled weights, squared-hinge error, backward, update.

Vectorised int64 NumPy for one sample (batch size 1); the only Python loop is
over layers. ``docs/qtrain.md`` is the contract this module implements.
"""

import numpy as np

from golden_model.qnet import pow2_decode, pow2_encode
from golden_model.qnet.codes import arithmetic_shift

from .random_bits import layer_words
from .sampling import round_input, sample_weights, shift_round


def step_words(state, step=None):
    """Per layer ``(rows, columns)`` words of the random bits at ``step`` (default: the state's)."""
    step = state.step if step is None else step
    return [layer_words(state.config.seed, step, k, layer.n_out, layer.n_in)
            for k, layer in enumerate(state.layers)]


def _weight_words(rows, columns, n_out, n_in):
    return (rows[:n_out, None] ^ columns[None, :n_in]).astype(np.int64)


def sample_layer_weights(state, k, rows, columns):
    """The weights layer ``k`` uses at one step (deterministic or from ``R(j, i)``)."""
    layer, config = state.layers[k], state.config
    stochastic = config.sampling == "stochastic"
    word = _weight_words(rows, columns, layer.n_out, layer.n_in) if stochastic else None
    return sample_weights(layer.shadow, config.w0_log2, config.weight_mode, stochastic, word)


def forward(state, x, weights):
    """The QNet forward of one sample on ``weights``, with the backward's masks.

    Returns
    -------
    list of dict
        Per layer: ``input``, ``acc``, ``z``, ``y``, ``out`` (int64 vectors) and,
        for hidden layers, ``mask`` (bool: active and not saturated).
    """
    a = np.asarray(x, dtype=np.int64)
    trace = []
    last = len(state.layers) - 1
    for k, layer in enumerate(state.layers):
        acc = weights[k] @ a
        z = arithmetic_shift(acc + layer.bias, layer.shift)
        entry = {"input": a, "acc": acc, "z": z}
        if k == last:
            entry["y"] = entry["out"] = z
        else:
            y = layer.qlayer(weights[k], state.config.weight_mode).activate(z)
            entry["y"] = y
            entry["mask"] = (y == z) & ((y != 0) | (layer.activation == "linear"))
            entry["out"] = pow2_decode(*pow2_encode(y, layer.e_max)) if layer.pow2 else y
        trace.append(entry)
        a = entry["out"]
    return trace


def output_error(logits, label, target, delta_limit):
    """Squared-hinge error of the logits for class ``label`` with targets ``±target``.

    Returns
    -------
    error : ndarray of int64
        ``-tau * max(0, T - tau * z)`` before the clip.
    delta : ndarray of int64
        ``error`` clipped to ``[-D, D]``.
    loss : int
        ``sum(max(0, T - tau * z) ** 2)``.
    """
    logits = np.asarray(logits, dtype=np.int64)
    tau = np.full(logits.shape, -1, dtype=np.int64)
    tau[int(label)] = 1
    margin = np.maximum(0, target - tau * logits)
    error = -tau * margin
    return error, np.clip(error, -delta_limit, delta_limit), int((margin * margin).sum())


def backward(state, weights, trace, delta_out, words):
    """Errors of every layer's outputs, last to first.

    Returns
    -------
    deltas : list of ndarray of int64
        ``deltas[k]``: error of layer ``k``'s outputs.
    sums : list
        ``sums[k]`` (``k >= 1``): ``W_k^T delta_k + rho`` before the shift.
    """
    n = len(state.layers)
    limit = state.config.delta_limit
    deltas, sums = [None] * n, [None] * n
    deltas[-1] = delta_out
    for k in range(n - 1, 0, -1):
        rows, columns = words[k]
        r_k = state.config.backward_shift[k]
        noise = (rows[-1] ^ columns[:-1]).astype(np.int64) & ((1 << r_k) - 1)
        sums[k] = weights[k].T @ deltas[k] + noise
        back = np.clip(sums[k] >> r_k, -limit, limit)
        deltas[k - 1] = np.where(trace[k - 1]["mask"], back, 0)
    return deltas, sums


def update(state, trace, deltas, words):
    """Apply every layer's update in place; returns the intermediates by layer."""
    config = state.config
    stochastic = config.input_rounding == "stochastic"
    records = []
    for k, layer in enumerate(state.layers):
        rows, columns = words[k]
        n_out, n_in = layer.n_out, layer.n_in
        eta, eta_bias = state.eta(k)
        e_max = state.widths[k].ranges["exponent"][1]
        round_word = (rows[n_out] ^ columns[:n_in]).astype(np.int64)
        sign, exponent = round_input(trace[k]["input"], stochastic, e_max, round_word)
        delta = deltas[k]
        value = sign[None, :] * (delta[:, None] << exponent[None, :])
        high = _weight_words(rows, columns, n_out, n_in) >> 16
        update_sum = value + (high & ((1 << eta) - 1))
        delta_shadow = shift_round(value, eta, high)
        pre_clip = layer.shadow - delta_shadow
        layer.shadow = np.clip(pre_clip, -config.w0, config.w0)
        bias_word = (rows[:n_out] ^ columns[n_in]).astype(np.int64) >> 16
        bias_sum = delta + (bias_word & ((1 << eta_bias) - 1))
        delta_bias = shift_round(delta, eta_bias, bias_word)
        bias_pre = layer.bias - delta_bias
        layer.bias = np.clip(bias_pre, -config.bias_limit, config.bias_limit)
        records.append({"sign": sign, "exponent": exponent, "update_sum": update_sum,
                        "delta_shadow": delta_shadow, "shadow_pre_clip": pre_clip,
                        "bias_sum": bias_sum, "delta_bias": delta_bias,
                        "bias_pre_clip": bias_pre})
    return records


def train_step(state, x, label, words=None):
    """One sample of QTrain: mutates ``state`` (weights, biases, ``step``).

    Parameters
    ----------
    state : QTrainState
    x : ndarray of int, shape (n_inputs,)
    label : int
    words : list, optional
        :func:`step_words` of the state's step (precomputed for speed).

    Returns
    -------
    dict
        ``weights``, ``trace``, ``error``, ``deltas``, ``backward``, ``update``
        (the intermediates, for checks), ``loss`` and ``predicted`` class.
    """
    words = step_words(state) if words is None else words
    weights = [sample_layer_weights(state, k, *words[k]) for k in range(len(state.layers))]
    trace = forward(state, x, weights)
    logits = trace[-1]["z"]
    error, delta_out, loss = output_error(logits, label, state.config.target,
                                          state.config.delta_limit)
    deltas, sums = backward(state, weights, trace, delta_out, words)
    records = update(state, trace, deltas, words)
    state.step += 1
    return {"weights": weights, "trace": trace, "error": error, "deltas": deltas,
            "backward": sums, "update": records, "loss": loss,
            "predicted": int(np.argmax(logits))}
