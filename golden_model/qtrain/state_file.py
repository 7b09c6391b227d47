"""The QTrain state file (``.qtrain.npz``): a JSON header plus integer arrays.

Like the QNet file (``golden_model/qnet.py``): loading validates every field
and names the file, the field and what was expected; saving is atomic (a
temporary file in the same folder, then ``os.replace``), so a failed write
leaves no file and never a half-written one.
"""

import json
from pathlib import Path

import numpy as np

from golden_model import bounded_json
from golden_model.errors import QNetFormatError
from golden_model.limits import MAX_FILE_BYTES, MAX_HEADER_BYTES, MAX_LAYERS, MAX_UNITS, MAX_WEIGHTS
from golden_model.npz_archive import ArchiveError, NpzArchive
from golden_model.output_files import atomic_output
from golden_model.qnet import InputSpec

from .state import QTrainConfig, QTrainError, QTrainLayer, QTrainState

FORMAT_NAME = "mulfree.qtrain"
FORMAT_VERSION = 1
_ARRAYS = ("shadow", "bias", "shift", "threshold")


def header(state):
    """The JSON header of ``state`` as a dict."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "input": {"n_inputs": state.input.n_inputs, "bits": state.input.bits,
                  "dataset": state.input.dataset,
                  "image_shape": [int(d) for d in state.input.image_shape]},
        "config": state.config.to_json(),
        "step": int(state.step),
        "epoch": int(state.epoch),
        "layers": [{"n_in": layer.n_in, "n_out": layer.n_out, "activation": layer.activation,
                    "out_bits": int(layer.out_bits), "pow2": bool(layer.pow2),
                    "e_max": int(layer.e_max), "widths": widths.to_json()}
                   for layer, widths in zip(state.layers, state.widths, strict=True)],
        "meta": state.meta,
    }


def save_state(state, path):
    """Write ``state`` to ``path`` atomically.

    Parameters
    ----------
    state : QTrainState
    path : str or Path
    """
    arrays = {"header": np.frombuffer(json.dumps(header(state), sort_keys=True).encode(),
                                      dtype=np.uint8)}
    for k, layer in enumerate(state.layers):
        for name in _ARRAYS:
            arrays[f"layer{k}.{name}"] = getattr(layer, name).astype(np.int64)
    with atomic_output(path) as handle:
        np.savez(handle, **arrays)


def load_state(path):
    """Read and validate a ``.qtrain.npz`` file.

    Raises
    ------
    QTrainError
        Naming the file, the field and what was expected; nothing is returned
        unless everything validates.
    """
    path = Path(path)
    try:
        return _load(path)
    except (QTrainError, QNetFormatError) as error:
        message = str(error)
        raise QTrainError(message if str(path) in message else f"{path}: {message}") from None


def _fail(name, expected, got):
    raise QTrainError(f"{name}: expected {expected}, got {got}")


def _get(mapping, key, kind, where):
    if not isinstance(mapping, dict):
        _fail(where, "a JSON object", type(mapping).__name__)
    if key not in mapping:
        _fail(f"{where}.{key}", f"a {kind.__name__}", "missing")
    value = mapping[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        _fail(f"{where}.{key}", f"a {kind.__name__}", repr(value))
    return value


def _load(path):
    if not path.is_file():
        what = "no such file" if not path.exists() else "not a file"
        raise QTrainError(f"{path}: {what} (expected a .qtrain.npz QTrain state file)")
    # Bounded like the QNet file: the header is size- and depth-limited before it is
    # parsed, and each array is refused before decompression if it declares more than
    # the header's (limited) layer sizes need.
    try:
        with NpzArchive(path, max_file_bytes=MAX_FILE_BYTES,
                        max_members=1 + len(_ARRAYS) * MAX_LAYERS) as archive:
            head = _read_header(archive)
            arrays = _read_arrays(archive, head)
    except ArchiveError as error:
        raise QTrainError(f"{path}: not a readable .qtrain.npz archive ({error})") from None
    spec = _get(head, "input", dict, "header")
    image_shape = spec.get("image_shape", [])
    if not isinstance(image_shape, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in image_shape):
        _fail("header.input.image_shape", "a list of integers", repr(image_shape))
    dataset = spec.get("dataset", "")
    if not isinstance(dataset, str):
        _fail("header.input.dataset", "a string", repr(dataset))
    config = _config(_get(head, "config", dict, "header"))
    meta = head.get("meta", {})
    if not isinstance(meta, dict):
        _fail("header.meta", "a JSON object", type(meta).__name__)
    entries = _get(head, "layers", list, "header")
    expected, layers = set(), []
    for k, entry in enumerate(entries):
        where = f"header.layers[{k}]"
        shape = (_get(entry, "n_out", int, where), _get(entry, "n_in", int, where))
        parts = {}
        for name in _ARRAYS:
            key = f"layer{k}.{name}"
            expected.add(key)
            if key not in arrays:
                _fail(f"array '{key}'", "present", "missing")
            array = arrays[key]
            if array.dtype != np.int64:
                _fail(f"array '{key}'", "dtype int64", array.dtype)
            want = shape if name == "shadow" else shape[:1]
            if array.shape != want:
                _fail(f"array '{key}'", f"shape {want} as the header says", array.shape)
            parts[name] = array
        layers.append(QTrainLayer(
            **parts, activation=_get(entry, "activation", str, where),
            out_bits=_get(entry, "out_bits", int, where),
            pow2=_get(entry, "pow2", bool, where), e_max=_get(entry, "e_max", int, where)))
    extra = set(arrays) - expected
    if extra:
        _fail("arrays", f"only the arrays of {len(entries)} layers", f"unexpected {sorted(extra)}")
    state = QTrainState(
        input=InputSpec(n_inputs=_get(spec, "n_inputs", int, "header.input"),
                        bits=_get(spec, "bits", int, "header.input"), dataset=dataset,
                        image_shape=tuple(image_shape)),
        layers=layers, config=config, step=_get(head, "step", int, "header"),
        epoch=_get(head, "epoch", int, "header"), meta=meta)
    for k, (entry, widths) in enumerate(zip(entries, state.widths, strict=True)):
        if entry.get("widths") != widths.to_json():
            _fail(f"header.layers[{k}].widths", f"{widths.to_json()} (recomputed)",
                  entry.get("widths"))
    return state


def _read_header(archive):
    if "header" not in archive.names():
        _fail("field 'header'", "the JSON header", "missing")
    member = archive.open_member("header", MAX_HEADER_BYTES)
    if member.dtype != np.uint8 or len(member.shape) != 1:
        _fail("header", "a 1-D uint8 array of JSON bytes", member.dtype)
    try:
        head = bounded_json.loads(member.read().tobytes(), max_bytes=MAX_HEADER_BYTES)
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError, JSONLimitError
        _fail("header", "valid JSON within the size limits", f"{type(error).__name__}: {error}")
    if not isinstance(head, dict):
        _fail("header", "a JSON object", type(head).__name__)
    if head.get("format") != FORMAT_NAME:
        _fail("header.format", repr(FORMAT_NAME), repr(head.get("format")))
    if head.get("version") != FORMAT_VERSION:
        _fail("header.version", FORMAT_VERSION, repr(head.get("version")))
    return head


def _read_arrays(archive, head):
    """The layer arrays, each bounded by the sizes the header declares (themselves limited)."""
    entries = _get(head, "layers", list, "header")
    if len(entries) > MAX_LAYERS:
        _fail("header.layers", f"at most {MAX_LAYERS} layers", len(entries))
    total, arrays = 0, {}
    for k, entry in enumerate(entries):
        where = f"header.layers[{k}]"
        if not isinstance(entry, dict):
            _fail(where, "a JSON object", type(entry).__name__)
        n_out, n_in = _get(entry, "n_out", int, where), _get(entry, "n_in", int, where)
        for name, value in (("n_out", n_out), ("n_in", n_in)):
            if not 1 <= value <= MAX_UNITS:
                _fail(f"{where}.{name}", f"1..{MAX_UNITS}", value)
        total += n_out * n_in
        if total > MAX_WEIGHTS:
            _fail("header.layers", f"at most {MAX_WEIGHTS} weights in all", total)
        for name in _ARRAYS:
            key = f"layer{k}.{name}"
            if key in archive.names():
                count = n_out * n_in if name == "shadow" else n_out
                arrays[key] = archive.open_member(key, 8 * count).read()
    for key in archive.names() - set(arrays) - {"header"}:
        arrays[key] = None  # reported as unexpected below, never read
    return arrays


def _config(data):
    where = "header.config"
    known = set(QTrainConfig.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        _fail(where, f"only the fields {sorted(known)}", f"unexpected {sorted(unknown)}")
    values = {}
    for name in ("weight_mode", "sampling", "input_rounding"):
        values[name] = _get(data, name, str, where)
    for name in ("w0_log2", "bias_log2", "target", "delta_bits", "decay_epochs", "seed"):
        values[name] = _get(data, name, int, where)
    for name in ("eta", "eta_bias", "backward_shift"):
        listed = _get(data, name, list, where)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in listed):
            _fail(f"{where}.{name}", "a list of integers", repr(listed))
        values[name] = tuple(listed)
    return QTrainConfig(**values)
