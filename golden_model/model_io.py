"""Saving and loading a trained float model with its configuration.

A model file is a ``.npz`` archive: ``header`` holds a JSON document (format
name, version, the :class:`~golden_model.network.NetworkConfig`, the training
config and any extra information such as the dataset's input description),
and every other entry is one array of :meth:`Network.state`.
"""

import json
import zipfile
from pathlib import Path

import numpy as np

from .errors import MulfreeError
from .network import NetworkConfig, build_network
from .output_files import atomic_output

FORMAT = "mulfree-float-model"
VERSION = 1


class ModelFileError(MulfreeError):
    """A model file is missing, unreadable or not a mulfree float model."""


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
    """Read a model written by :func:`save_model`.

    Returns
    -------
    network : Network
    header : dict
        The decoded JSON header.

    Raises
    ------
    ModelFileError
        Naming the file and what was expected.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ModelFileError(f"{path}: expected a .npz model archive ({error})") from None
    if "header" not in arrays:
        raise ModelFileError(f"{path}: no 'header' entry; expected a mulfree float model")
    try:
        header = json.loads(str(arrays.pop("header")))
    except ValueError:
        raise ModelFileError(f"{path}: field 'header': expected a JSON document") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: field 'format': expected {FORMAT!r}")
    if header.get("version") != VERSION:
        raise ModelFileError(f"{path}: field 'version' is {header.get('version')!r}; "
                             f"expected {VERSION}")
    try:
        config = NetworkConfig.from_dict(header["network"])
        network = build_network(config)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: field 'network': expected a network config ({error})") \
            from None
    expected = network.state()
    for key, value in expected.items():
        if key not in arrays:
            raise ModelFileError(f"{path}: missing array {key!r}")
        if arrays[key].shape != value.shape:
            raise ModelFileError(f"{path}: array {key!r} has shape {arrays[key].shape}; "
                                 f"expected {value.shape}")
        if not np.all(np.isfinite(arrays[key])):
            raise ModelFileError(f"{path}: array {key!r} has non-finite values")
    network.load_state(arrays)
    return network, header
