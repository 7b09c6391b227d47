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
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, message):
    assert main(["train", "--quiet", "--out", str(tmp_path / "m.npz"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
