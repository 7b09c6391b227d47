"""Read a ``.npz`` archive from an untrusted file without trusting the sizes it declares.

``numpy.load`` allocates what a member's ``.npy`` header declares before it
reads any data, and decompresses what the zip says is there: a file of a few
hundred bytes can ask for gigabytes. :class:`NpzArchive` instead opens a
member in two steps. :meth:`NpzArchive.open_member` reads only the zip
directory and the member's small ``.npy`` header, refusing a member whose
declared uncompressed size is larger than the caller says it can need; the
caller then checks the dtype and shape against what it expects, and only
then :meth:`NpyMember.read` reads exactly the bytes that shape needs (never
a pickle: object arrays are refused outright).

Every failure is an :class:`ArchiveError` whose message names the member;
``member`` is None when the file as a whole is not a readable archive.
"""

import math
import zipfile
from dataclasses import dataclass

import numpy as np

__all__ = ["ArchiveError", "NpzArchive", "NpyMember", "NPY_HEADER_MAX"]

#: Largest ``.npy`` header accepted (magic, length field and the header dict).
NPY_HEADER_MAX = 10_016
_NPY_MAGIC = b"\x93NUMPY"
_NPY_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


class ArchiveError(Exception):
    """A ``.npz`` archive or one of its members cannot be read as expected.

    Members
    -------
    member : str or None
        The member's name (without ``.npy``), or None for the whole file.
    """

    def __init__(self, message, member=None):
        super().__init__(message)
        self.member = member


class _Counting:
    """A read-only stream that counts the bytes read through it."""

    def __init__(self, raw):
        self.raw, self.count = raw, 0

    def read(self, size):
        data = self.raw.read(size)
        self.count += len(data)
        return data


@dataclass
class NpyMember:
    """One member whose ``.npy`` header has been read (its data not yet).

    Members
    -------
    name : str
    dtype : numpy.dtype
    shape : tuple of int
    fortran_order : bool
    """

    name: str
    dtype: np.dtype
    shape: tuple
    fortran_order: bool
    _stream: object
    _data_bytes: int

    @property
    def nbytes(self):
        """Bytes the declared shape and dtype need (a Python integer: never overflows)."""
        return math.prod(self.shape) * self.dtype.itemsize

    def read(self):
        """Read the data: exactly :attr:`nbytes`, checked against the zip's sizes and CRC.

        Returns
        -------
        numpy.ndarray
            A writable array of :attr:`dtype` and :attr:`shape`.
        """
        label = f"array '{self.name}'"
        if self._data_bytes != self.nbytes:
            raise ArchiveError(
                f"{label}: holds {self._data_bytes} bytes of data; its shape {self.shape} "
                f"of {self.dtype} needs {self.nbytes}", self.name)
        try:
            data = bytearray(self._stream.read(self.nbytes))
            trailing = self._stream.read(1)  # reaches the end, so the CRC is checked
        except Exception as error:  # zipfile and zlib raise many kinds on damaged data
            raise ArchiveError(f"{label}: not a readable .npy member "
                               f"({type(error).__name__}: {error})", self.name) from None
        if len(data) != self.nbytes or trailing:
            raise ArchiveError(f"{label}: its data is truncated or overlong", self.name)
        count = math.prod(self.shape)
        array = np.frombuffer(data, dtype=self.dtype, count=count)
        if self.fortran_order:
            return array.reshape(self.shape[::-1]).T
        return array.reshape(self.shape)


class NpzArchive:
    """A ``.npz`` file opened for bounded reading; use as a context manager.

    Parameters
    ----------
    path : Path
        An existing regular file.
    max_file_bytes : int
        Largest file accepted.
    max_members : int
        Most members accepted.

    Raises
    ------
    ArchiveError
        The file is too large, not a zip archive (for instance a single
        ``.npy`` array), or holds a member that is not an ``.npy`` array.
    """

    def __init__(self, path, *, max_file_bytes, max_members):
        size = path.stat().st_size
        if size > max_file_bytes:
            raise ArchiveError(f"{size} bytes; at most {max_file_bytes} accepted")
        with open(path, "rb") as handle:
            if handle.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
                raise ArchiveError("a single .npy array; expected a .npz archive of named arrays")
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except Exception as error:  # zipfile raises many kinds on bad bytes
            raise ArchiveError(f"{type(error).__name__}: {error}") from None
        self._streams = []
        try:
            self.members = self._index(infos, max_members)
        except ArchiveError:
            self._zip.close()
            raise

    @staticmethod
    def _index(infos, max_members):
        if len(infos) > max_members:
            raise ArchiveError(f"{len(infos)} members; at most {max_members} accepted")
        members = {}
        for info in infos:
            name = info.filename
            if not name.endswith(".npy"):
                raise ArchiveError(f"member {name[:80]!r}: expected only .npy arrays, "
                                   "got a raw file", name)
            key = name.removesuffix(".npy")
            if key in members:
                raise ArchiveError(f"array '{key}': appears twice", key)
            members[key] = info
        return members

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for stream in self._streams:
            stream.close()
        self._zip.close()

    def names(self):
        """Member names without ``.npy``."""
        return set(self.members)

    def declared_size(self, name):
        """Uncompressed size the zip directory declares for a member, in bytes."""
        return self.members[name].file_size

    def open_member(self, name, max_data_bytes):
        """Read a member's ``.npy`` header, refusing it if it declares too much.

        Parameters
        ----------
        name : str
            Member name without ``.npy``.
        max_data_bytes : int
            Most data bytes the caller can need from this member; a member
            whose zip entry declares more (beyond a ``.npy`` header) is refused
            before anything is decompressed.

        Returns
        -------
        NpyMember
        """
        label = f"array '{name}'"
        info = self.members[name]
        if info.file_size > max_data_bytes + NPY_HEADER_MAX:
            raise ArchiveError(
                f"{label}: declares {info.file_size} bytes uncompressed; at most "
                f"{max_data_bytes} bytes of data expected", name)
        try:
            raw = self._zip.open(info)
            self._streams.append(raw)
            stream = _Counting(raw)
            version = np.lib.format.read_magic(stream)
            if version not in _NPY_READERS:
                raise ValueError(f".npy format version {version}; expected 1.0 or 2.0")
            shape, fortran_order, dtype = _NPY_READERS[version](stream)
        except Exception as error:  # zipfile, zlib and the .npy header parser
            raise ArchiveError(f"{label}: not a readable .npy member "
                               f"({type(error).__name__}: {error})", name) from None
        if dtype.hasobject:
            raise ArchiveError(
                f"{label}: dtype {dtype}; Object arrays cannot be loaded (they would need "
                "pickle), expected numbers", name)
        return NpyMember(name, dtype, tuple(shape), bool(fortran_order), stream,
                         info.file_size - stream.count)
