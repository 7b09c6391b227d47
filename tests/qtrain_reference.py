"""A slow, obviously-correct QTrain reference in Python integers and loops.

Written from ``docs/qtrain.md`` alone, to check the vectorised golden model
(``golden_model.qtrain``) against.
"""

M32 = 0xFFFFFFFF


def mix(x):
    x &= M32
    for _ in range(2):
        x = ((x << 15) + (M32 - x)) & M32
        x ^= x >> 12
        x = (x + (x << 2)) & M32
        x ^= x >> 4
        x = (x * 2057) & M32
        x ^= x >> 16
        x = (x + 0x9E3779B9) & M32
    return x


def word(seed, step, layer, row, column):
    key = mix(mix(mix(seed) ^ (step & M32)) ^ layer)
    return mix(key ^ (2 * row)) ^ mix(key ^ (2 * column + 1))


def sample(s, w0_log2, mode, stochastic, r):
    w0 = 1 << w0_log2
    if mode == "binary":
        if stochastic:
            return 1 if (r & (2 * w0 - 1)) < s + w0 else -1
        return 1 if s >= 0 else -1
    sign = (s > 0) - (s < 0)
    if stochastic:
        return sign if (r & (w0 - 1)) < abs(s) else 0
    return sign if abs(s) > w0 // 2 else 0


def pow2_code(y, e_max):
    """QNet code: leading one, plus one if the next bit is set, clamped."""
    if y == 0:
        return 0, 0
    m = abs(y)
    lead = m.bit_length() - 1
    e = lead + (1 if lead > 0 and (m >> (lead - 1)) & 1 else 0)
    return (1 if y > 0 else -1), min(e, e_max)


def round_input(a, stochastic, e_max, r):
    if a == 0:
        return 0, 0
    if not stochastic:
        return pow2_code(a, e_max)
    m = abs(a)
    p = m.bit_length() - 1
    f = m - (1 << p)
    up = (r % (1 << p)) < f
    return (1 if a > 0 else -1), p + up


def activate(layer, z, j):
    t = int(layer.threshold[j])
    if layer.activation == "relu":
        y = max(z, 0)
    elif layer.activation == "trec":
        y = z if z > t else 0
    elif layer.activation == "tlin":
        y = z if abs(z) > t else 0
    else:
        y = z
    if layer.activation in ("relu", "trec"):
        lo, hi = 0, (1 << layer.out_bits) - 1
    else:
        lo, hi = -(1 << (layer.out_bits - 1)), (1 << (layer.out_bits - 1)) - 1
    return min(max(y, lo), hi)


def shift(v, s):
    return v >> s if s >= 0 else v << -s


def clip(v, lo, hi):
    return min(max(v, lo), hi)


def reference_step(state, x, label):
    """One step in loops; returns (shadows, biases, loss) after it, as nested lists."""
    c = state.config
    w0 = 1 << c.w0_log2
    b0 = 1 << c.bias_log2
    d = (1 << (c.delta_bits - 1)) - 1
    t = state.step
    n = len(state.layers)
    S = [[[int(v) for v in row] for row in layer.shadow] for layer in state.layers]
    B = [[int(v) for v in layer.bias] for layer in state.layers]

    def R(k, j, i):
        return word(c.seed, t, k, j, i)

    weights, inputs, masks = [], [], []
    a = [int(v) for v in x]
    for k, layer in enumerate(state.layers):
        n_out, n_in = layer.n_out, layer.n_in
        W = [[sample(S[k][j][i], c.w0_log2, c.weight_mode, c.sampling == "stochastic",
                     R(k, j, i)) for i in range(n_in)] for j in range(n_out)]
        weights.append(W)
        inputs.append(a)
        out, mask = [], []
        for j in range(n_out):
            acc = sum(W[j][i] * a[i] for i in range(n_in))
            z = shift(acc + B[k][j], int(layer.shift[j]))
            if k == n - 1:
                out.append(z)
                continue
            y = activate(layer, z, j)
            mask.append(y == z and (y != 0 or layer.activation == "linear"))
            if layer.pow2:
                sgn, e = pow2_code(y, layer.e_max)
                out.append(sgn * (1 << e))
            else:
                out.append(y)
        masks.append(mask)
        a = out
    logits = a
    delta = [None] * n
    loss = 0
    err = []
    for j, z in enumerate(logits):
        tau = 1 if j == label else -1
        m = max(0, c.target - tau * z)
        loss += m * m
        err.append(clip(-tau * m, -d, d))
    delta[n - 1] = err
    for k in range(n - 1, 0, -1):
        layer = state.layers[k]
        r = c.backward_shift[k]
        prev = []
        for i in range(layer.n_in):
            g = sum(weights[k][j][i] * delta[k][j] for j in range(layer.n_out))
            noise = R(k, layer.n_out + 1, i) % (1 << r)
            v = clip((g + noise) >> r, -d, d)
            prev.append(v if masks[k - 1][i] else 0)
        delta[k - 1] = prev
    decay = state.epoch // c.decay_epochs if c.decay_epochs else 0
    for k, layer in enumerate(state.layers):
        eta = min(16, c.eta[k] + decay)
        eta_b = min(16, c.eta_bias[k] + decay)
        e_max = state.widths[k].ranges["exponent"][1]
        codes = [round_input(inputs[k][i], c.input_rounding == "stochastic", e_max,
                             R(k, layer.n_out, i)) for i in range(layer.n_in)]
        for j in range(layer.n_out):
            for i in range(layer.n_in):
                sgn, e = codes[i]
                v = sgn * (delta[k][j] << e)
                rho = (R(k, j, i) >> 16) % (1 << eta)
                S[k][j][i] = clip(S[k][j][i] - ((v + rho) >> eta), -w0, w0)
            rho = (R(k, j, layer.n_in) >> 16) % (1 << eta_b)
            B[k][j] = clip(B[k][j] - ((delta[k][j] + rho) >> eta_b), -b0, b0)
    return S, B, loss
