"""Saving and loading a float model with its config."""

import json

import numpy as np
import pytest

from golden_model.errors import MulfreeError
from golden_model.layer import RunMode
from golden_model.model_io import ModelFileError, load_model, save_model
from golden_model.network import Network, NetworkConfig, build_network


@pytest.fixture
def trained(tmp_path):
    config = NetworkConfig(sizes=(6, 5, 3), input_bits=3, act_quant="pow2", activation="tlin")
    x = np.random.default_rng(0).integers(0, 8, (20, 6))
    net = build_network(config, x.mean(axis=0), np.random.default_rng(1))
    net.forward(x, RunMode(train=True, rng=np.random.default_rng(2)))
    path = tmp_path / "sub" / "model.npz"
    save_model(path, net, train_config={"epochs": 3}, dataset="toy")
    return net, x, path


def test_round_trip_is_exact(trained):
    net, x, path = trained
    loaded, header = load_model(path)
    assert header["train_config"] == {"epochs": 3} and header["dataset"] == "toy"
    assert loaded.config == net.config
    np.testing.assert_array_equal(loaded.logits(x), net.logits(x))
    for a, b in zip(loaded.blocks(), net.blocks(), strict=True):
        np.testing.assert_array_equal(a.dense.quantized_weights(), b.dense.quantized_weights())


def test_missing_and_corrupt_files(tmp_path, trained):
    with pytest.raises(ModelFileError, match="nope.npz: no such model file"):
        load_model(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(ModelFileError, match="bad.npz: expected a .npz model archive"):
        load_model(bad)
    _, _, path = trained
    arrays = dict(np.load(path))

    def rewrite(name, **changes):
        out = tmp_path / name
        np.savez(out, **{**arrays, **changes})
        return out

    header = json.loads(str(arrays["header"]))
    with pytest.raises(ModelFileError, match="field 'format'"):
        load_model(rewrite("f.npz", header=np.array(json.dumps({**header, "format": "x"}))))
    with pytest.raises(ModelFileError, match="field 'version'"):
        load_model(rewrite("v.npz", header=np.array(json.dumps({**header, "version": 9}))))
    with pytest.raises(ModelFileError, match="field 'header'"):
        load_model(rewrite("h.npz", header=np.array("{oops")))
    with pytest.raises(ModelFileError, match=r"array '1.W' has shape \(2, 2\)"):
        load_model(rewrite("s.npz", **{"1.W": np.zeros((2, 2), np.float32)}))
    with pytest.raises(ModelFileError, match="non-finite"):
        load_model(rewrite("n.npz", **{"1.W": np.full((5, 6), np.nan, np.float32)}))
    del arrays["2.gamma"]
    with pytest.raises(ModelFileError, match="missing array '2.gamma'"):
        load_model(rewrite("m.npz"))


def test_refuses_network_without_config(tmp_path):
    with pytest.raises(Exception, match="NetworkConfig"):
        save_model(tmp_path / "x.npz", Network([]))


def test_failed_save_keeps_the_previous_model_and_leaves_no_partial_file(trained, monkeypatch):
    net, x, path = trained
    before = path.read_bytes()

    def disk_full(handle, **arrays):
        handle.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("golden_model.model_io.np.savez", disk_full)
    # One user-facing error (OutputFileError), not a bare OSError traceback.
    with pytest.raises(MulfreeError, match="No space left"):
        save_model(path, net)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    monkeypatch.undo()
    loaded, _ = load_model(path)
    np.testing.assert_array_equal(loaded.logits(x), net.logits(x))
