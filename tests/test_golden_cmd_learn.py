"""``mulfree learn`` end to end on digits (tiny budget), resuming, and its argument errors."""

import numpy as np
import pytest

from golden_model.datasets import load_dataset
from golden_model.history import History
from golden_model.qnet import QNet
from golden_model.qtrain.state_file import load_state
from mulfree.cli import main

QUICK = ["--max-train", "200", "--quiet"]


def test_learns_and_writes_state_history_curves_and_qnet(tmp_path, capsys):
    out = tmp_path / "run" / "learn.qtrain.npz"
    qnet_path = tmp_path / "run" / "learn.qnet.npz"
    code = main(["learn", "--epochs", "2", *QUICK, "--out", str(out),
                 "--export-qnet", str(qnet_path)])
    assert code == 0
    text = capsys.readouterr().out
    state = load_state(out)
    assert (state.epoch, state.step) == (2, 400)
    qnet = QNet.load(qnet_path)
    assert qnet.fingerprint() == state.to_qnet().fingerprint()
    history = History.load(tmp_path / "run" / "learn.history.json")
    assert history.epoch == [1, 2]
    dataset = load_dataset("digits")
    test_acc = float(np.mean(qnet.predict(dataset.x_test) == dataset.y_test))
    assert history.final["test_acc"] == test_acc
    assert f"test accuracy {test_acc:.4f}" in text
    assert (tmp_path / "run" / "learn.curves.png").stat().st_size > 1000


def test_two_epochs_equal_one_plus_a_resumed_one_bit_for_bit(tmp_path):
    both, first, second = (tmp_path / f"{n}.qtrain.npz" for n in ("both", "first", "second"))
    assert main(["learn", "--epochs", "2", *QUICK, "--out", str(both)]) == 0
    assert main(["learn", "--epochs", "1", *QUICK, "--out", str(first)]) == 0
    assert main(["learn", "--epochs", "1", *QUICK, "--resume", str(first),
                 "--out", str(second)]) == 0
    a, b = load_state(both), load_state(second)
    assert (a.step, a.epoch) == (b.step, b.epoch)
    for x, y in zip(a.layers, b.layers, strict=True):
        np.testing.assert_array_equal(x.shadow, y.shadow)
        np.testing.assert_array_equal(x.bias, y.bias)


def test_fine_tuning_starts_from_the_qnet_exactly(tmp_path):
    first = tmp_path / "a.qtrain.npz"
    qnet_path = tmp_path / "a.qnet.npz"
    assert main(["learn", "--epochs", "1", *QUICK, "--out", str(first),
                 "--export-qnet", str(qnet_path)]) == 0
    again = tmp_path / "b.qnet.npz"
    assert main(["learn", "--epochs", "0", *QUICK, "--init-qnet", str(qnet_path),
                 "--out", str(tmp_path / "b.qtrain.npz"), "--export-qnet", str(again)]) == 0
    assert QNet.load(again).fingerprint() == QNet.load(qnet_path).fingerprint()


def test_a_qnet_for_other_inputs_is_refused(tmp_path, capsys):
    from golden_model.qnet import InputSpec

    first = tmp_path / "a.qtrain.npz"
    qnet_path = tmp_path / "a.qnet.npz"
    assert main(["learn", "--epochs", "0", *QUICK, "--out", str(first),
                 "--export-qnet", str(qnet_path)]) == 0
    qnet = QNet.load(qnet_path)
    narrow = QNet(input=InputSpec(n_inputs=64, bits=4), layers=qnet.layers)
    narrow.save(qnet_path)
    assert main(["learn", "--epochs", "1", *QUICK, "--init-qnet", str(qnet_path),
                 "--out", str(tmp_path / "b.qtrain.npz")]) == 2
    assert "needs 64 inputs of 5 bits" in capsys.readouterr().err
    assert not (tmp_path / "b.qtrain.npz").exists()


@pytest.mark.parametrize("args, message", [
    (["--arch", "64-x-10"], "--arch '64-x-10': expected layer sizes"),
    (["--arch", "60-32-10"], "needs 64 inputs and 10 outputs"),
    (["--eta", "1,2,3"], "--eta '1,2,3': expected one integer in [0, 16] or 2 of them"),
    (["--shift", "a"], "--shift 'a'"),
    (["--epochs", "-1"], "--epochs -1"),
    (["--epochs", "nan"], "--epochs nan: expected an integer >= 0"),
    (["--max-train", "-3"], "--max-train -3: expected an integer >= 1"),
    (["--decay-epochs", "-1"], "--decay-epochs -1"),
    (["--seed", "-3"], "--seed -3"),
    (["--w0-log2", "20"], "config.w0_log2"),
    (["--target", "0"], "--target 0: expected an integer >= 1"),
    (["--target", "40000"], "config.target"),
    (["--dataset", "nosuchset"], "nosuchset"),
    (["--init-qnet", "missing.qnet.npz"], "missing.qnet.npz: no such file"),
    (["--resume", "missing.qtrain.npz"], "missing.qtrain.npz: no such file"),
])
def test_bad_arguments_give_one_clear_error(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code = main(["learn", "--epochs", "1", *QUICK, "--out", str(tmp_path / "o.qtrain.npz"),
                 *args])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("mulfree learn: error: ") and message in err, err
    assert not (tmp_path / "o.qtrain.npz").exists()


def test_unusable_output_paths_are_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for args, message in (
            (["--out", str(tmp_path)], f"--out: {tmp_path}: is a folder"),
            (["--out", str(blocker / "s.qtrain.npz")], "file is a file, not a folder"),
            (["--out", "/proc/s.qtrain.npz"], "--out: /proc/s.qtrain.npz: is under /proc"),
            (["--out", str(tmp_path / "s.qtrain.npz"), "--export-qnet", str(tmp_path)],
             f"--export-qnet: {tmp_path}: is a folder")):
        assert main(["learn", "--epochs", "1", *QUICK, *args]) == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
