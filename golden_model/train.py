"""The training loop: mini-batches, learning-rate decay, best-validation selection."""

import time
from dataclasses import asdict, dataclass

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from .batchnorm import BatchNorm
from .dead_units import warn_dead_layers
from .history import History
from .layer import EVAL, RunMode
from .losses import get_loss
from .network import build_network
from .optimizers import DEFAULT_LR_DECAY, default_learning_rates, exponential_decay, make_optimizer


@dataclass
class TrainConfig:
    """How to train.

    Members
    -------
    epochs : int
    batch_size : int
    optimizer : {"adam", "sgd"}
    lr_start, lr_end : float or None
        The learning rate decays exponentially, update by update, from
        ``lr_start`` (first update) to ``lr_end`` (last update). None: from
        the run's number of updates (:func:`~golden_model.optimizers.default_learning_rates`;
        0.001 -> 0.00001 for 25,000 updates, larger for shorter runs).
    momentum : float
        SGD momentum.
    loss : {"hinge", "xent"}
        Squared hinge (BinaryConnect) or softmax cross-entropy.
    seed : int
        Seeds initialisation, shuffling, stochastic quantization and dropout:
        the same seed (and thread count) gives the same run, bit for bit.
    shadow_eval : bool
        Also measure validation accuracy with the float shadow weights.
    quiet : bool
        No progress bars.
    bn_calibration : int
        Before each validation, reset every batch norm's running statistics
        to the exact statistics of this many (fixed, random) training images
        under the evaluation forward pass (0: keep the running averages).
        Training forwards use sampled weights, whose statistics differ from
        the deterministic weights that are evaluated and put in hardware.
    threads : int or None
        BLAS threads while training (None: the library's default). One
        thread is much faster for small layers, where threading overhead
        (and other processes on the same cores) dominate the tiny products.
    """

    epochs: int = 30
    batch_size: int = 64
    optimizer: str = "adam"
    lr_start: float | None = None
    lr_end: float | None = None
    momentum: float = 0.9
    loss: str = "hinge"
    seed: int = 0
    shadow_eval: bool = False
    quiet: bool = False
    threads: int | None = 1
    bn_calibration: int = 2048

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def seeded_generators(seed):
    """Independent generators for weight initialisation and for training."""
    init_seq, train_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(init_seq), np.random.default_rng(train_seq)


def train(network, dataset, config):
    """Train ``network`` on ``dataset`` in place and return its :class:`History`.

    See :func:`train_epochs`; this wrapper applies ``config.threads``.
    """
    if config.threads is None:
        return train_epochs(network, dataset, config)
    with threadpool_limits(limits=int(config.threads), user_api="blas"):
        return train_epochs(network, dataset, config)


def train_epochs(network, dataset, config):
    """Train ``network`` on ``dataset`` in place and return its :class:`History`.

    After the last epoch the network holds the parameters of the (latest)
    epoch with the best validation accuracy (evaluated with the deterministic quantized
    weights, which is what the hardware runs).

    Parameters
    ----------
    network : Network
    dataset : object with ``x_train, y_train, x_val, y_val``
        Raw integer pixels and integer labels.
    config : TrainConfig
    """
    _, rng = seeded_generators(config.seed)
    loss_fn = get_loss(config.loss)
    optimizer = make_optimizer(config.optimizer, network.parameters(),
                               **({"momentum": config.momentum} if config.optimizer == "sgd"
                                  else {}))
    x_train = np.asarray(dataset.x_train, np.float32)
    y_train = np.asarray(dataset.y_train)
    x_val = np.asarray(dataset.x_val, np.float32)
    y_val = np.asarray(dataset.y_val)
    history = History()
    best_state, best_acc = None, -1.0
    mode = RunMode(train=True, rng=rng)
    n = len(y_train)
    calibration = None
    if config.bn_calibration > 0:
        calibration = x_train[np.sort(rng.permutation(n)[:config.bn_calibration])]
    rates = exponential_decay(*learning_rates(config, n), run_updates(config, n))
    update = 0
    for epoch in range(config.epochs):
        start = time.perf_counter()
        lr = rates[update]
        order = rng.permutation(n)
        batches = range(0, n, config.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                   disable=config.quiet, leave=False)
        loss_sum = correct = 0.0
        for i in bar:
            index = order[i:i + config.batch_size]
            logits = network.forward(x_train[index], mode)
            loss, grad = loss_fn(logits, y_train[index])
            network.backward(grad)
            optimizer.step(rates[update])
            update += 1
            network.after_update()
            loss_sum += loss * len(index)
            correct += np.sum(np.argmax(logits, axis=1) == y_train[index])
            seen = i + len(index)
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.3f}")
        if calibration is not None:
            calibrate_batchnorm(network, calibration)
        val_acc = network.accuracy(x_val, y_val)
        warn_dead_layers(network, x_val, epoch)
        shadow = network.accuracy(x_val, y_val, shadow=True) if config.shadow_eval else None
        history.append(epoch=epoch, lr=float(lr), train_loss=loss_sum / n, train_acc=correct / n,
                       val_acc=val_acc, val_acc_shadow=shadow,
                       seconds=time.perf_counter() - start)
        if val_acc >= best_acc:  # ties go to the later, longer-trained epoch
            best_acc, best_state, history.best_epoch = val_acc, network.state(), epoch
        if not config.quiet:
            tqdm.write(f"epoch {epoch + 1:3d}  lr {lr:.2e}  loss {loss_sum / n:.4f}  "
                       f"train {correct / n:.4f}  val {val_acc:.4f}"
                       + (f"  val(shadow) {shadow:.4f}" if shadow is not None else ""))
    if best_state is not None:
        network.load_state(best_state)
    return history


def learning_rates(config, n_train):
    """``(lr_start, lr_end)`` of ``config`` for ``n_train`` images, the defaults filled in.

    A missing ``lr_start`` comes from the run's number of updates; a missing
    ``lr_end`` is ``lr_start / DEFAULT_LR_DECAY``.
    """
    updates = run_updates(config, n_train)
    lr_start = default_learning_rates(updates)[0] if config.lr_start is None else config.lr_start
    lr_end = lr_start / DEFAULT_LR_DECAY if config.lr_end is None else config.lr_end
    return float(lr_start), float(lr_end)


def run_updates(config, n_train):
    """Optimizer steps in a run of ``config`` on ``n_train`` images (one per batch)."""
    return config.epochs * -(-int(n_train) // config.batch_size)


def calibrate_batchnorm(network, x, batch_size=1024):
    """Set each batch norm's running statistics to those of ``x`` in evaluation mode.

    Layer by layer, so that each batch norm sees the calibrated layers before
    it; the variance is the biased one, as in training.

    Parameters
    ----------
    network : Network
    x : numpy.ndarray
        Raw pixels.
    """
    norms = [layer for layer in network.layers if isinstance(layer, BatchNorm)]
    for norm in norms:
        total = total_sq = 0.0
        count = 0
        for i in range(0, len(x), batch_size):
            h = np.asarray(x[i:i + batch_size], np.float32)
            for layer in network.layers:
                if layer is norm:
                    break
                h = layer.forward(h, EVAL)
            # Feature maps: the channels are the features, every position a sample.
            h = h.astype(np.float64).reshape(-1, norm.n)
            count += len(h)
            total = total + h.sum(axis=0)
            total_sq = total_sq + (h * h).sum(axis=0)
        mean = total / count
        norm.running_mean = mean.astype(np.float32)
        norm.running_var = np.maximum(total_sq / count - mean * mean, 0).astype(np.float32)


def train_model(dataset, net_config, train_config):
    """Build a network for ``dataset`` from ``net_config`` and train it.

    The input mean is the per-pixel mean of the training pixels; the input
    width, input size and class count come from the dataset.

    Returns
    -------
    network : Network
    history : History
        With ``final["test_acc"]`` (and ``final["test_acc_shadow"]``).
    """
    init_rng, _ = seeded_generators(train_config.seed)
    net_config.sizes = (dataset.n_inputs, *tuple(net_config.sizes)[1:-1], dataset.n_classes)
    net_config.input_bits = int(dataset.input_bits)
    mean = np.asarray(dataset.x_train, np.float64).mean(axis=0)
    network = build_network(net_config, mean, init_rng)
    history = train(network, dataset, train_config)
    history.final["test_acc"] = network.accuracy(dataset.x_test, dataset.y_test)
    history.final["test_acc_shadow"] = network.accuracy(dataset.x_test, dataset.y_test,
                                                        shadow=True)
    return network, history
