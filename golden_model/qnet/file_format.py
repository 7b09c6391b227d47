"""The ``.qnet.npz`` file format: the JSON header, the arrays, and strict loading.

A file holds a JSON header (format name, version, input, layer specs with
their widths, free-form meta) as a uint8 array, plus four integer arrays per
layer. Loading bounds every read (file size, member count and sizes, JSON
depth), checks the header against a closed schema, checks every array's dtype
and shape against the header before it is decompressed, rebuilds the QNet
(which validates the contract) and compares the recorded widths with the
recomputed ones.
"""

import math

import numpy as np

from golden_model import bounded_json, json_schema
from golden_model.bounded_json import JSONLimitError
from golden_model.conv2d import PADDINGS
from golden_model.errors import QNetFormatError
from golden_model.json_schema import Bool, Const, Either, Int, List, Nullable, Number, Object, Str
from golden_model.limits import (
    MAX_FILE_BYTES,
    MAX_HEADER_BYTES,
    MAX_IMAGE_DIMS,
    MAX_INPUTS,
    MAX_LAYERS,
    MAX_NAME_CHARS,
    MAX_UNITS,
    MAX_WEIGHTS,
)
from golden_model.npz_archive import ArchiveError, NpzArchive

from .layers import (
    ACTIVATIONS,
    MAX_E_MAX,
    MAX_INPUT_BITS,
    MAX_KERNEL,
    MAX_OUT_BITS,
    MAX_SHIFT,
    WEIGHT_MODES,
    InputSpec,
    QConv2D,
    QFlatten,
    QLayer,
    QMaxPool2D,
    _fail,
)
from .widths import LayerWidths

FORMAT_NAME = "mulfree.qnet"
#: Version 1: dense layers only. Version 2 adds convolution, max pool and
#: flatten layers; a QNet of dense layers is still written as version 1, so
#: its file and fingerprint do not change.
FORMAT_VERSION = 2
VERSIONS = (1, 2)
#: The ``kind`` of each layer class in a version-2 header.
KINDS = {QLayer: "dense", QConv2D: "conv2d", QMaxPool2D: "maxpool2d", QFlatten: "flatten"}


def version_of(qnet):
    """The oldest format version that holds ``qnet``."""
    return 1 if all(isinstance(layer, QLayer) for layer in qnet.layers) else 2


def _requantizer_json(layer):
    return {"weight_mode": layer.weight_mode, "activation": layer.activation,
            "out_bits": int(layer.out_bits), "pow2": bool(layer.pow2), "e_max": int(layer.e_max)}


def _layer_json(layer, version):
    if isinstance(layer, QLayer):
        entry = {"n_in": layer.n_in, "n_out": layer.n_out, **_requantizer_json(layer)}
    elif isinstance(layer, QConv2D):
        entry = {"in_shape": [int(d) for d in layer.in_shape], "n_out": layer.n_out,
                 "kernel": layer.kernel, "stride": int(layer.stride), "padding": layer.padding,
                 "pad_value": [int(v) for v in layer.pad_value], **_requantizer_json(layer)}
    elif isinstance(layer, QMaxPool2D):
        entry = {"in_shape": [int(d) for d in layer.in_shape], "size": int(layer.size)}
    else:
        entry = {"in_shape": [int(d) for d in layer.in_shape]}
    if version >= 2:
        entry["kind"] = KINDS[type(layer)]
    return entry


def header(qnet):
    """The JSON header as a dict (what :meth:`save` writes)."""
    version = version_of(qnet)
    layers = []
    for layer, widths in zip(qnet.layers, qnet.widths, strict=True):
        layers.append({**_layer_json(layer, version), "widths": widths.to_json()})
    return {
        "format": FORMAT_NAME,
        "version": version,
        "input": {
            "n_inputs": qnet.input.n_inputs,
            "bits": qnet.input.bits,
            "dataset": qnet.input.dataset,
            "image_shape": list(qnet.input.image_shape),
        },
        "layers": layers,
        "meta": qnet.meta,
    }


def arrays(qnet):
    """The integer arrays (what :meth:`save` writes), by name: four per layer with weights."""
    out = {}
    for k, layer in enumerate(qnet.layers):
        if isinstance(layer, QMaxPool2D | QFlatten):
            continue
        out[f"layer{k}.weights"] = layer.weights.astype(np.int8)
        out[f"layer{k}.bias"] = layer.bias.astype(np.int64)
        out[f"layer{k}.shift"] = layer.shift.astype(np.int64)
        out[f"layer{k}.threshold"] = layer.threshold.astype(np.int64)
    return out


# -- loading ----------------------------------------------------------------------------------

_WIDTH_VALUE = Int(-(1 << 63), (1 << 63) - 1)
_WIDTHS = Object({name: Bool() if name == "in_signed" else _WIDTH_VALUE
                  for name in LayerWidths.__dataclass_fields__}, closed=True)
_REQUANTIZER = {
    "weight_mode": Str(WEIGHT_MODES), "activation": Str(ACTIVATIONS),
    "out_bits": Int(1, MAX_OUT_BITS), "pow2": Bool(), "e_max": Int(0, MAX_E_MAX),
    "widths": _WIDTHS,
}
_LAYER = Object({"n_in": Int(1, MAX_INPUTS), "n_out": Int(1, MAX_UNITS), **_REQUANTIZER},
                closed=True)
_MAP_SHAPE = List(Int(1, MAX_INPUTS), min_len=3, max_len=3)
#: Version 2: every layer names its kind, then has that kind's fields.
_KIND = Object({"kind": Str(tuple(KINDS.values()))})
_LAYER_V2 = {
    "dense": Object({"kind": Str(("dense",)), **_LAYER.fields}, closed=True),
    "conv2d": Object({
        "kind": Str(("conv2d",)), "in_shape": _MAP_SHAPE, "n_out": Int(1, MAX_UNITS),
        "kernel": Int(1, MAX_KERNEL), "stride": Int(1, 2), "padding": Str(PADDINGS),
        "pad_value": List(Int(0, (1 << MAX_INPUT_BITS) - 1), max_len=MAX_INPUTS),
        **_REQUANTIZER,
    }, closed=True),
    "maxpool2d": Object({"kind": Str(("maxpool2d",)), "in_shape": _MAP_SHAPE,
                         "size": Int(1, MAX_INPUTS), "widths": _WIDTHS}, closed=True),
    "flatten": Object({"kind": Str(("flatten",)), "in_shape": _MAP_SHAPE, "widths": _WIDTHS},
                      closed=True),
}
_INPUT = Object({
    "n_inputs": Int(1, MAX_INPUTS), "bits": Int(1, MAX_INPUT_BITS),
    "dataset": Str(max_chars=MAX_NAME_CHARS, optional=True),
    "image_shape": List(Int(1, MAX_INPUTS), max_len=MAX_IMAGE_DIMS, optional=True),
}, closed=True)
_FRACTION = Number(0, 1)
# ``meta`` is free-form, but the fields that mulfree itself reads back
# (inspect, the agreement check) must have the types it writes.
_QUANTIZED_LAYER = Object({
    "index": Int(0, MAX_LAYERS), "scale_error": Number(lo=0), "bias_error": Number(lo=0),
    "step": Nullable(Number(above=0)), "calibrated": Bool(), "sign_flips": Int(0, MAX_UNITS),
    "shift_min": Int(-MAX_SHIFT, MAX_SHIFT), "shift_max": Int(-MAX_SHIFT, MAX_SHIFT),
    "exact": Bool(),
})
_META = Object({
    "agreement": Object({
        "split": Str(max_chars=MAX_NAME_CHARS, optional=True), "n": Int(0, 1 << 62),
        "float_accuracy": _FRACTION, "qnet_accuracy": _FRACTION, "disagreement": _FRACTION,
        "layers": List(Object(), max_len=MAX_LAYERS, optional=True),
    }, optional=True),
    "quantization": Object({
        "layers": List(_QUANTIZED_LAYER, max_len=MAX_LAYERS, optional=True),
        "max_scale_error": Number(lo=0), "max_bias_error": Number(lo=0), "exact": Bool(),
        "logit_scale_log2": Int(-1024, 1024, optional=True),
        "logit_common_factor": Number(above=0, optional=True),
    }, optional=True),
    "class_names": List(Str(max_chars=MAX_NAME_CHARS), max_len=MAX_UNITS, optional=True),
    "source_model": Str(optional=True),
    "train_config": Object(optional=True),
    "network_config": Object(optional=True),
}, optional=True)
_HEADER = {
    1: Object({
        "format": Const(FORMAT_NAME), "version": Const(1), "input": _INPUT,
        "layers": List(_LAYER, max_len=MAX_LAYERS), "meta": _META,
    }, closed=True),
    2: Object({
        "format": Const(FORMAT_NAME), "version": Const(2), "input": _INPUT,
        "layers": List(_KIND, max_len=MAX_LAYERS), "meta": _META,
    }, closed=True),
}
_VERSION = Object({"format": Const(FORMAT_NAME), "version": Either(Const(1), Const(2))})
#: The header and four arrays per layer.
_MAX_MEMBERS = 1 + 4 * MAX_LAYERS


def load(path):
    if not path.exists():
        raise QNetFormatError(f"{path}: no such file (expected a .qnet.npz QNet file)")
    if not path.is_file():
        raise QNetFormatError(f"{path}: not a file (expected a .qnet.npz QNet file)")
    try:
        with NpzArchive(path, max_file_bytes=MAX_FILE_BYTES, max_members=_MAX_MEMBERS) as archive:
            header = _read_header(archive)
            arrays = _read_arrays(archive, header["layers"])
    except ArchiveError as error:
        if error.member is None:
            raise QNetFormatError(f"{path}: not a readable .npz archive ({error})") from None
        raise QNetFormatError(f"{path}: {error}") from None
    layers = [_layer_from(k, entry, arrays) for k, entry in enumerate(header["layers"])]
    spec = header["input"]
    from .model import QNet

    qnet = QNet(
        input=InputSpec(n_inputs=spec["n_inputs"], bits=spec["bits"],
                        dataset=spec.get("dataset", ""),
                        image_shape=tuple(spec.get("image_shape", ()))),
        layers=layers, meta=header.get("meta", {}), source=str(path))
    for k, (entry, widths) in enumerate(zip(header["layers"], qnet.widths, strict=True)):
        if entry["widths"] != widths.to_json():
            _fail(f"header.layers[{k}].widths", f"{widths.to_json()} (recomputed from the arrays)",
                  entry["widths"])
    return qnet


def _layer_from(k, entry, arrays):
    kind = entry.get("kind", "dense")
    if kind == "maxpool2d":
        return QMaxPool2D(in_shape=tuple(entry["in_shape"]), size=entry["size"])
    if kind == "flatten":
        return QFlatten(in_shape=tuple(entry["in_shape"]))
    parts = {name: arrays[f"layer{k}.{name}"] for name in ("weights", "bias", "shift", "threshold")}
    options = {name: entry[name] for name in ("weight_mode", "activation", "out_bits", "pow2",
                                              "e_max")}
    if kind == "conv2d":
        return QConv2D(in_shape=tuple(entry["in_shape"]), stride=entry["stride"],
                       padding=entry["padding"], pad_value=np.array(entry["pad_value"], np.int64),
                       **parts, **options)
    return QLayer(**parts, **options)


def _weight_shape(entry):
    """The weight array's shape the header declares (None for a layer without weights)."""
    kind = entry.get("kind", "dense")
    if kind == "dense":
        return (entry["n_out"], entry["n_in"])
    if kind == "conv2d":
        return (entry["n_out"], entry["kernel"], entry["kernel"], entry["in_shape"][2])
    return None


def _read_header(archive):
    """The JSON header, parsed within bounds and checked field by field against the schema."""
    if "header" not in archive.names():
        _fail("field 'header'", "the JSON header", "missing")
    member = archive.open_member("header", MAX_HEADER_BYTES)
    if member.dtype != np.uint8 or len(member.shape) != 1:
        _fail("header", "a 1-D uint8 array of JSON bytes", member.dtype)
    try:
        header = bounded_json.loads(member.read().tobytes(), max_bytes=MAX_HEADER_BYTES)
    except JSONLimitError as error:
        raise QNetFormatError(f"field 'header': {error}") from None
    if not isinstance(header, dict):
        _fail("header", "a JSON object", type(header).__name__)
    try:
        json_schema.check(header, _VERSION, "header")
        json_schema.check(header, _HEADER[header["version"]], "header")
        if header["version"] == 2:
            for k, entry in enumerate(header["layers"]):
                json_schema.check(entry, _LAYER_V2[entry["kind"]], f"header.layers[{k}]")
    except json_schema.SchemaError as error:
        raise QNetFormatError(str(error)) from None
    # Sizes from the header, in Python integers, before any array is read.
    total = sum(math.prod(_weight_shape(entry) or (0,)) for entry in header["layers"])
    if total > MAX_WEIGHTS:
        _fail("header.layers", f"at most {MAX_WEIGHTS} weights in all", f"{total} declared")
    return header


def _read_arrays(archive, layer_specs):
    """Every layer's arrays, each refused before it is decompressed unless the header's
    shape and dtype account for it."""
    expected = {}
    for k, entry in enumerate(layer_specs):
        shape = _weight_shape(entry)
        if shape is None:
            continue
        expected[f"layer{k}.weights"] = (np.dtype(np.int8), shape, f"layers[{k}].weights")
        for part in ("bias", "shift", "threshold"):
            expected[f"layer{k}.{part}"] = (np.dtype(np.int64), (entry["n_out"],),
                                            f"layers[{k}].{part}")
    names = archive.names() - {"header"}
    for name in expected:
        if name not in names:
            _fail(f"array '{name}'", "present", "missing")
    extra = names - set(expected)
    if extra:
        _fail("arrays", f"only the arrays of {len(layer_specs)} layers",
              f"unexpected {sorted(extra)}")
    arrays = {}
    for name, (dtype, shape, field_name) in expected.items():
        member = archive.open_member(name, math.prod(shape) * dtype.itemsize)
        if member.dtype != dtype:
            _fail(f"array '{name}'", f"dtype {dtype}", member.dtype)
        if member.shape != shape:
            _fail(f"array '{name}' ({field_name})", f"shape {shape} as the header says",
                  member.shape)
        arrays[name] = member.read()
    return arrays
