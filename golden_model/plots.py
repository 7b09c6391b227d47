"""PNG pictures of a training run: learning curves and shadow-weight histograms."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .output_files import save_figure  # noqa: E402


def plot_history(history, path):
    """Learning curves: training loss, and training/validation accuracy per epoch."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.asarray(history.epoch) + 1
    ax_loss.plot(epochs, history.train_loss, label="train loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.set_yscale("log")
    ax_loss.legend()
    ax_acc.plot(epochs, np.asarray(history.train_acc) * 100, label="train (sampled weights)")
    ax_acc.plot(epochs, np.asarray(history.val_acc) * 100, label="validation (quantized)")
    if any(v is not None for v in history.val_acc_shadow):
        shadow = [np.nan if v is None else v * 100 for v in history.val_acc_shadow]
        ax_acc.plot(epochs, shadow, label="validation (float shadow)", linestyle="--")
    if history.best_epoch >= 0:
        ax_acc.axvline(history.best_epoch + 1, color="grey", linestyle=":", label="kept")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.legend()
    fig.tight_layout()
    try:
        save_figure(fig, path, dpi=100)
    finally:
        plt.close(fig)
    return Path(path)


def quantization_thresholds(dense):
    """Shadow-weight values where the deterministic quantizer changes output."""
    if dense.weight_mode == "binary":
        return [0.0]
    if dense.weight_mode == "ternary":
        return [-0.5 * dense.w0, 0.5 * dense.w0]
    return []


def plot_weight_histograms(network, path, bins=60):
    """One histogram of shadow weights per Dense layer, with thresholds and ``±W0``."""
    blocks = network.blocks()
    fig, axes = plt.subplots(1, len(blocks), figsize=(4 * len(blocks), 3.2), squeeze=False)
    for k, (ax, block) in enumerate(zip(axes[0], blocks, strict=True)):
        dense = block.dense
        ax.hist(dense.W.ravel(), bins=bins, color="tab:blue")
        for t in quantization_thresholds(dense):
            ax.axvline(t, color="tab:red", linestyle="--")
        if dense.weight_mode != "float":
            for t in (-dense.w0, dense.w0):
                ax.axvline(t, color="grey", linestyle=":")
        ax.set_title(f"layer {k} ({dense.n_in}→{dense.n_out}, {dense.weight_mode})")
        ax.set_xlabel("shadow weight")
    fig.tight_layout()
    try:
        save_figure(fig, path, dpi=100)
    finally:
        plt.close(fig)
    return Path(path)
