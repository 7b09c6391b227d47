"""Small convolutional QNets for the QNet tests, and a slow loop reference of their forward."""

import numpy as np

from golden_model.qnet import InputSpec, QConv2D, QFlatten, QLayer, QMaxPool2D, QNet


def conv_qnet(seed=0, pow2=True, padding="same", stride=1, pad_value=(3, 0), activation="trec"):
    """Image 5x4x2 of 4-bit pixels -> conv 3x3 (3 ch) -> pool 2 -> conv 2x2 (2 ch) -> flatten
    -> dense 3."""
    rng = np.random.default_rng(seed)
    conv = QConv2D(weights=rng.integers(-1, 2, (3, 3, 3, 2)), bias=rng.integers(-20, 20, 3),
                   shift=np.array([0, 1, 2]), in_shape=(5, 4, 2), stride=stride,
                   padding=padding, pad_value=np.array(pad_value), activation=activation,
                   threshold=np.array([0, 1, 2]) if activation in ("trec", "tlin") else None,
                   out_bits=4, pow2=pow2, e_max=3)
    pool = QMaxPool2D(in_shape=conv.out_shape, size=min(2, *conv.out_shape[:2]))
    conv2 = QConv2D(weights=rng.choice([-1, 1], (2, 2, 2, 3)), bias=rng.integers(-5, 5, 2),
                    shift=np.array([1, -1]), in_shape=pool.out_shape, padding="same",
                    weight_mode="binary", activation="relu", out_bits=5)
    flat = QFlatten(in_shape=conv2.out_shape)
    n = flat.out_shape[0]
    dense = QLayer(weights=rng.integers(-1, 2, (3, n)), bias=np.array([1, -2, 3]),
                   shift=np.array([0, 0, 1]), activation="linear")
    return QNet(InputSpec(n_inputs=40, bits=4, dataset="test", image_shape=(5, 4, 2)),
                [conv, pool, conv2, flat, dense], meta={"note": "conv"})


def loop_forward(net, x):
    """The integer forward with explicit loops over images, positions and channels."""
    a = np.asarray(x, np.int64)
    a = a.reshape((len(a),) + tuple(net.layers[0].in_shape))
    for k, layer in enumerate(net.layers):
        last = k == len(net.layers) - 1
        if isinstance(layer, QMaxPool2D):
            s = layer.size
            h, w, c = layer.out_shape
            out = np.zeros((len(a), h, w, c), np.int64)
            for i in range(h):
                for j in range(w):
                    out[:, i, j] = a[:, i * s:(i + 1) * s, j * s:(j + 1) * s].max(axis=(1, 2))
            a = out
            continue
        if isinstance(layer, QFlatten):
            a = a.reshape(len(a), -1)
            continue
        if isinstance(layer, QConv2D):
            (top, _), (left, _) = layer.pads
            h, w, c_out = layer.out_shape
            k_size, s = layer.kernel, layer.stride
            hin, win, c_in = layer.in_shape
            acc = np.zeros((len(a), h, w, c_out), np.int64)
            for n in range(len(a)):
                for i in range(h):
                    for j in range(w):
                        for o in range(c_out):
                            total = 0
                            for dy in range(k_size):
                                for dx in range(k_size):
                                    y, xx = i * s + dy - top, j * s + dx - left
                                    for c in range(c_in):
                                        inside = 0 <= y < hin and 0 <= xx < win
                                        v = a[n, y, xx, c] if inside else layer.pad_value[c]
                                        total += int(layer.weights[o, dy, dx, c]) * int(v)
                            acc[n, i, j, o] = total
        else:
            acc = a @ layer.weights.astype(np.int64).T
        z = acc + layer.bias
        z = np.where(layer.shift >= 0, z >> np.maximum(layer.shift, 0),
                     z << np.maximum(-layer.shift, 0))
        if last:
            return z
        t = layer.threshold
        if layer.activation == "relu":
            y = np.maximum(z, 0)
        elif layer.activation == "trec":
            y = np.where(z > t, z, 0)
        elif layer.activation == "tlin":
            y = np.where(np.abs(z) > t, z, 0)
        else:
            y = z
        lo, hi = layer.saturation_range()
        y = np.clip(y, lo, hi)
        if layer.pow2:
            mag = np.abs(y)
            e = np.zeros_like(mag)
            for idx in np.ndindex(mag.shape):
                m = int(mag[idx])
                if m:
                    lead = m.bit_length() - 1
                    e[idx] = min(lead + (1 if lead and (m >> (lead - 1)) & 1 else 0), layer.e_max)
            y = np.sign(y) * (1 << e)
        a = y
    return a


def digits_cnn(seed=0, pow2=True, stride=2, padding="valid", pool=False):
    """8x8x1 digits (5-bit pixels) -> conv 3x3 same, 4 ch, raw-pixel padding 9
    [-> max-pool 2 (then the conv hands on values, not pow2 codes)]
    -> conv 3x3 (``stride``, ``padding``), 6 ch -> flatten -> dense 10."""
    rng = np.random.default_rng(seed)
    conv1 = QConv2D(weights=rng.integers(-1, 2, (4, 3, 3, 1)), bias=rng.integers(-20, 20, 4),
                    shift=np.array([1, 2, 2, 3]), in_shape=(8, 8, 1), padding="same",
                    pad_value=np.array([9]), activation="trec" if not pool else "tlin",
                    threshold=np.array([0, 1, 2, 0]), out_bits=4, pow2=pow2 and not pool,
                    e_max=3)
    layers = [conv1]
    if pool:
        layers.append(QMaxPool2D(in_shape=conv1.out_shape, size=2))
    conv2 = QConv2D(weights=rng.choice([-1, 1], (6, 3, 3, 4)), bias=rng.integers(-5, 5, 6),
                    shift=np.array([1, 0, 2, 1, 0, 1]), in_shape=layers[-1].out_shape,
                    stride=stride, padding=padding, weight_mode="binary", activation="relu",
                    out_bits=5)
    flat = QFlatten(in_shape=conv2.out_shape)
    dense = QLayer(weights=rng.integers(-1, 2, (10, flat.out_shape[0])),
                   bias=rng.integers(-3, 3, 10), shift=np.zeros(10, dtype=np.int64),
                   activation="linear")
    return QNet(InputSpec(n_inputs=64, bits=5, dataset="digits", image_shape=(8, 8, 1)),
                layers + [conv2, flat, dense])


def pool_first_qnet():
    """8x8x1 digits -> max-pool 2 -> conv 3x3 (2 ch) -> flatten -> dense 3: a max-pool on
    the pixels, which the hardware generator does not build."""
    zeros = np.zeros(3, dtype=np.int64)
    conv = QConv2D(weights=np.ones((2, 3, 3, 1), dtype=np.int64), bias=zeros[:2],
                   shift=zeros[:2], in_shape=(4, 4, 1))
    flat = QFlatten(in_shape=conv.out_shape)
    dense = QLayer(weights=np.ones((3, 32), dtype=np.int64), bias=zeros, shift=zeros,
                   activation="linear")
    return QNet(InputSpec(n_inputs=64, bits=5, dataset="digits", image_shape=(8, 8, 1)),
                [QMaxPool2D(in_shape=(8, 8, 1), size=2), conv, flat, dense])
