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


def make_cnn(image_shape=(28, 28, 1), convs=((16, True), (32, True)), dense=(128, 10),
             in_bits=8, seed=0, weight_mode="ternary"):
    """A random convolutional QNet: a 3x3 'same' convolution per ``(channels, pool)`` of
    ``convs`` (a 2x2 max-pool after it when ``pool``), a flatten, then dense layers."""
    from golden_model.qnet import QConv2D, QFlatten, QMaxPool2D

    rng = np.random.default_rng(seed)
    low = -1 if weight_mode == "ternary" else 0
    layers, shape = [], tuple(image_shape)
    for channels, pool in convs:
        weights = rng.integers(low, 2, size=(channels, 3, 3, shape[2]))
        if weight_mode == "binary":
            weights = 2 * weights - 1
        conv = QConv2D(weights=weights, bias=rng.integers(-8, 9, size=channels),
                       shift=rng.integers(1, 4, size=channels), in_shape=shape,
                       weight_mode=weight_mode, activation="relu", out_bits=4)
        layers.append(conv)
        shape = conv.out_shape
        if pool:
            layers.append(QMaxPool2D(in_shape=shape, size=2))
            shape = layers[-1].out_shape
    layers.append(QFlatten(in_shape=shape))
    n_in = int(np.prod(shape))
    for k, n_out in enumerate(dense):
        last = k == len(dense) - 1
        layers.append(QLayer(weights=rng.integers(-1, 2, size=(n_out, n_in)),
                             bias=rng.integers(-8, 9, size=n_out),
                             shift=rng.integers(2, 6, size=n_out),
                             activation="linear" if last else "relu", out_bits=4))
        n_in = n_out
    return QNet(input=InputSpec(n_inputs=int(np.prod(image_shape)), bits=in_bits,
                                dataset="random", image_shape=tuple(image_shape)),
                layers=layers)
