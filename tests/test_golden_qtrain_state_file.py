"""The QTrain state file: round trip, atomic save, and every bad file one clear error."""

import io
import json

import numpy as np
import pytest
from qtrain_states import random_state

from golden_model.errors import MulfreeError
from golden_model.qtrain import QTrainError
from golden_model.qtrain.state_file import load_state, save_state


def _state(seed=0):
    state = random_state(np.random.default_rng(seed), step=1234, epoch=3)
    state.meta = {"note": "x"}
    return state


def _flat(state):
    return np.concatenate([np.r_[layer.shadow.ravel(), layer.bias, layer.shift, layer.threshold]
                           for layer in state.layers])


def _parts(path):
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return json.loads(arrays.pop("header").tobytes()), arrays


def _write(path, head, arrays):
    raw = np.frombuffer(json.dumps(head).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, header=raw, **arrays)
    path.write_bytes(buffer.getvalue())


def _fails(path, *needles):
    with pytest.raises(QTrainError) as info:
        load_state(path)
    message = str(info.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message, message
    return message


def test_round_trip_is_identical(tmp_path):
    state = _state()
    path = tmp_path / "sub" / "s.qtrain.npz"
    save_state(state, path)
    loaded = load_state(path)
    np.testing.assert_array_equal(_flat(loaded), _flat(state))
    assert (loaded.step, loaded.epoch, loaded.meta) == (1234, 3, {"note": "x"})
    assert loaded.config == state.config
    assert [layer.activation for layer in loaded.layers] == \
        [layer.activation for layer in state.layers]
    assert sorted(p.name for p in path.parent.iterdir()) == ["s.qtrain.npz"]


def test_a_failed_save_leaves_no_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    # a disk-full during the write is one project error naming the file; nothing is left
    with pytest.raises(MulfreeError, match=r"s\.qtrain\.npz.*disk full"):
        save_state(_state(), tmp_path / "s.qtrain.npz")
    assert list(tmp_path.iterdir()) == []


def test_missing_file_and_directory(tmp_path):
    _fails(tmp_path / "none.qtrain.npz", "no such file")
    _fails(tmp_path, "not a file")


def test_every_truncation_and_byte_flip_is_one_clear_error(tmp_path):
    good = tmp_path / "good.qtrain.npz"
    state = _state()
    save_state(state, good)
    data = good.read_bytes()
    bad = tmp_path / "bad.qtrain.npz"
    for length in range(0, len(data), 97):
        bad.write_bytes(data[:length])
        _fails(bad)
    rng = np.random.default_rng(1)
    for _ in range(150):
        corrupt = bytearray(data)
        for position in rng.integers(0, len(data), rng.integers(1, 4)):
            corrupt[position] ^= int(rng.integers(1, 256))
        bad.write_bytes(bytes(corrupt))
        try:
            loaded = load_state(bad)
        except MulfreeError as error:
            assert isinstance(error, QTrainError) and str(bad) in str(error)
        else:  # a flip in zip bookkeeping the reader ignores: the state is intact
            np.testing.assert_array_equal(_flat(loaded), _flat(state))


@pytest.mark.parametrize("edit, needles", [
    (lambda h: h.update(format="other"), ["header.format"]),
    (lambda h: h.update(version=2), ["header.version"]),
    (lambda h: h.pop("config"), ["header.config", "missing"]),
    (lambda h: h["config"].update(w0_log2=99), ["config.w0_log2"]),
    (lambda h: h["config"].update(sampling="sometimes"), ["config.sampling"]),
    (lambda h: h["config"].update(eta=[1]), ["config.eta"]),
    (lambda h: h["config"].update(eta=[1, 2, "3"]), ["config.eta"]),
    (lambda h: h["config"].update(turbo=1), ["unexpected", "turbo"]),
    (lambda h: h.update(step=-1), ["step"]),
    (lambda h: h.update(step=True), ["header.step"]),
    (lambda h: h["layers"][0].update(activation="tanh"), ["activation"]),
    (lambda h: h["layers"][0].update(n_in=99), ["layer0.shadow", "shape"]),
    (lambda h: h["layers"][1]["widths"]["acc"].__setitem__(1, 1), ["widths", "recomputed"]),
    (lambda h: h["input"].update(bits="8"), ["header.input.bits"]),
])
def test_bad_header_fields_are_named(tmp_path, edit, needles):
    good = tmp_path / "good.qtrain.npz"
    save_state(_state(), good)
    head, arrays = _parts(good)
    edit(head)
    bad = tmp_path / "bad.qtrain.npz"
    _write(bad, head, arrays)
    _fails(bad, *needles)


@pytest.mark.parametrize("name, change, needle", [
    ("layer0.shadow", lambda a: a.astype(np.int32), "dtype int64"),
    ("layer0.bias", lambda a: a[:-1], "shape"),
    ("layer1.shadow", lambda a: a + (1 << 20), "layers[1].shadow"),
    ("layer0.bias", lambda a: a - (1 << 30), "layers[0].bias"),
    ("layer0.shift", lambda a: a + 99, "shift"),
    ("layer2.threshold", lambda a: a + 1, "threshold"),
])
def test_bad_arrays_are_named(tmp_path, name, change, needle):
    good = tmp_path / "good.qtrain.npz"
    save_state(_state(), good)
    head, arrays = _parts(good)
    arrays[name] = change(arrays[name])
    bad = tmp_path / "bad.qtrain.npz"
    _write(bad, head, arrays)
    _fails(bad, needle)


def test_missing_and_extra_arrays(tmp_path):
    good = tmp_path / "good.qtrain.npz"
    save_state(_state(), good)
    head, arrays = _parts(good)
    bad = tmp_path / "bad.qtrain.npz"
    _write(bad, head, {k: v for k, v in arrays.items() if k != "layer1.bias"})
    _fails(bad, "layer1.bias", "missing")
    _write(bad, head, {**arrays, "layer9.bias": np.zeros(2, np.int64)})
    _fails(bad, "unexpected")


def test_hostile_headers_are_refused_before_parsing_or_allocating(tmp_path):
    """Bounded like the QNet file: deep nesting, huge integers, and layers that would need
    gigabytes are refused from the header alone, quickly and without allocating them."""
    import tracemalloc

    state = _state()
    path = tmp_path / "s.qtrain.npz"
    save_state(state, path)
    head, arrays = _parts(path)

    text = json.dumps(dict(head, meta={})).replace('"meta": {}', '"meta": ' + "[" * 5000
                                                    + "]" * 5000)
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(text.encode(), dtype=np.uint8), **arrays)
    path.write_bytes(buffer.getvalue())
    _fails(path, "header", "nest")

    digits = json.dumps(dict(head, step=0)).replace('"step": 0', '"step": ' + "9" * 5000)
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(digits.encode(), dtype=np.uint8), **arrays)
    path.write_bytes(buffer.getvalue())
    _fails(path, "header", "digits")

    huge = json.loads(json.dumps(head))
    huge["layers"][0]["n_in"] = 1 << 19
    huge["layers"][0]["n_out"] = 1 << 19
    _write(path, huge, arrays)
    tracemalloc.start()
    _fails(path, "header.layers", "weights in all")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20


def test_an_array_declaring_more_than_its_layer_needs_is_refused_before_reading(tmp_path):
    state = _state()
    path = tmp_path / "s.qtrain.npz"
    save_state(state, path)
    head, arrays = _parts(path)
    # a highly compressible member far larger than layer 0's bias needs (a small file)
    arrays["layer0.bias"] = np.zeros(8 << 20, dtype=np.int64)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, header=np.frombuffer(json.dumps(head).encode(), np.uint8),
                        **arrays)
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size < 1 << 20
    _fails(path, "layer0.bias", "declares")
