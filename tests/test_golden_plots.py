"""PNG learning curves and weight histograms."""

import numpy as np

from golden_model.history import History
from golden_model.network import NetworkConfig, build_network
from golden_model.plots import plot_history, plot_weight_histograms, quantization_thresholds

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_writes_pngs(tmp_path):
    h = History(epoch=[0, 1], lr=[1, 1], train_loss=[2.0, 1.0], train_acc=[0.5, 0.6],
                val_acc=[0.5, 0.7], val_acc_shadow=[0.4, 0.6], seconds=[1, 1], best_epoch=1)
    plot_history(h, tmp_path / "curves.png")
    net = build_network(NetworkConfig(sizes=(6, 5, 3), weight_mode="ternary"))
    plot_weight_histograms(net, tmp_path / "weights.png")
    for name in ("curves.png", "weights.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC


def test_thresholds_per_mode():
    nets = {m: build_network(NetworkConfig(sizes=(6, 2), weight_mode=m))
            for m in ("float", "binary", "ternary")}
    dense = {m: n.blocks()[0].dense for m, n in nets.items()}
    assert quantization_thresholds(dense["float"]) == []
    assert quantization_thresholds(dense["binary"]) == [0.0]
    w0 = dense["ternary"].w0
    np.testing.assert_allclose(quantization_thresholds(dense["ternary"]), [-w0 / 2, w0 / 2])
