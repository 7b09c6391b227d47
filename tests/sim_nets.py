"""Hand-built QNets and real digits images for the sim tests (fixed seeds)."""

import dataclasses
import functools

import numpy as np

from golden_model.qnet import InputSpec, QLayer, QNet


def digits_qnet(hidden=(12,), seed=0, activation="relu", pow2=False, out_bits=6,
                weight_mode="ternary"):
    """A 64-input, 10-class QNet for 5-bit digits pixels, random integers."""
    rng = np.random.default_rng(seed)
    sizes = (64, *hidden, 10)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = k == len(sizes) - 2
        if weight_mode == "binary":
            weights = rng.choice([-1, 1], size=(n_out, n_in))
        else:
            weights = rng.integers(-1, 2, size=(n_out, n_in))
        act = "linear" if last else activation
        threshold = (rng.integers(0, 4, size=n_out) if act in ("trec", "tlin")
                     else np.zeros(n_out, dtype=np.int64))
        layers.append(QLayer(
            weights=weights, bias=rng.integers(-20, 21, size=n_out),
            shift=rng.integers(-1 if k else 0, 4, size=n_out), weight_mode=weight_mode,
            activation=act, threshold=threshold, out_bits=out_bits,
            pow2=bool(pow2 and not last), e_max=4))
    return QNet(input=InputSpec(n_inputs=64, bits=5, dataset="digits", image_shape=(8, 8)),
                layers=layers)


@functools.cache
def _digits_test():
    from golden_model.datasets import load_dataset

    data = load_dataset("digits")
    return np.asarray(data.x_test, dtype=np.int64)


def digits_images(n, start=0):
    """``n`` real test-set digits (pixels 0..16) and their test-set indices."""
    images = _digits_test()[start:start + n]
    return images, np.arange(start, start + len(images))


def off_by_one_bias(qnet, layer=-1, neuron=0):
    """A copy of ``qnet`` whose ``neuron`` in ``layer`` has its bias raised by one."""
    layers = list(qnet.layers)
    bias = layers[layer].bias.copy()
    bias[neuron] += 1
    layers[layer] = dataclasses.replace(layers[layer], bias=bias)
    return QNet(input=qnet.input, layers=layers)
