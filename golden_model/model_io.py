"""Saving and loading a trained float model with its configuration.

A model file is a ``.npz`` archive: ``header`` holds a JSON document (format
name, version, the :class:`~golden_model.network.NetworkConfig`, the training
config and any extra information such as the dataset's input description),
and every other entry is one array of :meth:`Network.state`.
"""

import json
import math
from pathlib import Path

import numpy as np

from . import bounded_json, json_schema
from .act_quant import ACT_QUANT_MODES
from .activations import ACTIVATION_KINDS
from .architecture import layer_shapes, parse_architecture
from .bounded_json import JSONLimitError
from .dense import WEIGHT_MODES
from .errors import MulfreeError
from .json_schema import Bool, Const, Either, Int, List, Nullable, Number, Object, Str
from .limits import (
    MAX_FILE_BYTES,
    MAX_HEADER_BYTES,
    MAX_INPUTS,
    MAX_LAYERS,
    MAX_NAME_CHARS,
    MAX_UNITS,
    MAX_WEIGHTS,
)
from .network import NetworkConfig, build_network
from .npz_archive import ArchiveError, NpzArchive
from .output_files import atomic_output
from .qnet import MAX_E_MAX, MAX_INPUT_BITS

FORMAT = "mulfree-float-model"
VERSION = 1


class ModelFileError(MulfreeError):
    """A model file is missing, unreadable or not a mulfree float model."""


# Every NetworkConfig field a file may set, with the type and range the
# layers need (sizes are bounded further in _read_header).
_NETWORK = Object({
    "sizes": List(Int(1, MAX_INPUTS), min_len=2, max_len=MAX_LAYERS + 1),
    "input_bits": Int(1, MAX_INPUT_BITS, optional=True),
    "weight_mode": Str(WEIGHT_MODES, optional=True),
    "stochastic": Bool(optional=True),
    "quantized_backprop": Bool(optional=True),
    "qb_stochastic": Bool(optional=True),
    "qb_range": List(Int(-64, 64), min_len=2, max_len=2, optional=True),
    "activation": Str(ACTIVATION_KINDS, optional=True),
    "theta": Number(optional=True),
    "batchnorm": Bool(optional=True),
    "shift_based": Bool(optional=True),
    "bn_momentum": Number(0, 1, optional=True),
    "bn_eps": Number(above=0, optional=True),
    "output_common_scale": Bool(optional=True),
    "act_quant": Nullable(Str(ACT_QUANT_MODES), optional=True),
    "act_bits": Int(1, 32, optional=True),
    "act_frac_bits": Int(-64, 64, optional=True),
    "act_e_max": Nullable(Int(0, MAX_E_MAX), optional=True),
    "dropout": Number(0, below=1, optional=True),
    "alpha_pow2": Bool(optional=True),
    "arch": Str(max_chars=MAX_NAME_CHARS, optional=True),
    "image_shape": List(Int(1, MAX_INPUTS), max_len=3, optional=True),
    "extra": Object(optional=True),
})
# Only the seed is read back (it picks the dataset's validation split).
_TRAIN_CONFIG = Object({"seed": Int(0, (1 << 63) - 1, optional=True)}, optional=True)
_DATASET = Either(Str(max_chars=MAX_NAME_CHARS),
                  Object({"dataset": Str(max_chars=MAX_NAME_CHARS)}), optional=True)
_HEADER = Object({
    "format": Const(FORMAT), "version": Const(VERSION), "network": _NETWORK,
    "train_config": _TRAIN_CONFIG, "dataset": _DATASET,
})
#: The header, the preprocessing mean and at most six arrays per layer.
_MAX_MEMBERS = 2 + 6 * MAX_LAYERS


def save_model(path, network, **info):
    """Write ``network`` (config and arrays) to ``path``.

    Parameters
    ----------
    path : path-like
        Destination ``.npz``; parent folders are created.
    network : Network
        Must have been built from a config.
    **info
        JSON-serialisable extras stored in the header (e.g. ``train_config``,
        ``dataset``, ``history``).
    """
    if network.config is None:
        raise MulfreeError("cannot save a network that was not built from a NetworkConfig")
    header = {"format": FORMAT, "version": VERSION, "network": network.config.to_dict(), **info}
    # Written beside the target and renamed: a failed save never leaves a
    # half-written model (or destroys the previous one).
    with atomic_output(path, "wb") as f:
        np.savez(f, header=np.array(json.dumps(header)), **network.state())


def load_model(path):
    """Read a model written by :func:`save_model`, checking everything before building it.

    The header is parsed within the limits of :mod:`golden_model.limits` and
    checked field by field (the network config's types and sizes, the
    training seed, the dataset name); the network is built only once its
    size is known to be within bounds, and every array is checked for its
    dtype (numeric), shape, finiteness and, for batch-norm variances, sign
    before anything of it is loaded.

    Returns
    -------
    network : Network
    header : dict
        The decoded JSON header.

    Raises
    ------
    ModelFileError
        Naming the file, the field and what was expected.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    if not path.is_file():
        raise ModelFileError(f"{path}: not a file; expected a .npz model archive")
    try:
        with NpzArchive(path, max_file_bytes=MAX_FILE_BYTES, max_members=_MAX_MEMBERS) as archive:
            header = _read_header(path, archive)
            network = _build(path, header["network"])
            network.load_state(_read_arrays(path, archive, network.state()))
    except ArchiveError as error:
        if error.member is None:
            raise ModelFileError(f"{path}: expected a .npz model archive ({error})") from None
        raise ModelFileError(f"{path}: {error}") from None
    return network, header


def _read_header(path, archive):
    if "header" not in archive.names():
        raise ModelFileError(f"{path}: no 'header' entry; expected a mulfree float model")
    # np.array(str) is stored as UCS-4: four bytes per character.
    member = archive.open_member("header", 4 * MAX_HEADER_BYTES)
    if member.dtype.kind != "U" or member.shape != ():
        raise ModelFileError(f"{path}: field 'header': expected a JSON string, "
                             f"got a {member.dtype} array of shape {member.shape}")
    try:
        header = bounded_json.loads(str(member.read()[()]), max_bytes=MAX_HEADER_BYTES)
    except JSONLimitError as error:
        raise ModelFileError(f"{path}: field 'header': expected a JSON document ({error})") \
            from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: field 'header': expected a JSON object")
    try:
        json_schema.check(header, _HEADER)
    except json_schema.SchemaError as error:
        raise ModelFileError(f"{path}: field '{error.field}': expected {error.expected}, "
                             f"got {error.got}") from None
    sizes = header["network"]["sizes"]
    if header["network"].get("arch"):
        _check_conv_arch(path, header["network"])
        return header
    for k, size in enumerate(sizes[1:], start=1):
        if size > MAX_UNITS:
            raise ModelFileError(f"{path}: field 'network.sizes[{k}]': expected at most "
                                 f"{MAX_UNITS} units, got {size}")
    weights = sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
    if weights > MAX_WEIGHTS:
        raise ModelFileError(f"{path}: field 'network.sizes': expected at most {MAX_WEIGHTS} "
                             f"weights in all, got {weights}")
    return header


def _check_conv_arch(path, network):
    """A convolutional architecture: readable, fitting its images, and within the limits."""
    try:
        specs = parse_architecture(network["arch"], "field 'network.arch'")
        shapes, weights = layer_shapes(specs, network.get("image_shape", ()),
                                       "field 'network.arch'")
    except MulfreeError as error:
        raise ModelFileError(f"{path}: {error}") from None
    if len(specs) > MAX_LAYERS or max(math.prod(s) for s in shapes) > MAX_UNITS:
        raise ModelFileError(f"{path}: field 'network.arch': expected at most {MAX_LAYERS} "
                             f"layers of at most {MAX_UNITS} values each")
    if weights > MAX_WEIGHTS:
        raise ModelFileError(f"{path}: field 'network.arch': expected at most {MAX_WEIGHTS} "
                             f"weights in all, got {weights}")


def _build(path, network_config):
    try:
        return build_network(NetworkConfig.from_dict(network_config))
    except (MulfreeError, KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: field 'network': expected a network config ({error})") \
            from None


def _read_arrays(path, archive, expected):
    """The network's arrays from the archive, each checked before it is read."""
    extra = archive.names() - set(expected) - {"header"}
    if extra:
        raise ModelFileError(f"{path}: unexpected arrays {sorted(extra)[:5]}; expected only "
                             "the network's")
    arrays = {}
    for key, value in expected.items():
        if key not in archive.names():
            raise ModelFileError(f"{path}: missing array {key!r}")
        # Up to float64: twice what the float32 state needs.
        member = archive.open_member(key, value.size * 8)
        if member.dtype.kind not in "fiu" or member.dtype.itemsize > 8:
            raise ModelFileError(f"{path}: array {key!r}: expected real numbers, "
                                 f"got dtype {member.dtype}")
        if member.shape != value.shape:
            raise ModelFileError(f"{path}: array {key!r} has shape {member.shape}; "
                                 f"expected {value.shape}")
        # The network computes in float32: a finite float64 beyond its range is inf there.
        with np.errstate(over="ignore"):
            array = member.read().astype(np.float32)
        if not np.all(np.isfinite(array)):
            raise ModelFileError(f"{path}: array {key!r} has non-finite values "
                                 "(or values beyond float32)")
        if key.endswith(".running_var") and array.size and array.min() < 0:
            raise ModelFileError(f"{path}: array {key!r}: expected batch-norm variances "
                                 f">= 0, got {float(array.min()):g}")
        arrays[key] = array
    return arrays
