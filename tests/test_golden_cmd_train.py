"""``mulfree train`` end to end on digits (tiny budget) and its argument errors."""

import numpy as np
import pytest

from golden_model.history import History
from golden_model.model_io import load_model
from mulfree.cli import main


def test_trains_and_writes_model_history_and_plots(tmp_path, capsys):
    out = tmp_path / "m" / "model.npz"
    code = main(["train", "--arch", "64-32-10", "--epochs", "2", "--qb", "--weights", "binary",
                 "--act-quant", "pow2", "--pretrain-epochs", "1", "--quiet", "--out", str(out),
                 "--max-train", "600", "--bn-calibration", "256"])
    assert code == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "activation sparsity" in text
    network, header = load_model(out)
    assert header["network"]["weight_mode"] == "binary"
    assert header["network"]["act_quant"] == "pow2"
    history = History.load(tmp_path / "m" / "model.history.json")
    assert len(history.epoch) == 2
    from golden_model.datasets import load_dataset

    ds = load_dataset("digits")
    assert network.accuracy(ds.x_test, ds.y_test) == history.final["test_acc"]
    assert f"test accuracy {history.final['test_acc']:.4f}" in text
    for name in ("model.curves.png", "model.weights.png"):
        assert (tmp_path / "m" / name).stat().st_size > 1000
    assert np.all(np.isfinite(history.train_loss))


@pytest.mark.parametrize("out, message", [
    ("/proc/x.npz", "--out: /proc/x.npz: is under /proc"),
    ("{tmp}", "is a folder"),
    ("{tmp}/file.txt/m.npz", "file.txt is a file, not a folder"),
    ("{tmp}/clash.npz", "clash.history.json: is a folder"),
])
def test_bad_output_path_refused_before_loading_data(tmp_path, capsys, monkeypatch, out,
                                                     message):
    import golden_model.datasets

    def never(*args, **kwargs):
        raise AssertionError("the dataset was loaded before --out was checked")

    monkeypatch.setattr(golden_model.datasets, "load_dataset", never)
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "clash.history.json").mkdir()
    assert main(["train", "--quiet", "--out", out.format(tmp=tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_full_disk_after_training_keeps_the_previous_model(tmp_path, capsys, monkeypatch):
    from golden_model import output_files

    out = tmp_path / "model.npz"
    out.write_bytes(b"previous model")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output_files.os, "replace", disk_full)
    assert main(["train", "--arch", "64-8-10", "--epochs", "1", "--max-train", "200",
                 "--bn-calibration", "64", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "model.npz: cannot write (No space left on device)" in err and err.count("\n") == 1
    assert out.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


@pytest.mark.parametrize("args, message", [
    (["--arch", "64-x-10"], "--arch '64-x-10': expected layer sizes"),
    (["--arch", "60-32-10"], "needs 64 inputs and 10 outputs"),
    (["--qb-range", "3,-4"], "--qb-range '3,-4'"),
    (["--epochs", "0"], "--epochs 0"),
    (["--dropout", "1.5"], "--dropout 1.5"),
    (["--dataset", "nosuchset"], "nosuchset"),
    (["--arch", "c8k3-p2-32-7"], "has 10 classes; expected the last layer to have 10 units"),
    (["--arch", "c8k3-p4-p4-10"], "layer 3: a 4x4 pool on a 2x2 map"),
    (["--arch", "c8k3-q2-10"], "cannot read 'q2'"),
    (["--arch", "c8k3-p2-c60000k3-10"], "values per image; expected at most"),
    (["--arch", "c8k3-10", "--pretrain-epochs", "2"], "starts with a convolution"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, message):
    assert main(["train", "--quiet", "--out", str(tmp_path / "m.npz"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def _args(*argv):
    import argparse

    from golden_model import cmd_train
    parser = argparse.ArgumentParser()
    cmd_train.configure(parser)
    return parser.parse_args(list(argv))


def _config(*argv):
    from golden_model.cmd_train import network_config
    from golden_model.datasets import load_dataset
    return network_config(_args(*argv), load_dataset("digits", max_train=100))


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo the line wrapping
    for option, default in [("--epochs EPOCHS", "30"), ("--batch-size BATCH_SIZE", "64"),
                            ("--loss {hinge,xent}", "hinge"), ("--weights {float,binary,ternary}",
                                                               "ternary"),
                            ("--act-bits ACT_BITS", "8"), ("--threads THREADS", "1"),
                            ("--dataset DATASET", "digits"), ("--out OUT", "build/model.npz")]:
        after = text.split(f" {option} ", 1)[1]
        assert f"(default: {default})" in after.split(" --", 1)[0], option
    assert "TRec/TLin threshold (default: 0.5 with batch norm" in text
    # the learning rates follow the run's number of updates; the help says how
    assert ("first update's learning rate (default: 0.003 * sqrt(25000 / updates), at most "
            "25 / updates and 0.03") in text
    assert ("last update's learning rate (default: the start / 100; exponential decay, "
            "update by update") in text
    assert "(default: False)" not in text and "(default: None)" not in text


def test_float_weights_are_the_full_precision_baseline():
    from golden_model.act_quant import ActQuant
    from golden_model.batchnorm import BatchNorm
    from golden_model.network import build_network
    config = _config("--weights", "float")
    assert (config.weight_mode, config.act_quant, config.shift_based) == ("float", None, False)
    network = build_network(config)
    assert not any(isinstance(layer, ActQuant) for layer in network.layers)
    assert [layer.shift_based for layer in network.layers if isinstance(layer, BatchNorm)] == [
        False] * 3
    # an explicit --act-quant still quantizes; the quantized modes keep their defaults
    assert _config("--weights", "float", "--act-quant", "int").act_quant == "int"
    assert _config("--weights", "float", "--act-quant", "none").act_quant is None
    ternary = _config()
    assert (ternary.act_quant, ternary.shift_based) == ("int", True)
    assert _config("--float-bn-scale").shift_based is False


def test_weights_are_quantized_deterministically_in_training_unless_asked(capsys):
    assert _config().stochastic is False
    assert _config("--deterministic").stochastic is False
    assert _config("--stochastic").stochastic is True
    assert main(["train", "--stochastic", "--deterministic"]) == 2
    assert ("mulfree train: error: --deterministic: not allowed with argument --stochastic"
            in capsys.readouterr().err)


def test_theta_default_follows_the_activation_scale():
    assert _config("--activation", "trec").theta == 0.5
    assert _config("--activation", "trec", "--no-batchnorm").theta == 2.0 ** -4
    assert _config("--activation", "tlin", "--no-batchnorm", "--act-frac", "2").theta == 0.25
    assert _config("--activation", "trec", "--act-frac", "-1").theta == 2.0  # a step above 0.5
    assert _config("--activation", "trec", "--no-batchnorm", "--theta", "0.75").theta == 0.75


def test_alpha_pow2_reaches_every_layer():
    from golden_model.dense import Dense
    from golden_model.network import build_network
    assert _config().alpha_pow2 is False
    config = _config("--no-batchnorm", "--alpha-pow2")
    assert config.alpha_pow2 is True
    alphas = [layer.alpha for layer in build_network(config).layers if isinstance(layer, Dense)]
    assert len(alphas) == 3
    assert all(np.log2(a) == np.round(np.log2(a)) for a in alphas), alphas
    plain = [layer.alpha for layer in build_network(_config("--no-batchnorm")).layers
             if isinstance(layer, Dense)]
    assert not any(np.log2(a) == np.round(np.log2(a)) for a in plain), plain


def test_trec_without_batchnorm_trains_at_the_default_theta(tmp_path, capsys):
    out = tmp_path / "model.npz"
    assert main(["train", "--arch", "64-32-10", "--activation", "trec", "--no-batchnorm",
                 "--epochs", "3", "--max-train", "600", "--quiet", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    history = History.load(tmp_path / "model.history.json")
    assert history.final["sparsity"][0] < 0.95
    assert history.final["test_acc"] > 0.3


def test_dead_network_is_an_error_and_nothing_is_written(tmp_path, capsys):
    argv = ["train", "--arch", "64-16-10", "--activation", "trec", "--no-batchnorm",
            "--theta", "4", "--epochs", "2", "--max-train", "300", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "a" / "model.npz")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line[:17] for line in lines[:-1]] == ["warning: epoch 1:", "warning: epoch 2:"]
    assert lines[-1].startswith("mulfree train: error: hidden layer 1 of 1 outputs 0 for every "
                                "validation image")
    assert "trec threshold of 4" in lines[-1] and "--theta below" in lines[-1]
    assert "batch norm" in lines[-1] and "--allow-dead" in lines[-1]
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())
    # the override writes it, and says so on the way
    assert main([*argv, "--allow-dead", "--out", str(tmp_path / "b" / "model.npz")]) == 0
    assert (tmp_path / "b" / "model.npz").is_file()
    assert "warning: epoch 2: hidden layer 1" in capsys.readouterr().err


def test_conv_arch_config_records_the_images():
    config = _config("--arch", "c8k3-p2-c16k3s2v-32-10")
    assert config.arch == "c8k3-p2-c16k3s2v-32-10"
    assert config.image_shape == (8, 8) and config.sizes == (64, 32, 10)
    from golden_model.network import build_network
    network = build_network(config, np.arange(64.0) / 4)
    kinds = [type(layer).__name__ for layer in network.layers]
    assert kinds[:2] == ["Preprocess", "Conv2D"] and "MaxPool2D" in kinds
    assert kinds.index("Flatten") == kinds.index("Dense") - 1
    # One mean per channel, and the first convolution pads with its nearest raw pixel.
    assert np.all(network.preprocess.mean == np.float32(7.875))
    conv = network.layers[1]
    assert conv.pad_raw.tolist() == [8]
    assert conv.pad_value[0] == pytest.approx(0.125 / 32)  # digits: 5-bit pixels


def test_conv_batch_norms_keep_the_qnet_shifts_right_shifts():
    """Each hidden batch norm's scale is capped at step_out / step_in (no left shift)."""
    config = _config("--arch", "c8k3-p2-32-10", "--act-frac", "3")
    from golden_model.batchnorm import BatchNorm
    from golden_model.network import build_network
    norms = [layer for layer in build_network(config).layers if isinstance(layer, BatchNorm)]
    assert [n.max_scale for n in norms] == [2.0 ** (5 - 3), 1.0, None]  # 5-bit pixels
