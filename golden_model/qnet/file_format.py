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
from golden_model.errors import QNetFormatError
from golden_model.json_schema import Bool, Const, Int, List, Nullable, Number, Object, Str
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
    MAX_OUT_BITS,
    MAX_SHIFT,
    WEIGHT_MODES,
    InputSpec,
    QLayer,
    _fail,
)
from .widths import LayerWidths

FORMAT_NAME = "mulfree.qnet"
FORMAT_VERSION = 1


def header(qnet):
    """The JSON header as a dict (what :meth:`save` writes)."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "input": {
            "n_inputs": qnet.input.n_inputs,
            "bits": qnet.input.bits,
            "dataset": qnet.input.dataset,
            "image_shape": list(qnet.input.image_shape),
        },
        "layers": [
            {
                "n_in": layer.n_in,
                "n_out": layer.n_out,
                "weight_mode": layer.weight_mode,
                "activation": layer.activation,
                "out_bits": int(layer.out_bits),
                "pow2": bool(layer.pow2),
                "e_max": int(layer.e_max),
                "widths": widths.to_json(),
            }
            for layer, widths in zip(qnet.layers, qnet.widths, strict=True)
        ],
        "meta": qnet.meta,
    }

def arrays(qnet):
    """The integer arrays (what :meth:`save` writes), by name."""
    out = {}
    for k, layer in enumerate(qnet.layers):
        out[f"layer{k}.weights"] = layer.weights.astype(np.int8)
        out[f"layer{k}.bias"] = layer.bias.astype(np.int64)
        out[f"layer{k}.shift"] = layer.shift.astype(np.int64)
        out[f"layer{k}.threshold"] = layer.threshold.astype(np.int64)
    return out


# -- loading ----------------------------------------------------------------------------------

_WIDTH_VALUE = Int(-(1 << 63), (1 << 63) - 1)
_WIDTHS = Object({name: Bool() if name == "in_signed" else _WIDTH_VALUE
                  for name in LayerWidths.__dataclass_fields__}, closed=True)
_LAYER = Object({
    "n_in": Int(1, MAX_INPUTS), "n_out": Int(1, MAX_UNITS),
    "weight_mode": Str(WEIGHT_MODES), "activation": Str(ACTIVATIONS),
    "out_bits": Int(1, MAX_OUT_BITS), "pow2": Bool(), "e_max": Int(0, MAX_E_MAX),
    "widths": _WIDTHS,
}, closed=True)
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
    }, optional=True),
    "class_names": List(Str(max_chars=MAX_NAME_CHARS), max_len=MAX_UNITS, optional=True),
    "source_model": Str(optional=True),
    "train_config": Object(optional=True),
    "network_config": Object(optional=True),
}, optional=True)
_HEADER = Object({
    "format": Const(FORMAT_NAME), "version": Const(FORMAT_VERSION), "input": _INPUT,
    "layers": List(_LAYER, max_len=MAX_LAYERS), "meta": _META,
}, closed=True)
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
    layers = []
    for k, entry in enumerate(header["layers"]):
        layers.append(QLayer(
            weights=arrays[f"layer{k}.weights"], bias=arrays[f"layer{k}.bias"],
            shift=arrays[f"layer{k}.shift"], threshold=arrays[f"layer{k}.threshold"],
            weight_mode=entry["weight_mode"], activation=entry["activation"],
            out_bits=entry["out_bits"], pow2=entry["pow2"], e_max=entry["e_max"]))
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
        json_schema.check(header, _HEADER, "header")
    except json_schema.SchemaError as error:
        raise QNetFormatError(str(error)) from None
    # Sizes from the header, in Python integers, before any array is read.
    total = sum(entry["n_in"] * entry["n_out"] for entry in header["layers"])
    if total > MAX_WEIGHTS:
        _fail("header.layers", f"at most {MAX_WEIGHTS} weights in all", f"{total} declared")
    return header


def _read_arrays(archive, layer_specs):
    """Every layer's arrays, each refused before it is decompressed unless the header's
    shape and dtype account for it."""
    expected = {}
    for k, entry in enumerate(layer_specs):
        expected[f"layer{k}.weights"] = (np.dtype(np.int8), (entry["n_out"], entry["n_in"]),
                                         f"layers[{k}].weights")
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
