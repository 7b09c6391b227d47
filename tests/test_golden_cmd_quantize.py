"""``mulfree quantize`` and ``mulfree inspect`` end to end on a tiny digits model."""

import json

import numpy as np
import pytest

from golden_model.cmd_inspect import layer_costs
from golden_model.datasets import load_dataset
from golden_model.model_io import save_model
from golden_model.network import NetworkConfig
from golden_model.qnet import QNet
from golden_model.train import TrainConfig, train_model
from mulfree import cli


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    dataset = load_dataset("digits", max_train=400)
    config = NetworkConfig(sizes=(64, 32, 10), act_quant="int", act_bits=4, act_frac_bits=2)
    train_config = TrainConfig(epochs=3, quiet=True)
    network, _ = train_model(dataset, config, train_config)
    path = tmp_path_factory.mktemp("model") / "model.npz"
    save_model(path, network, train_config=train_config.to_dict(), dataset=dataset.input_spec)
    return path


def test_quantize_writes_a_qnet_and_prints_the_agreement(model_path, capsys):
    assert cli.main(["quantize", str(model_path)]) == 0
    out = capsys.readouterr().out
    qnet = QNet.load(model_path.with_name("model.qnet.npz"))
    agreement = qnet.meta["agreement"]
    assert agreement["n"] == 359 and agreement["split"] == "test"
    assert f"QNet integer forward test accuracy:        {100 * agreement['qnet_accuracy']:.2f}%" \
        in out
    assert "hidden layers exact" in out and "class disagreement" in out
    x = load_dataset("digits").x_test
    assert np.mean(qnet.predict(x) == load_dataset("digits").y_test) == \
        pytest.approx(agreement["qnet_accuracy"])
    assert qnet.meta["quantization"]["layers"][0]["exact"]
    assert qnet.input.dataset == "digits" and qnet.input.image_shape == (8, 8)


def test_quantize_options(model_path, tmp_path, capsys):
    out = tmp_path / "x" / "small.qnet.npz"
    assert cli.main(["quantize", str(model_path), "--out", str(out), "--max-test", "50"]) == 0
    assert QNet.load(out).meta["agreement"]["n"] == 50
    assert f"wrote {out}" in capsys.readouterr().out


@pytest.mark.parametrize("out, message", [
    ("/proc/m.qnet.npz", "--out: /proc/m.qnet.npz: is under /proc"),
    ("{tmp}", "is a folder"),
    ("{model}/sub/m.qnet.npz", "model.npz is a file, not a folder"),
])
def test_bad_output_path_refused_before_quantizing(model_path, tmp_path, capsys, monkeypatch,
                                                   out, message):
    import golden_model.datasets

    def never(*args, **kwargs):
        raise AssertionError("the dataset was loaded before --out was checked")

    monkeypatch.setattr(golden_model.datasets, "load_dataset", never)
    out = out.format(tmp=tmp_path, model=model_path)
    assert cli.main(["quantize", str(model_path), "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_full_disk_keeps_the_previous_qnet(model_path, tmp_path, capsys, monkeypatch):
    from golden_model import output_files

    out = tmp_path / "m.qnet.npz"
    out.write_bytes(b"previous qnet")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output_files.os, "fsync", disk_full)
    assert cli.main(["quantize", str(model_path), "--out", str(out), "--max-test", "20"]) == 2
    err = capsys.readouterr().err.strip()
    assert "m.qnet.npz: cannot write (No space left on device)" in err and "\n" not in err
    assert out.read_bytes() == b"previous qnet"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.qnet.npz"]


@pytest.mark.parametrize("argv, message", [
    (["quantize", "/nonexistent/model.npz"], "/nonexistent/model.npz: no such model file"),
    (["quantize", "MODEL", "--dataset", "mnist5k"], "784 inputs per image"),
    (["quantize", "MODEL", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["quantize", "MODEL", "--act-bits", "0"], "--act-bits 0: expected a bit width in 1..32"),
    (["inspect", "/nonexistent/x.qnet.npz"], "no such file"),
    (["inspect", "MODEL"], "header: expected a 1-D uint8 array of JSON bytes"),
])
def test_bad_input_is_one_line_and_exit_2(model_path, capsys, argv, message):
    pytest.importorskip("mlxtend")
    argv = [str(model_path) if a == "MODEL" else a for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith(f"mulfree {argv[0]}: error:")


def test_inspect_table_and_json(model_path, tmp_path, capsys):
    qnet_path = tmp_path / "m.qnet.npz"
    assert cli.main(["quantize", str(model_path), "--out", str(qnet_path)]) == 0
    capsys.readouterr()
    assert cli.main(["inspect", str(qnet_path)]) == 0
    text = capsys.readouterr().out
    qnet = QNet.load(qnet_path)
    zeros = np.mean(qnet.layers[0].weights == 0)
    assert f"{100 * zeros:5.1f}%" in text
    assert "total: 2,368 MACs per image" in text  # 64*32 + 32*10
    assert "4,736 bits of weight memory" in text  # two bits per trit
    assert "input: 64 pixels (8x8) of 5 bits, digits" in text
    assert cli.main(["inspect", str(qnet_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fingerprint"] == qnet.fingerprint()
    assert [r["acc_bits"] for r in data["layers"]] == [w.acc_bits for w in qnet.widths]


def test_layer_costs_binary_and_sparsity():
    from golden_model.qnet import InputSpec, QLayer

    hidden = QLayer(weights=np.array([[1, 0, 0, -1], [0, 0, 0, 0]], np.int8),
                    bias=np.zeros(2, np.int64), shift=np.array([1, 3]), activation="relu",
                    out_bits=4, pow2=True, e_max=3)
    out = QLayer(weights=np.array([[1, -1]] * 3, np.int8), bias=np.zeros(3, np.int64),
                 shift=np.zeros(3, np.int64), weight_mode="binary", activation="linear")
    rows = layer_costs(QNet(InputSpec(n_inputs=4, bits=8), [hidden, out]))
    assert rows[0]["zeros"] == 0.75 and rows[0]["macs"] == 8 and rows[0]["nonzero"] == 2
    assert rows[0]["weight_bits"] == 16 and (rows[0]["shift_min"], rows[0]["shift_max"]) == (1, 3)
    assert rows[1]["weight_bits"] == 6 and rows[1]["activation"] == "logits"
    assert rows[1]["in_bits"] == 4  # pow2 code of a 4-bit relu, e_max 3: values 0..8


def hostile_model(model_path, out, header_changes=(), **arrays):
    with np.load(model_path) as archive:
        members = {key: archive[key] for key in archive.files}
    header = json.loads(str(members["header"]))
    for dotted, value in dict(header_changes).items():
        target, *keys = [header, *dotted.split(".")]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    members["header"] = np.array(json.dumps(header))
    members.update(arrays)
    np.savez(out, **members)
    return out


@pytest.mark.parametrize("header_changes, arrays, message", [
    ({"train_config": []}, {}, "field 'train_config': expected a JSON object"),
    ({"train_config.seed": -1}, {}, "field 'train_config.seed': expected an integer in [0, "),
    ({"network": [64, 32, 10]}, {}, "field 'network': expected a JSON object"),
    ({"network.sizes": [64, 10**9, 10]}, {}, "field 'network.sizes[1]'"),
    ({}, {"2.running_var": np.full(32, -1.0, np.float32)},
     "array '2.running_var': expected batch-norm variances >= 0, got -1"),
    ({}, {"1.W": np.full((32, 64), "w")}, "array '1.W': expected real numbers"),
])
def test_hostile_model_files_exit_2_with_one_line(model_path, tmp_path, capsys, header_changes,
                                                  arrays, message):
    path = hostile_model(model_path, tmp_path / "hostile.npz", header_changes, **arrays)
    out = tmp_path / "hostile.qnet.npz"
    assert cli.main(["quantize", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"mulfree quantize: error: {path}: ") and "\n" not in err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_inspect_escapes_strings_from_the_file(model_path, tmp_path, capsys):
    qnet_path = tmp_path / "m.qnet.npz"
    assert cli.main(["quantize", str(model_path), "--out", str(qnet_path)]) == 0
    qnet = QNet.load(qnet_path)
    hostile = "\x1b]0;owned\x07\x1b[2J\u202edigits"
    qnet.input = type(qnet.input)(n_inputs=64, bits=5, dataset=hostile, image_shape=(8, 8))
    qnet.meta["agreement"]["split"] = "test\x1b[31m"
    qnet.save(qnet_path)
    capsys.readouterr()
    assert cli.main(["inspect", str(qnet_path)]) == 0
    text = capsys.readouterr().out
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert r"of 5 bits, \x1b]0;owned\x07\x1b[2J\u202edigits" in text
    assert r"recorded agreement (test\x1b[31m, 359 images)" in text


def test_inspect_of_a_hostile_qnet_is_one_line_exit_2(model_path, tmp_path, capsys):
    qnet_path = tmp_path / "m.qnet.npz"
    assert cli.main(["quantize", str(model_path), "--out", str(qnet_path)]) == 0
    with np.load(qnet_path) as archive:
        members = {key: archive[key] for key in archive.files}
    header = json.loads(members["header"].tobytes())
    header["meta"]["agreement"]["float_accuracy"] = None
    members["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(qnet_path, **members)
    capsys.readouterr()
    assert cli.main(["inspect", str(qnet_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"mulfree inspect: error: {qnet_path}: header.meta.agreement.float_accuracy: "
                   "expected a finite number >= 0 and <= 1, got None")


def test_cnn_train_quantize_inspect_on_digits(tmp_path, capsys):
    """A small CNN end to end: it learns digits, and its QNet agrees with it."""
    model = tmp_path / "cnn.npz"
    assert cli.main(["train", "--arch", "c8k3-p2-c16k3-p2-32-10", "--epochs", "6", "--qb",
                     "--quiet", "--out", str(model)]) == 0
    assert cli.main(["quantize", str(model)]) == 0
    qnet = QNet.load(tmp_path / "cnn.qnet.npz")
    agreement = qnet.meta["agreement"]
    assert agreement["n"] == 359
    assert agreement["float_accuracy"] >= 0.88
    # 2 of 359 images at most: the output bias rounds to a whole accumulator unit
    assert agreement["disagreement"] <= 2 / 359
    assert qnet.meta["quantization"]["layers"][0]["bias_error"] == 0  # hidden layers exact
    assert [type(layer).__name__ for layer in qnet.layers] == [
        "QConv2D", "QMaxPool2D", "QConv2D", "QMaxPool2D", "QFlatten", "QLayer", "QLayer"]
    capsys.readouterr()
    assert cli.main(["inspect", str(tmp_path / "cnn.qnet.npz")]) == 0
    text = capsys.readouterr().out
    assert "8x8x1 -> 8x8x8, 3x3 stride 1 same, pads with" in text
    assert "4x4x8 -> 4x4x16, 3x3 stride 1 same" in text and "2x2x16 -> 64" in text
    # 64 positions * 8 * 9 + 16 positions * 16 * 72 + 64 * 32 + 32 * 10
    assert "total: 25,408 MACs per image" in text
    assert "7,184 bits of weight memory" in text  # (72 + 1152 + 2048 + 320) trits
