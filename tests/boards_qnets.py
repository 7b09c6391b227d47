"""Small hand-built QNets for the boards tests (random weights, fixed seeds)."""

import numpy as np

from golden_model.qnet import InputSpec, QLayer, QNet


def make_qnet(sizes=(16, 8, 4), in_bits=4, seed=0, out_bits=4, pow2=False):
    """A ternary QNet with layer sizes ``sizes`` (inputs first) and random integers."""
    rng = np.random.default_rng(seed)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = k == len(sizes) - 2
        layers.append(QLayer(
            weights=rng.integers(-1, 2, size=(n_out, n_in)),
            bias=rng.integers(-8, 9, size=n_out),
            shift=rng.integers(0, 3, size=n_out),
            activation="linear" if last else "relu",
            out_bits=out_bits, pow2=bool(pow2 and not last), e_max=3))
    return QNet(input=InputSpec(n_inputs=sizes[0], bits=in_bits, dataset="random"),
                layers=layers)


def random_images(qnet, n, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1 << qnet.input.bits, size=(n, qnet.input.n_inputs))
