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


# -- hostile files: every class refused with one ModelFileError naming file and field ----------


def rewrite(path, out, header_changes=None, drop=(), raw_header=None, **changes):
    """A copy of the model at ``path`` with header fields and arrays replaced."""
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    header = json.loads(str(arrays["header"]))
    for dotted, value in (header_changes or {}).items():
        target, *keys = [header, *dotted.split(".")]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    arrays["header"] = np.array(raw_header if raw_header is not None else json.dumps(header))
    arrays.update(changes)
    for key in drop:
        del arrays[key]
    np.savez(out, **arrays)
    return out


def refused(path, *patterns):
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for pattern in patterns:
        assert pattern in message, message
    return message


@pytest.mark.parametrize("field, value, expected", [
    ("network", [6, 5, 3], "field 'network': expected a JSON object, got a list of 3"),
    ("network", "tlin", "field 'network': expected a JSON object, got 'tlin'"),
    ("train_config", [], "field 'train_config': expected a JSON object"),
    ("train_config", "fast", "field 'train_config': expected a JSON object"),
    ("dataset", 7, "field 'dataset': expected a string of at most 256 characters or a JSON"),
    ("dataset", {"dataset": None}, "field 'dataset.dataset': expected a string"),
    ("network.activation", ["tlin"], "field 'network.activation': expected one of"),
    ("network.batchnorm", "yes", "field 'network.batchnorm': expected true or false"),
    ("network.bn_eps", 0, "field 'network.bn_eps': expected a finite number > 0"),
    ("network.dropout", 1.0, "field 'network.dropout'"),
    ("network.qb_range", [1, 2, 3], "field 'network.qb_range'"),
    ("network.extra", [], "field 'network.extra'"),
])
def test_wrong_container_and_field_types(trained, tmp_path, field, value, expected):
    _, _, path = trained
    refused(rewrite(path, tmp_path / "t.npz", {field: value}), expected)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True, None, 2**64])
def test_seed_must_be_a_non_negative_integer(trained, tmp_path, seed):
    _, _, path = trained
    refused(rewrite(path, tmp_path / "s.npz", {"train_config.seed": seed}),
            "field 'train_config.seed': expected an integer in [0, 9223372036854775807]")


@pytest.mark.parametrize("sizes, expected", [
    ([6, 10**9, 3], "field 'network.sizes[1]': expected an integer in [1, 16777216]"),
    ([6, 1 << 22, 3], "field 'network.sizes[1]': expected at most 1048576 units, got 4194304"),
    ([6, 5, 10**12], "field 'network.sizes[2]': expected an integer in [1, 16777216]"),
    ([1 << 24, 1 << 20, 3], "field 'network.sizes': expected at most 16777216 weights in all"),
    ([6, 0, 3], "field 'network.sizes[1]': expected an integer in [1, 16777216], got 0"),
    ([6, -5, 3], "field 'network.sizes[1]'"),
    ([6, "5", 3], "field 'network.sizes[1]'"),
    ([6, 5.0, 3], "field 'network.sizes[1]'"),
    ([6], "field 'network.sizes': expected a list of at least 2"),
    ([6] * 300, "field 'network.sizes': expected a list of at least 2 and at most 257 items"),
    ("6-5-3", "field 'network.sizes'"),
])
def test_absurd_sizes_are_refused_before_building(trained, tmp_path, sizes, expected):
    import time
    import tracemalloc

    _, _, path = trained
    out = rewrite(path, tmp_path / "z.npz", {"network.sizes": sizes})
    tracemalloc.start()
    start = time.perf_counter()
    try:
        refused(out, expected)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20 and time.perf_counter() - start < 2


def test_raw_members_are_refused(trained, tmp_path):
    import zipfile

    _, _, path = trained
    out = tmp_path / "raw.npz"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            name = "1.W" if info.filename == "1.W.npy" else info.filename
            target.writestr(name, source.read(info))
    refused(out, "member '1.W': expected only .npy arrays, got a raw file")


@pytest.mark.parametrize("key, array, expected", [
    ("1.W", np.full((5, 6), "a"), "array '1.W': expected real numbers, got dtype <U1"),
    ("1.W", np.full((5, 6), b"a"), "array '1.W': expected real numbers, got dtype |S1"),
    ("2.gamma", np.ones(5, complex), "array '2.gamma': expected real numbers"),
    ("2.gamma", np.ones(5, bool), "array '2.gamma': expected real numbers, got dtype bool"),
    ("2.running_var", np.array([1, 1, -0.5, 1, 1], np.float32),
     "array '2.running_var': expected batch-norm variances >= 0, got -0.5"),
    ("2.running_var", np.array([1, np.nan, 1, 1, 1], np.float32),
     "array '2.running_var' has non-finite values"),
    ("2.beta", np.array([0, 0, 1e300, 0, 0]), "array '2.beta' has non-finite values (or values "
                                              "beyond float32)"),
    ("extra", np.zeros(3), "unexpected arrays ['extra']"),
])
def test_bad_arrays_are_refused(trained, tmp_path, key, array, expected):
    _, _, path = trained
    refused(rewrite(path, tmp_path / "a.npz", **{key: array}), expected)


def test_float64_and_integer_arrays_still_load(trained, tmp_path):
    net, x, path = trained
    with np.load(path) as archive:
        weights = archive["1.W"].astype(np.float64)
    loaded, _ = load_model(rewrite(path, tmp_path / "f.npz", **{"1.W": weights,
                                                                 "0.mean": np.zeros(6, int)}))
    np.testing.assert_array_equal(loaded.blocks()[0].dense.W, net.blocks()[0].dense.W)


def test_a_single_npy_instead_of_an_archive(tmp_path):
    path = tmp_path / "model.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.zeros(3))
    refused(path, "expected a .npz model archive (a single .npy array")


@pytest.mark.parametrize("raw, expected", [
    ("[" * 5000 + "]" * 5000, "nested 5000 levels deep"),
    ('{"format": ' + "9" * 5000 + "}", "an integer of 5000 digits"),
    ("[1, 2]", "field 'header': expected a JSON object"),
])
def test_hostile_header_json(trained, tmp_path, raw, expected):
    _, _, path = trained
    refused(rewrite(path, tmp_path / "h.npz", raw_header=raw), "field 'header'", expected)


def test_a_directory_is_not_a_model(tmp_path):
    refused(tmp_path, "not a file")


def test_truncations_and_byte_flips_are_model_file_errors(trained, tmp_path):
    net, x, path = trained
    data = path.read_bytes()
    bad = tmp_path / "bad.npz"
    for length in range(0, len(data), 97):
        bad.write_bytes(data[:length])
        refused(bad)
    rng = np.random.default_rng(1)
    loaded = 0
    for _ in range(200):
        corrupt = bytearray(data)
        for position in rng.integers(0, len(data), rng.integers(1, 4)):
            corrupt[position] ^= int(rng.integers(1, 256))
        bad.write_bytes(bytes(corrupt))
        try:
            other, _ = load_model(bad)
        except ModelFileError as error:
            assert str(bad) in str(error)
        else:  # a flip the zip reader ignores (or in a header string): still a whole model
            loaded += 1
            assert other.logits(x).shape == net.logits(x).shape
    assert loaded < 200


def test_conv_network_round_trip(tmp_path):
    config = NetworkConfig(sizes=(36, 8, 3), input_bits=4, arch="c2k3-p2-c3k2s2v-8-3",
                           image_shape=(6, 6))
    network = build_network(config, np.full(36, 5.3), np.random.default_rng(1))
    x = np.random.default_rng(2).integers(0, 16, (20, 36))
    network.forward(x, RunMode(train=True, rng=np.random.default_rng(3)))  # batch-norm stats
    save_model(tmp_path / "c.npz", network)
    loaded, header = load_model(tmp_path / "c.npz")
    assert header["network"]["arch"] == "c2k3-p2-c3k2s2v-8-3"
    np.testing.assert_array_equal(loaded.logits(x), network.logits(x))
    assert loaded.layers[1].pad_raw.tolist() == [5]


@pytest.mark.parametrize("arch, shape, expected", [
    ("c2k3-x-3", [6, 6], "field 'network.arch' 'c2k3-x-3': cannot read 'x'"),
    ("c2k9v-8-3", [6, 6], "does not fit"),
    ("c2k3-8-3", [], "images of shape"),
    ("c60000k3-8-3", [6, 6], "at most 1048576 values each"),
    ("c4000k3-c4000k3-8-3", [6, 6], "expected at most 16777216 weights in all"),
])
def test_bad_conv_architecture_in_a_model_file(tmp_path, arch, shape, expected):
    config = NetworkConfig(sizes=(36, 8, 3), input_bits=4, arch="c2k3-8-3", image_shape=(6, 6))
    save_model(tmp_path / "c.npz", build_network(config))
    out = rewrite(tmp_path / "c.npz", tmp_path / "bad.npz",
                  {"network.arch": arch, "network.image_shape": shape})
    refused(out, expected)


def test_models_saved_before_the_common_output_scale_load_as_they_were_trained(trained, tmp_path):
    """A file without ``output_common_scale`` was trained with a power of two per logit."""
    net, x, path = trained
    assert net.config.output_common_scale and net.layers[-1].common_scale
    with np.load(path) as archive:
        header = json.loads(str(archive["header"]))
    del header["network"]["output_common_scale"]
    old = rewrite(path, tmp_path / "old.npz", raw_header=json.dumps(header))
    loaded, _ = load_model(old)
    assert not loaded.config.output_common_scale
    assert not loaded.layers[-1].common_scale
    refused(rewrite(path, tmp_path / "b.npz", {"network.output_common_scale": 1}),
            "field 'network.output_common_scale': expected true or false")
