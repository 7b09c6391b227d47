"""The array sizes a MATLAB v5 ``.mat`` file declares, read without loading them.

A compressed variable is a zlib stream, so a small file can expand to
gigabytes, and ``scipy.io.loadmat`` (and ``whosmat``) decompress each one
whole. Only the first bytes of each stream are decompressed here: the
variable's tag, array flags, dimensions and name come first.
"""

import math
import struct
import zlib

from golden_model.errors import DatasetError

__all__ = ["declared_variables"]

_MI_MATRIX, _MI_COMPRESSED = 14, 15
#: bytes per element of each MATLAB array class (mxCHAR is UTF-16); others count as 8
_CLASS_BYTES = {4: 2, 6: 8, 7: 4, 8: 1, 9: 1, 10: 2, 11: 2, 12: 4, 13: 4, 14: 8, 15: 8}
#: decompressed bytes that always hold a variable's tag, flags, dimensions and name
_HEADER_BYTES = 4096


def _element(data, offset, order):
    """``(type, payload, next_offset)`` of one data element (normal or small format)."""
    if offset + 8 > len(data):
        raise ValueError("truncated element")
    first, second = struct.unpack_from(order + "II", data, offset)
    if first >> 16:  # small format: type and size share one word, data in the next four
        size = first >> 16
        return first & 0xFFFF, data[offset + 4:offset + 4 + size], offset + 8
    end = offset + 8 + second
    return first, data[offset + 8:end], end + (-second % 8)


def _matrix_size(data, order):
    """``(name, dims, bytes)`` of the miMATRIX element at the start of ``data``."""
    kind, _, _ = _element(data, 0, order)
    if kind != _MI_MATRIX:
        return None
    _, flags, offset = _element(data, 8, order)
    _, dims_raw, offset = _element(data, offset, order)
    _, name, _ = _element(data, offset, order)
    if len(flags) < 4 or len(dims_raw) % 4:
        raise ValueError("malformed array header")
    dims = struct.unpack(order + f"{len(dims_raw) // 4}i", dims_raw)
    if min(dims, default=0) < 0:
        raise ValueError(f"negative dimension in {dims}")
    array_class = struct.unpack_from(order + "I", flags)[0] & 0xFF
    size = math.prod(dims) * _CLASS_BYTES.get(array_class, 8)
    return name.decode("latin-1"), dims, size


def declared_variables(path):
    """``{name: (dims, bytes)}`` of every array a v5 ``.mat`` file declares.

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    dict
        Only arrays (``miMATRIX``); the sizes are what loading would allocate.

    Raises
    ------
    DatasetError
        The file is not a readable MATLAB v5 file.
    """
    variables = {}
    try:
        with open(path, "rb") as file:
            header = file.read(128)
            if len(header) < 128 or header[126:128] not in (b"IM", b"MI"):
                raise ValueError("not a MATLAB 5.0 file (v7.3 HDF5 files are not supported)")
            order = "<" if header[126:128] == b"IM" else ">"
            while tag := file.read(8):
                if len(tag) < 8:
                    raise ValueError("truncated element tag")
                kind, size = struct.unpack(order + "II", tag)
                start = file.tell()
                if kind == _MI_COMPRESSED:
                    stream = zlib.decompressobj()
                    head = b""
                    while len(head) < _HEADER_BYTES and file.tell() < start + size:
                        chunk = file.read(min(65536, start + size - file.tell()))
                        head += stream.decompress(chunk, _HEADER_BYTES - len(head))
                        if stream.eof or not chunk:
                            break
                else:
                    head = tag + file.read(min(size, _HEADER_BYTES))
                if kind in (_MI_COMPRESSED, _MI_MATRIX):
                    entry = _matrix_size(head, order)
                    if entry is not None:
                        variables[entry[0]] = entry[1:]
                file.seek(start + size + (0 if kind == _MI_COMPRESSED else -size % 8))
    except (OSError, ValueError, struct.error, zlib.error) as error:
        raise DatasetError(f"{path}: not a readable MATLAB .mat file: {error}") from None
    return variables
