"""The ``.qnet.npz`` format: round trips, and every kind of bad file gives one QNetFormatError."""

import io
import json
import zipfile

import numpy as np
import pytest

from golden_model.errors import QNetFormatError
from golden_model.qnet import FORMAT_VERSION, InputSpec, QLayer, QNet


def small_net(pow2=True):
    rng = np.random.default_rng(3)
    hidden = QLayer(weights=rng.integers(-1, 2, (5, 6)).astype(np.int8),
                    bias=rng.integers(-50, 50, 5), shift=np.array([0, 1, 2, -1, 3]),
                    weight_mode="ternary", activation="tlin", threshold=np.array([0, 1, 2, 3, 4]),
                    out_bits=4, pow2=pow2, e_max=3)
    out = QLayer(weights=rng.choice([-1, 1], (3, 5)).astype(np.int8),
                 bias=np.array([1, -2, 3]), shift=np.array([0, 0, 1]),
                 weight_mode="binary", activation="linear")
    return QNet(InputSpec(n_inputs=6, bits=5, dataset="digits", image_shape=(2, 3)),
                [hidden, out], meta={"note": "test", "accuracy": 0.5})


def parts(net):
    return net.header(), net.arrays()


def write(path, header, arrays, raw_header=None):
    blob = raw_header if raw_header is not None else json.dumps(header).encode()
    np.savez(path, header=np.frombuffer(blob, np.uint8), **arrays)
    return path


def load_fails(path, *patterns):
    with pytest.raises(QNetFormatError) as info:
        QNet.load(path)
    message = str(info.value)
    assert str(path) in message
    for pattern in patterns:
        assert pattern in message, message
    return message


# -- round trip ---------------------------------------------------------------------------------


@pytest.mark.parametrize("pow2", [False, True])
def test_round_trip_is_identical(tmp_path, pow2):
    net = small_net(pow2)
    path = tmp_path / "net.qnet.npz"
    net.save(path)
    loaded = QNet.load(path)
    assert loaded.fingerprint() == net.fingerprint()
    assert loaded.header() == json.loads(json.dumps(net.header()))
    assert loaded.widths == net.widths and loaded.meta == net.meta
    assert loaded.input == net.input and loaded.source == str(path)
    for a, b in zip(loaded.layers, net.layers, strict=True):
        for name in ("weights", "bias", "shift", "threshold"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert (a.weight_mode, a.activation, a.out_bits, a.pow2, a.e_max) == \
            (b.weight_mode, b.activation, b.out_bits, b.pow2, b.e_max)
    x = np.random.default_rng(0).integers(0, 32, (50, 6))
    for got, want in zip(loaded.forward(x), net.forward(x), strict=True):
        np.testing.assert_array_equal(got, want)


def test_fingerprint_ignores_meta_but_not_values():
    net = small_net()
    other = QNet(net.input, net.layers, meta={"something": "else"})
    assert other.fingerprint() == net.fingerprint()
    layers = [QLayer(**{**vars(net.layers[0]), "bias": net.layers[0].bias + 1}), net.layers[1]]
    assert QNet(net.input, layers).fingerprint() != net.fingerprint()


def test_save_leaves_no_temporary_files(tmp_path):
    small_net().save(tmp_path / "sub" / "a.qnet.npz")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.qnet.npz"]


# -- not a QNet file at all ---------------------------------------------------------------------


def test_missing_file(tmp_path):
    load_fails(tmp_path / "none.qnet.npz", "no such file")


@pytest.mark.parametrize("content", [b"", b"hello world", b"PK\x03\x04garbage", b"\x93NUMPY"])
def test_non_npz_bytes(tmp_path, content):
    path = tmp_path / "bad.qnet.npz"
    path.write_bytes(content)
    load_fails(path, "not a readable .npz archive")


def test_a_single_npy_array(tmp_path):
    path = tmp_path / "bad.qnet.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.zeros(3))
    load_fails(path, "expected a .npz archive")


def test_a_directory(tmp_path):
    load_fails(tmp_path, "not a file")


def test_pickled_object_arrays_are_refused(tmp_path):
    header, arrays = parts(small_net())
    arrays["layer0.bias"] = np.array([object()] * 5, dtype=object)
    path = tmp_path / "obj.qnet.npz"
    np.savez(path, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    load_fails(path, "array 'layer0.bias'", "Object arrays cannot be loaded")


def test_zip_of_other_things(tmp_path):
    path = tmp_path / "other.qnet.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hi")
    load_fails(path)


# -- truncation and corruption ------------------------------------------------------------------


def test_every_truncation_is_a_format_error(tmp_path):
    good = tmp_path / "good.qnet.npz"
    small_net().save(good)
    data = good.read_bytes()
    bad = tmp_path / "cut.qnet.npz"
    for length in sorted(set(range(0, len(data), 37)) | {len(data) - 1, len(data) - 22}):
        bad.write_bytes(data[:length])
        load_fails(bad)


def test_random_byte_flips_never_leak_another_exception(tmp_path):
    good = tmp_path / "good.qnet.npz"
    net = small_net()
    net.save(good)
    data = bytearray(good.read_bytes())
    bad = tmp_path / "flip.qnet.npz"
    rng = np.random.default_rng(0)
    loaded = 0
    for _ in range(300):
        corrupt = bytearray(data)
        for position in rng.integers(0, len(data), rng.integers(1, 4)):
            corrupt[position] ^= int(rng.integers(1, 256))
        bad.write_bytes(bytes(corrupt))
        try:
            other = QNet.load(bad)
        except QNetFormatError as error:
            assert str(bad) in str(error)
        else:
            # a flip in zip bookkeeping that the reader ignores: the net must be intact
            loaded += 1
            assert other.fingerprint() == net.fingerprint()
    assert loaded < 300


# -- header problems ----------------------------------------------------------------------------


def test_header_missing(tmp_path):
    _, arrays = parts(small_net())
    path = tmp_path / "nohead.qnet.npz"
    np.savez(path, **arrays)
    load_fails(path, "'header'", "missing")


@pytest.mark.parametrize("raw, expected", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "a JSON object"),
])
def test_header_not_a_json_object(tmp_path, raw, expected):
    _, arrays = parts(small_net())
    load_fails(write(tmp_path / "h.qnet.npz", None, arrays, raw_header=raw), expected)


def test_header_wrong_dtype(tmp_path):
    header, arrays = parts(small_net())
    path = tmp_path / "h.qnet.npz"
    np.savez(path, header=np.frombuffer(json.dumps(header).encode(), np.uint8).astype(np.int32),
             **arrays)
    load_fails(path, "header", "uint8")


@pytest.mark.parametrize("version", [0, 3, "1", None, 1.5, True])
def test_unknown_versions(tmp_path, version):
    header, arrays = parts(small_net())
    header["version"] = version
    load_fails(write(tmp_path / "v.qnet.npz", header, arrays), "header.version",
               f"expected 1 or {FORMAT_VERSION}")


def test_wrong_format_name(tmp_path):
    header, arrays = parts(small_net())
    header["format"] = "onnx"
    load_fails(write(tmp_path / "f.qnet.npz", header, arrays), "header.format")


def mutate(header, dotted, value):
    target = header
    keys = dotted.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = int(keys[-1]) if isinstance(target, list) else keys[-1]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value


@pytest.mark.parametrize("field", [
    "input", "layers", "input.n_inputs", "input.bits", "layers.0.n_in", "layers.0.n_out",
    "layers.0.weight_mode", "layers.0.activation", "layers.0.out_bits", "layers.0.pow2",
    "layers.1.e_max", "layers.0.widths",
])
def test_missing_header_keys(tmp_path, field):
    header, arrays = parts(small_net())
    mutate(header, field, KeyError)
    message = load_fails(write(tmp_path / "m.qnet.npz", header, arrays))
    assert field.split(".")[-1] in message


@pytest.mark.parametrize("field, value, expected", [
    ("input.bits", 0, "input.bits"),
    ("input.bits", 17, "input.bits"),
    ("input.bits", "5", "header.input.bits"),
    ("input.bits", True, "header.input.bits"),
    ("input.n_inputs", 7, "n_inputs=7"),
    ("input.image_shape", "2x3", "image_shape"),
    ("input.image_shape", [8, 8], "input.image_shape: expected positive sizes whose product"),
    ("input.image_shape", [6, 0], "input.image_shape"),
    ("input.image_shape", [2, 3, 1], None),
    ("input.dataset", 5, "header.input.dataset"),
    ("layers.0.weight_mode", "quaternary", "layers[0].weight_mode"),
    ("layers.0.activation", "gelu", "layers[0].activation"),
    ("layers.1.activation", "relu", "'linear' for the output layer"),
    ("layers.1.pow2", True, "false for the output layer"),
    ("layers.0.pow2", 1, "layers[0].pow2"),
    ("layers.0.out_bits", 0, "layers[0].out_bits"),
    ("layers.0.out_bits", 33, "layers[0].out_bits"),
    ("layers.0.e_max", -1, "layers[0].e_max"),
    ("layers.0.e_max", 31, "layers[0].e_max"),
    ("layers.0.n_out", 4, "layer0.weights"),
    ("layers.0.widths.acc_max", 10**6, "layers[0].widths"),
    ("layers.1.widths", {}, "layers[1].widths"),
    ("meta", [], "header.meta"),
    ("layers.0", "dense", "header.layers[0]"),
])
def test_bad_header_values(tmp_path, field, value, expected):
    header, arrays = parts(small_net())
    mutate(header, field, value)
    path = write(tmp_path / "b.qnet.npz", header, arrays)
    if expected is None:  # a variation that is valid
        assert QNet.load(path).input.image_shape == tuple(value)
    else:
        load_fails(path, expected)


def test_header_and_arrays_disagree_on_layer_count(tmp_path):
    header, arrays = parts(small_net())
    header["layers"] = header["layers"][:1]
    load_fails(write(tmp_path / "c.qnet.npz", header, arrays), "unexpected")
    header, arrays = parts(small_net())
    header["layers"] = []
    load_fails(write(tmp_path / "d.qnet.npz", header, {}), "at least one layer")


# -- array problems -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["layer0.weights", "layer0.bias", "layer1.shift",
                                  "layer1.threshold"])
def test_missing_arrays(tmp_path, name):
    header, arrays = parts(small_net())
    del arrays[name]
    load_fails(write(tmp_path / "a.qnet.npz", header, arrays), name, "missing")


@pytest.mark.parametrize("name, dtype", [
    ("layer0.weights", np.int16), ("layer0.weights", np.float32), ("layer0.weights", np.uint8),
    ("layer0.bias", np.int32), ("layer1.shift", np.float64), ("layer0.threshold", np.uint64),
])
def test_wrong_dtypes(tmp_path, name, dtype):
    header, arrays = parts(small_net())
    arrays[name] = arrays[name].astype(dtype)
    load_fails(write(tmp_path / "t.qnet.npz", header, arrays), name, "dtype")


@pytest.mark.parametrize("name, index, value, expected", [
    ("layer0.weights", (0, 0), 2, "values <= 1"),
    ("layer0.weights", (1, 2), -2, "values >= -1"),
    ("layer1.weights", (0, 0), 0, "only -1 and +1 for a binary layer"),
    ("layer0.shift", 0, 32, "layers[0].shift"),
    ("layer0.shift", 0, -32, "layers[0].shift"),
    ("layer0.threshold", 0, -1, "layers[0].threshold"),
    ("layer1.threshold", 0, 1, "zeros for a linear layer"),
    ("layer0.bias", 0, 1 << 41, "layers[0].bias"),
])
def test_out_of_range_values(tmp_path, name, index, value, expected):
    header, arrays = parts(small_net())
    arrays[name][index] = value
    load_fails(write(tmp_path / "r.qnet.npz", header, arrays), expected)


@pytest.mark.parametrize("name, shape", [
    ("layer0.bias", (4,)), ("layer0.shift", (5, 1)), ("layer1.threshold", ()),
])
def test_wrong_shapes(tmp_path, name, shape):
    header, arrays = parts(small_net())
    arrays[name] = np.zeros(shape, arrays[name].dtype)
    k, part = name[len("layer"):].split(".")
    load_fails(write(tmp_path / "s.qnet.npz", header, arrays), f"layers[{k}].{part}",
               "expected shape")


def test_weights_shape_disagrees_with_header(tmp_path):
    header, arrays = parts(small_net())
    arrays["layer1.weights"] = np.ones((3, 4), np.int8)
    load_fails(write(tmp_path / "s.qnet.npz", header, arrays), "array 'layer1.weights'",
               "expected shape (3, 5) as the header says, got (3, 4)")


def test_extra_array(tmp_path):
    header, arrays = parts(small_net())
    arrays["layer0.scale"] = np.zeros(5, np.int64)
    load_fails(write(tmp_path / "e.qnet.npz", header, arrays), "layer0.scale")


def test_widths_beyond_the_bound_are_refused(tmp_path):
    layer = QLayer(weights=np.ones((1, 2), np.int8), bias=np.array([1 << 40]),
                   shift=np.array([-31]), activation="linear")
    # the shifted bound would wrap around int64 and look small: refused instead
    with pytest.raises(QNetFormatError, match="z_bits: expected at most 48 bits, got 73"):
        QNet(InputSpec(n_inputs=2, bits=8), [layer])
    at_bound = QLayer(weights=np.zeros((1, 2), np.int8), bias=np.array([-(1 << 40)]),
                      shift=np.array([-7]), activation="linear")
    assert QNet(InputSpec(n_inputs=2, bits=8), [at_bound]).widths[0].z_bits == 48
    # one pixel of 1 against a -1 weight takes the bound one below -2**47
    one_more = QLayer(weights=np.array([[-1, 0]], np.int8), bias=np.array([-(1 << 40)]),
                      shift=np.array([-7]), activation="linear")
    with pytest.raises(QNetFormatError, match="got 49"):
        QNet(InputSpec(n_inputs=2, bits=1), [one_more])


def test_load_of_an_unreadable_member(tmp_path):
    # a zip whose 'header' member is not an .npy payload
    path = tmp_path / "z.qnet.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("header.npy", b"not an npy")
    load_fails(path, "array 'header'")


def test_error_message_names_file_field_and_expectation(tmp_path):
    header, arrays = parts(small_net())
    arrays["layer0.weights"][0, 0] = 2
    message = load_fails(write(tmp_path / "w.qnet.npz", header, arrays))
    assert message == (f"{tmp_path / 'w.qnet.npz'}: layers[0].weights: "
                       "expected values <= 1, got 2")


def test_bytes_io_header_roundtrip_is_plain_json(tmp_path):
    net = small_net()
    path = tmp_path / "n.qnet.npz"
    net.save(path)
    with np.load(path) as archive:
        header = json.load(io.BytesIO(archive["header"].tobytes()))
        assert header["format"] == "mulfree.qnet" and header["version"] == 1
        assert archive["layer0.weights"].dtype == np.int8
        assert sorted(archive.files) == sorted(["header", *net.arrays()])


# -- hostile files: bounded parsing, typed meta, sizes refused before allocation ---------------


def raw_header_with(net, marker, replacement):
    """The net's header JSON with ``"marker"`` replaced by raw JSON text."""
    text = json.dumps({**net.header(), "meta": {"x": marker}})
    return text.replace(json.dumps(marker), replacement).encode()


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_header_is_refused_before_parsing(tmp_path, depth):
    net = small_net()
    raw = raw_header_with(net, "HERE", "[" * depth + "]" * depth)
    path = write(tmp_path / "deep.qnet.npz", None, net.arrays(), raw_header=raw)
    load_fails(path, "field 'header'", f"nested {depth + 2} levels deep", "at most 32")


def test_nesting_within_the_bound_loads(tmp_path):
    net = small_net()
    raw = raw_header_with(net, "HERE", "[" * 29 + "]" * 29)
    path = write(tmp_path / "ok.qnet.npz", None, net.arrays(), raw_header=raw)
    assert QNet.load(path).meta["x"] == json.loads("[" * 29 + "]" * 29)


@pytest.mark.parametrize("digits", [41, 5000, 100_000])
def test_integer_with_too_many_digits_is_refused(tmp_path, digits):
    net = small_net()
    raw = raw_header_with(net, "HERE", "7" * digits)
    path = write(tmp_path / "big.qnet.npz", None, net.arrays(), raw_header=raw)
    load_fails(path, "field 'header'", f"an integer of {digits} digits", "at most 40")


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path):
    net = small_net()
    net.meta["note"] = "[" * 1000 + '\\"{'
    path = tmp_path / "s.qnet.npz"
    net.save(path)
    assert QNet.load(path).meta["note"] == net.meta["note"]


@pytest.mark.parametrize("field, value, expected", [
    ("meta.agreement", {"n": 5, "float_accuracy": None, "qnet_accuracy": 0.5,
                        "disagreement": 0.0}, "header.meta.agreement.float_accuracy"),
    ("meta.agreement", {"n": 5, "float_accuracy": 0.5, "disagreement": 0.0},
     "header.meta.agreement.qnet_accuracy: expected a finite number >= 0 and <= 1, got missing"),
    ("meta.agreement", {"n": "5", "float_accuracy": 0.5, "qnet_accuracy": 0.5,
                        "disagreement": 0.0}, "header.meta.agreement.n"),
    ("meta.agreement", {"n": 5, "float_accuracy": 7.0, "qnet_accuracy": 0.5,
                        "disagreement": 0.0}, "header.meta.agreement.float_accuracy"),
    ("meta.agreement", [0.5], "header.meta.agreement: expected a JSON object"),
    ("meta.quantization", {"exact": "yes", "max_scale_error": 0, "max_bias_error": 0},
     "header.meta.quantization.exact: expected true or false"),
    ("meta.quantization", {"exact": True, "max_scale_error": 0, "max_bias_error": 0,
                           "layers": [{"index": 0}]},
     "header.meta.quantization.layers[0].scale_error"),
    ("meta.class_names", ["zero", 1], "header.meta.class_names[1]: expected a string"),
    ("meta.source_model", 3, "header.meta.source_model"),
    ("input.dataset", "x" * 300, "header.input.dataset: expected a string of at most 256"),
    ("layers.0.n_out", 1.0, "header.layers[0].n_out: expected an integer"),
    ("layers.0.widths.in_signed", 0, "header.layers[0].widths.in_signed"),
    ("input.colour", "red", "header.input: expected only the keys"),
])
def test_meta_and_header_fields_of_the_wrong_type(tmp_path, field, value, expected):
    header, arrays = parts(small_net())
    mutate(header, field, value)
    load_fails(write(tmp_path / "m.qnet.npz", header, arrays), expected)


def test_non_finite_meta_numbers_are_refused(tmp_path):
    net = small_net()
    net.meta["agreement"] = {"n": 5, "float_accuracy": float("nan"), "qnet_accuracy": 0.5,
                             "disagreement": 0.0}
    path = tmp_path / "nan.qnet.npz"
    net.save(path)  # json.dumps writes NaN
    load_fails(path, "header.meta.agreement.float_accuracy", "finite")


# Two sizes below 2**63 whose product wraps around int64 to exactly 6.
WRAPPING_SHAPE = (9223372036854775803, 3689348814741910322)


def test_image_shape_whose_product_overflows_int64(tmp_path):
    header, arrays = parts(small_net())
    header["input"]["image_shape"] = list(WRAPPING_SHAPE)
    load_fails(write(tmp_path / "wrap.qnet.npz", header, arrays), "header.input.image_shape[0]")
    net = small_net()
    with pytest.raises(QNetFormatError, match="input.image_shape: expected positive sizes"):
        QNet(InputSpec(n_inputs=6, bits=5, image_shape=WRAPPING_SHAPE), net.layers)
    with pytest.raises(QNetFormatError, match="input.image_shape"):
        QNet(InputSpec(n_inputs=6, bits=5, image_shape=(2**70, 6)), net.layers)


def npy_bytes(shape, dtype, data=b""):
    """An ``.npy`` member: a header declaring ``shape`` and ``dtype``, then ``data``."""
    handle = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        handle, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    return handle.getvalue() + data


def zip_members(path, members, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compress) as archive:
        for name, payload in members.items():
            archive.writestr(f"{name}.npy", payload)
    return path


def header_npy(header):
    return npy_bytes((len(json.dumps(header).encode()),), np.uint8, json.dumps(header).encode())


def refused_cheaply(path, *patterns):
    """Refused with a QNetFormatError, allocating and taking next to nothing."""
    import time
    import tracemalloc

    tracemalloc.start()
    start = time.perf_counter()
    try:
        message = load_fails(path, *patterns)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20 and seconds < 2, (peak, seconds)
    return message


def test_header_declaring_a_huge_layer_is_refused_before_reading_arrays(tmp_path):
    header, arrays = parts(small_net())
    header["layers"][0]["n_out"] = header["layers"][1]["n_in"] = 100_000
    header["layers"][0]["n_in"] = header["input"]["n_inputs"] = 100_000
    header["input"]["image_shape"] = []
    members = {"header": header_npy(header),
               "layer0.weights": npy_bytes((100_000, 100_000), np.int8)}
    for part in ("bias", "shift", "threshold"):
        members[f"layer0.{part}"] = npy_bytes((100_000,), np.int64)
    members.update({name: _npy(array) for name, array in arrays.items()
                    if name.startswith("layer1")})
    path = zip_members(tmp_path / "huge.qnet.npz", members)
    assert path.stat().st_size < 4096
    refused_cheaply(path, "header.layers: expected at most 16777216 weights in all",
                    "10000300000 declared")


def _npy(array):
    handle = io.BytesIO()
    np.save(handle, array)
    return handle.getvalue()


def test_member_declaring_a_huge_shape_is_refused_before_allocating(tmp_path):
    header, arrays = parts(small_net())
    members = {"header": header_npy(header), **{k: _npy(v) for k, v in arrays.items()}}
    members["layer0.weights"] = npy_bytes((100_000, 100_000), np.int8)
    path = zip_members(tmp_path / "huge.qnet.npz", members)
    refused_cheaply(path, "array 'layer0.weights' (layers[0].weights)",
                    "expected shape (5, 6) as the header says, got (100000, 100000)")


def test_compressed_member_that_expands_beyond_what_the_header_needs(tmp_path):
    # A JSON header padded with 64 MiB of spaces is valid JSON; deflated it is tiny.
    header, arrays = parts(small_net())
    text = json.dumps(header).encode() + b" " * (64 << 20)
    members = {"header": npy_bytes((len(text),), np.uint8, text),
               **{k: _npy(v) for k, v in arrays.items()}}
    path = zip_members(tmp_path / "bomb.qnet.npz", members, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1 << 20
    refused_cheaply(path, "array 'header': declares", "uncompressed")


def test_zip_entry_declaring_more_than_the_shape_needs(tmp_path):
    header, arrays = parts(small_net())
    members = {"header": header_npy(header), **{k: _npy(v) for k, v in arrays.items()}}
    members["layer0.bias"] += b"\0" * 8  # one int64 too many after the declared data
    load_fails(zip_members(tmp_path / "long.qnet.npz", members),
               "array 'layer0.bias': holds 48 bytes of data", "needs 40")


@pytest.mark.parametrize("members, expected", [
    ({"header.npy": b"x", "notes.txt": b"hi"}, "member 'notes.txt': expected only .npy arrays"),
    ({"header.npy": b"x", "a.npy": b"1", "a.npy ": b"2"}, "expected only .npy arrays"),
])
def test_raw_members_are_refused(tmp_path, members, expected):
    path = tmp_path / "raw.qnet.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    load_fails(path, expected)


@pytest.mark.parametrize("dtype", ["<U3", "|S3", "V8", "<c16", ">i8"])
def test_string_and_other_non_integer_members_are_refused(tmp_path, dtype):
    header, arrays = parts(small_net())
    members = {"header": header_npy(header), **{k: _npy(v) for k, v in arrays.items()}}
    members["layer0.shift"] = _npy(np.zeros(5, dtype))
    load_fails(zip_members(tmp_path / "str.qnet.npz", members),
               "array 'layer0.shift': expected dtype int64")


def test_fortran_ordered_members_load_as_the_same_values(tmp_path):
    header, arrays = parts(small_net())
    arrays["layer0.weights"] = np.asfortranarray(arrays["layer0.weights"])
    path = write(tmp_path / "f.qnet.npz", header, arrays)
    np.testing.assert_array_equal(QNet.load(path).layers[0].weights,
                                  small_net().layers[0].weights)


def test_python_built_qnets_are_bounded_too():
    net = small_net()
    wide = QLayer(weights=np.zeros((1, 1 << 24 | 1), np.int8), bias=np.zeros(1, np.int64),
                  shift=np.zeros(1, np.int64), activation="linear")
    with pytest.raises(QNetFormatError, match="input.n_inputs"):
        QNet(InputSpec(n_inputs=(1 << 24) + 1, bits=1), [wide])
    with pytest.raises(QNetFormatError, match="layers: expected at most 256 layers"):
        QNet(net.input, [net.layers[0]] * 257)
    with pytest.raises(QNetFormatError, match="input.dataset: expected a string"):
        QNet(InputSpec(n_inputs=6, bits=5, dataset=None), net.layers)


# -- version 2: convolution, pool and flatten layers --------------------------------------------


def conv_net():
    from qnet_conv_nets import conv_qnet
    return conv_qnet(seed=4)


def test_version_2_round_trip(tmp_path):
    net = conv_net()
    net.save(tmp_path / "c.qnet.npz")
    loaded = QNet.load(tmp_path / "c.qnet.npz")
    header = loaded.header()
    assert header["version"] == 2
    assert [layer["kind"] for layer in header["layers"]] == [
        "conv2d", "maxpool2d", "conv2d", "flatten", "dense"]
    assert header["layers"][0]["pad_value"] == [3, 0]
    assert sorted(loaded.arrays()) == sorted(net.arrays())  # no arrays for pool and flatten
    assert loaded.fingerprint() == net.fingerprint()
    x = np.random.default_rng(0).integers(0, 16, (50, 40))
    np.testing.assert_array_equal(loaded.forward(x)[0], net.forward(x)[0])


def test_version_2_truncations_and_byte_flips_are_format_errors(tmp_path):
    good = tmp_path / "good.qnet.npz"
    net = conv_net()
    net.save(good)
    data = good.read_bytes()
    bad = tmp_path / "bad.qnet.npz"
    for length in range(0, len(data), 97):
        bad.write_bytes(data[:length])
        load_fails(bad)
    rng = np.random.default_rng(1)
    for _ in range(200):
        corrupt = bytearray(data)
        for position in rng.integers(0, len(data), rng.integers(1, 4)):
            corrupt[position] ^= int(rng.integers(1, 256))
        bad.write_bytes(bytes(corrupt))
        try:
            other = QNet.load(bad)
        except QNetFormatError as error:
            assert str(bad) in str(error)
        else:
            assert other.fingerprint() == net.fingerprint()


@pytest.mark.parametrize("field, value, expected", [
    ("layers.0.kind", "conv3d", "header.layers[0].kind: expected one of"),
    ("layers.0.kind", KeyError, "header.layers[0].kind"),
    ("layers.4.kind", KeyError, "header.layers[4].kind"),
    ("layers.1.kind", "flatten", "header.layers[1]: expected only the keys"),
    ("layers.0.kernel", 2, "array 'layer0.weights' (layers[0].weights): expected shape"),
    ("layers.0.kernel", 16, "header.layers[0].kernel: expected an integer in [1, 15]"),
    ("layers.0.stride", 3, "header.layers[0].stride"),
    ("layers.0.padding", "full", "header.layers[0].padding"),
    ("layers.0.pad_value", [3], "layers[0].pad_value: expected shape (2,)"),
    ("layers.0.pad_value", [16, 0], "layers[0].pad_value: expected values <= 15"),
    ("layers.0.pad_value", [-1, 0], "header.layers[0].pad_value[0]"),
    ("layers.0.pad_value", "3", "header.layers[0].pad_value"),
    ("layers.0.in_shape", [5, 4], "header.layers[0].in_shape"),
    ("layers.0.in_shape", [4, 5, 2], "layers[0].in_shape: expected [5, 4, 2]"),
    ("layers.1.size", 5, "layers[1].size"),
    ("layers.1.widths.out_max", 99, "header.layers[1].widths"),
    ("layers.3.in_shape", [2, 2, 3], "layers[3].in_shape"),
    ("input.image_shape", [40], "input.image_shape: expected (H, W) or (H, W, C)"),
    ("version", 1, "header.layers[0]"),
])
def test_bad_version_2_headers(tmp_path, field, value, expected):
    header, arrays = parts(conv_net())
    mutate(header, field, value)
    load_fails(write(tmp_path / "b.qnet.npz", header, arrays), expected)


def test_a_version_2_header_of_dense_layers_loads(tmp_path):
    net = small_net()
    header, arrays = parts(net)
    header["version"] = 2
    for entry in header["layers"]:
        entry["kind"] = "dense"
    loaded = QNet.load(write(tmp_path / "d.qnet.npz", header, arrays))
    assert loaded.fingerprint() == net.fingerprint()


def test_header_declaring_a_huge_convolution_is_refused_before_reading_arrays(tmp_path):
    header, arrays = parts(conv_net())
    header["layers"][0]["n_out"] = 1 << 20
    members = {"header": header_npy(header),
               "layer0.weights": npy_bytes((1 << 20, 3, 3, 2), np.int8)}
    path = zip_members(tmp_path / "huge.qnet.npz", members)
    refused_cheaply(path, "header.layers: expected at most 16777216 weights in all",
                    "18874416 declared")
