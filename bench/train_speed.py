"""Training speed: our NumPy step vs the same step in PyTorch on the CPU.

One epoch of a 784-256-256-10 network (batch norm, ReLU, squared hinge, Adam)
on synthetic MNIST-sized data, in three weight modes: float, BinaryConnect
(stochastic binary) and TernaryConnect with quantized back-propagation. Both
sides run with the same number of BLAS/intra-op threads. Prints samples per
second and the ratio NumPy / PyTorch (above 1.0: NumPy is faster).

    python bench/train_speed.py [--samples 20000] [--threads 1 2] [--cnn-samples 5000]

Then the same for a small CNN, ``c16k3-p2-c32k3-p2-128-10`` on 28x28x1
images, with the NumPy time split by layer kind (where the time goes).

PyTorch is optional (``pip install torch`` from the CPU wheel index, or the
project's ``bench`` extra); without it only the NumPy figures are printed.
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from golden_model.layer import RunMode
from golden_model.losses import squared_hinge
from golden_model.network import NetworkConfig, build_network
from golden_model.optimizers import Adam

SIZES = (784, 256, 256, 10)
MODES = {
    "float": dict(weight_mode="float"),
    "binary (BC)": dict(weight_mode="binary"),
    "ternary + QB": dict(weight_mode="ternary", quantized_backprop=True),
}


def synthetic_data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, SIZES[0]), dtype=np.uint8), rng.integers(0, 10, n)


def numpy_epoch(x, y, batch, options):
    net = build_network(NetworkConfig(sizes=SIZES, input_bits=8, **options), x.mean(axis=0),
                        np.random.default_rng(0))
    optimizer = Adam(net.parameters())
    mode = RunMode(train=True, rng=np.random.default_rng(1))
    xf = x.astype(np.float32)

    def step(i):
        logits = net.forward(xf[i:i + batch], mode)
        _, grad = squared_hinge(logits, y[i:i + batch])
        net.backward(grad)
        optimizer.step(1e-3)
        net.after_update()

    for i in range(0, 5 * batch, batch):  # warm-up
        step(i)
    start = time.perf_counter()
    for i in range(0, len(y), batch):
        step(i)
    return len(y) / (time.perf_counter() - start)


def torch_epoch(torch, x, y, batch, options):
    nn = torch.nn
    mode = options.get("weight_mode", "float")
    qb = options.get("quantized_backprop", False)

    class LinearQB(torch.autograd.Function):
        """``x @ w.T``, with the weight gradient taken against a rounded input."""

        @staticmethod
        def forward(ctx, inp, weight, inp_for_grad):
            ctx.save_for_backward(weight, inp_for_grad)
            return inp @ weight.t()

        @staticmethod
        def backward(ctx, grad):
            weight, inp_for_grad = ctx.saved_tensors
            return grad @ weight, grad.t() @ inp_for_grad, None

    def pow2_round(t):
        mag = t.abs()
        mant, expo = torch.frexp(mag)
        small = mag < 2.0**-4
        frac = torch.where(small, mag * 16, 2 * mant - 1)
        up = torch.rand_like(t) < frac
        k = torch.where(small, torch.full_like(expo, -4), expo - 1 + up.to(expo.dtype))
        k = k.clamp(max=3)
        out = torch.where(small & ~up, torch.zeros_like(t), torch.ldexp(torch.ones_like(t), k))
        return torch.sign(t) * out

    class QDense(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.w0 = float(np.sqrt(1.5 / (n_in + n_out)))
            limit = float(np.sqrt(6 / (n_in + n_out)))
            w = torch.empty(n_out, n_in).uniform_(-limit, limit)
            if mode != "float":
                w.clamp_(-self.w0, self.w0)
            self.weight = nn.Parameter(w)

        def forward(self, inp):
            w = self.weight
            if mode == "binary":
                p = ((w / self.w0 + 1) / 2).clamp(0, 1)
                wq = torch.where(torch.rand_like(w) < p, self.w0, -self.w0)
                w = w + (wq - w).detach()
            elif mode == "ternary":
                keep = torch.rand_like(w) < w.abs() / self.w0
                wq = torch.where(keep, torch.sign(w) * self.w0, torch.zeros_like(w))
                w = w + (wq - w).detach()
            if qb:
                return LinearQB.apply(inp, w, pow2_round(inp.detach()))
            return inp @ w.t()

    layers = []
    for k in range(len(SIZES) - 1):
        layers += [QDense(SIZES[k], SIZES[k + 1]), nn.BatchNorm1d(SIZES[k + 1], eps=1e-4)]
        if k < len(SIZES) - 2:
            layers.append(nn.ReLU())
    net = nn.Sequential(*layers)
    dense = [m for m in net if isinstance(m, QDense)]
    groups = [{"params": [m.weight], "lr": 1e-3 / m.w0 if mode != "float" else 1e-3}
              for m in dense]
    groups.append({"params": [p for m in net if isinstance(m, nn.BatchNorm1d)
                              for p in m.parameters()], "lr": 1e-3})
    optimizer = torch.optim.Adam(groups)
    mean = torch.from_numpy(x.mean(axis=0).astype(np.float32))
    xt = (torch.from_numpy(x.astype(np.float32)) - mean) / 256
    targets = -torch.ones(len(y), 10)
    targets[torch.arange(len(y)), torch.from_numpy(y)] = 1

    def step(i):
        out = net(xt[i:i + batch])
        loss = ((1 - targets[i:i + batch] * out).clamp(min=0) ** 2).sum() / len(out)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if mode != "float":
            with torch.no_grad():
                for m in dense:
                    m.weight.clamp_(-m.w0, m.w0)

    for i in range(0, 5 * batch, batch):
        step(i)
    start = time.perf_counter()
    for i in range(0, len(y), batch):
        step(i)
    return len(y) / (time.perf_counter() - start)


CNN_ARCH = "c16k3-p2-c32k3-p2-128-10"
CNN_IMAGE = (28, 28, 1)


def numpy_cnn_epoch(x, y, batch, options):
    """Samples per second of one CNN epoch, and the seconds spent per layer kind."""
    config = NetworkConfig(sizes=(x.shape[1], 128, 10), input_bits=8, arch=CNN_ARCH,
                           image_shape=CNN_IMAGE, **options)
    net = build_network(config, x.mean(axis=0), np.random.default_rng(0))
    optimizer = Adam(net.parameters())
    mode = RunMode(train=True, rng=np.random.default_rng(1))
    xf = x.astype(np.float32)
    seconds = {}

    def timed(kind, start):
        seconds[kind] = seconds.get(kind, 0.0) + time.perf_counter() - start

    def step(i):
        a = xf[i:i + batch]
        for layer in net.layers:
            start = time.perf_counter()
            a = layer.forward(a, mode)
            timed(type(layer).__name__, start)
        _, grad = squared_hinge(a, y[i:i + batch])
        for layer in reversed(net.layers):
            start = time.perf_counter()
            grad = layer.backward(grad)
            timed(type(layer).__name__, start)
        start = time.perf_counter()
        optimizer.step(1e-3)
        net.after_update()
        timed("optimizer", start)

    for i in range(0, 3 * batch, batch):  # warm-up
        step(i)
    seconds.clear()
    start = time.perf_counter()
    for i in range(0, len(y), batch):
        step(i)
    return len(y) / (time.perf_counter() - start), seconds


def torch_cnn_epoch(torch, x, y, batch, options):
    """The same CNN step in PyTorch (zero padding; BC/TC sampling and QB as in NumPy)."""
    nn, functional = torch.nn, torch.nn.functional
    mode = options.get("weight_mode", "float")
    qb = options.get("quantized_backprop", False)

    def pow2_round(t):
        mag = t.abs()
        mant, expo = torch.frexp(mag)
        small = mag < 2.0**-4
        frac = torch.where(small, mag * 16, 2 * mant - 1)
        up = torch.rand_like(t) < frac
        k = torch.where(small, torch.full_like(expo, -4), expo - 1 + up.to(expo.dtype))
        out = torch.where(small & ~up, torch.zeros_like(t), torch.ldexp(torch.ones_like(t),
                                                                           k.clamp(max=3)))
        return torch.sign(t) * out

    class ConvQB(torch.autograd.Function):
        """A same-padded convolution whose weight gradient sees a rounded input."""

        @staticmethod
        def forward(ctx, inp, weight, inp_for_grad):
            ctx.save_for_backward(inp, weight, inp_for_grad)
            return functional.conv2d(inp, weight, padding=weight.shape[-1] // 2)

        @staticmethod
        def backward(ctx, grad):
            inp, weight, inp_for_grad = ctx.saved_tensors
            pad = weight.shape[-1] // 2
            return (torch.nn.grad.conv2d_input(inp.shape, weight, grad, padding=pad),
                    torch.nn.grad.conv2d_weight(inp_for_grad, weight.shape, grad, padding=pad),
                    None)

    class QWeights(nn.Module):
        def __init__(self, shape, fan):
            super().__init__()
            self.w0 = float(np.sqrt(1.5 / fan))
            limit = float(np.sqrt(6 / fan))
            w = torch.empty(*shape).uniform_(-limit, limit)
            if mode != "float":
                w.clamp_(-self.w0, self.w0)
            self.weight = nn.Parameter(w)

        def quantized(self):
            w = self.weight
            if mode == "binary":
                p = ((w / self.w0 + 1) / 2).clamp(0, 1)
                wq = torch.where(torch.rand_like(w) < p, self.w0, -self.w0)
                return w + (wq - w).detach()
            if mode == "ternary":
                keep = torch.rand_like(w) < w.abs() / self.w0
                wq = torch.where(keep, torch.sign(w) * self.w0, torch.zeros_like(w))
                return w + (wq - w).detach()
            return w

    class QConv(QWeights):
        def __init__(self, c_in, c_out, k):
            super().__init__((c_out, c_in, k, k), k * k * c_in + c_out)

        def forward(self, inp):
            w = self.quantized()
            if qb:
                return ConvQB.apply(inp, w, pow2_round(inp.detach()))
            return functional.conv2d(inp, w, padding=w.shape[-1] // 2)

    class QLinear(QWeights):
        def __init__(self, n_in, n_out):
            super().__init__((n_out, n_in), n_in + n_out)

        def forward(self, inp):
            return inp @ self.quantized().t()

    net = nn.Sequential(
        QConv(1, 16, 3), nn.BatchNorm2d(16, eps=1e-4), nn.ReLU(), nn.MaxPool2d(2),
        QConv(16, 32, 3), nn.BatchNorm2d(32, eps=1e-4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), QLinear(7 * 7 * 32, 128), nn.BatchNorm1d(128, eps=1e-4), nn.ReLU(),
        QLinear(128, 10), nn.BatchNorm1d(10, eps=1e-4))
    weighted = [m for m in net if isinstance(m, QWeights)]
    groups = [{"params": [m.weight], "lr": 1e-3 / m.w0 if mode != "float" else 1e-3}
              for m in weighted]
    groups.append({"params": [p for m in net if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)
                              for p in m.parameters()], "lr": 1e-3})
    optimizer = torch.optim.Adam(groups)
    xt = (torch.from_numpy(x.astype(np.float32)) - float(x.mean())) / 256
    xt = xt.reshape(-1, 1, 28, 28)
    targets = -torch.ones(len(y), 10)
    targets[torch.arange(len(y)), torch.from_numpy(y)] = 1

    def step(i):
        out = net(xt[i:i + batch])
        loss = ((1 - targets[i:i + batch] * out).clamp(min=0) ** 2).sum() / len(out)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if mode != "float":
            with torch.no_grad():
                for m in weighted:
                    m.weight.clamp_(-m.w0, m.w0)

    for i in range(0, 3 * batch, batch):
        step(i)
    start = time.perf_counter()
    for i in range(0, len(y), batch):
        step(i)
    return len(y) / (time.perf_counter() - start)


def cnn_figures(torch, samples, batch, threads_list):
    """Print the CNN table and, per mode, the share of NumPy time per layer kind."""
    x, y = synthetic_data(samples)
    print(f"\none epoch, {samples} samples, batch {batch}, CNN {CNN_ARCH} on 28x28x1")
    print(f"{'threads':>7}  {'mode':<14} {'numpy samples/s':>16} {'torch samples/s':>16} "
          f"{'numpy/torch':>12}  numpy time by layer kind")
    for threads in threads_list:
        for name, options in MODES.items():
            with threadpool_limits(limits=threads):
                ours, seconds = numpy_cnn_epoch(x, y, batch, options)
            theirs = None
            if torch is not None:
                torch.manual_seed(0)
                torch.set_num_threads(threads)
                theirs = torch_cnn_epoch(torch, x, y, batch, options)
            theirs_text = f"{theirs:16.0f}" if theirs else f"{'-':>16}"
            ratio = f"{ours / theirs:12.2f}" if theirs else f"{'-':>12}"
            total = sum(seconds.values())
            split = ", ".join(f"{kind} {100 * s / total:.0f}%" for kind, s in
                              sorted(seconds.items(), key=lambda item: -item[1])
                              if s / total >= 0.02)
            print(f"{threads:7d}  {name:<14} {ours:16.0f} {theirs_text} {ratio}  {split}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cnn-samples", type=int, default=5000,
                        help="samples of the CNN epoch (0: skip the CNN)")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch is not installed: NumPy figures only. For the comparison install the "
              "CPU wheel: pip install torch --index-url https://download.pytorch.org/whl/cpu")
    x, y = synthetic_data(args.samples)
    print(f"one epoch, {args.samples} samples, batch {args.batch}, network "
          f"{'-'.join(map(str, SIZES))}" + (f", torch {torch.__version__}" if torch else ""))
    print(f"{'threads':>7}  {'mode':<14} {'numpy samples/s':>16} {'torch samples/s':>16} "
          f"{'numpy/torch':>12}")
    for threads in args.threads:
        for name, options in MODES.items():
            with threadpool_limits(limits=threads):
                ours = numpy_epoch(x, y, args.batch, options)
            theirs = None
            if torch is not None:
                torch.manual_seed(0)
                torch.set_num_threads(threads)
                theirs = torch_epoch(torch, x, y, args.batch, options)
            theirs_text = f"{theirs:16.0f}" if theirs else f"{'-':>16}"
            ratio = f"{ours / theirs:12.2f}" if theirs else f"{'-':>12}"
            print(f"{threads:7d}  {name:<14} {ours:16.0f} {theirs_text} {ratio}")
    if args.cnn_samples > 0:
        cnn_figures(torch, args.cnn_samples, args.batch, args.threads)


if __name__ == "__main__":
    main()
