"""Files written whole or not at all, and output paths checked before the work.

Every file the project writes goes through :func:`atomic_output` (or one of
its helpers): the data goes to a temporary file in the destination's folder,
is flushed to disk, and only then replaces the destination in one rename. A
full disk or any other failure leaves the previous file byte-identical, removes
the temporary file, and is reported as one :class:`OutputFileError` naming the
path and the system's reason.

:func:`check_output_file` and :func:`check_output_dir` refuse a path that
cannot be written (a folder where a file is expected, a file where a folder is
expected, a parent that cannot be created or written, a kernel filesystem)
before a command starts training, simulating or placing and routing.

Members
-------
OutputFileError
    A file or folder could not be written, or an output path is unusable.
atomic_output
    Context manager: a handle on a temporary file that replaces ``path`` on success.
write_bytes, write_text, write_json
    Whole-file writers.
save_figure
    A matplotlib figure saved atomically.
copy_file
    A copy that replaces its destination atomically (bitstreams).
check_output_file, check_output_dir
    Refuse unusable output paths before any work.
"""

import contextlib
import errno
import json
import os
import secrets
import shutil
import stat
from pathlib import Path

from .errors import MulfreeError

__all__ = ["OutputFileError", "atomic_output", "check_output_dir", "check_output_file",
           "copy_file", "save_figure", "write_bytes", "write_json", "write_text"]

#: Kernel filesystems: a file there is never a user's output.
KERNEL_FILESYSTEMS = (Path("/proc"), Path("/sys"))


class OutputFileError(MulfreeError):
    """A file or folder could not be written, or an output path is unusable."""


def _label(path, what):
    return f"{what}: {path}" if what else str(path)


def _reason(error):
    return error.strerror or str(error) if isinstance(error, OSError) else str(error)


def _create_temporary(folder, name):
    """A new, empty, uniquely named file in ``folder``: ``(fd, path)``.

    Not :func:`tempfile.mkstemp`: its files are 0600, while a new output should
    get the usual ``0666 & ~umask``, which ``os.open`` applies (without
    changing the process's umask, which other threads share).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = Path(folder) / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(folder))


def _sync_folder(folder):
    # Makes the rename itself durable; not every filesystem allows it, and the
    # data is already safe, so a failure here is not the user's problem.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path, mode="wb", what=None, encoding="utf-8"):
    """A handle on a temporary file that replaces ``path`` when the block ends.

    Parameters
    ----------
    path : str or Path
        Destination; missing parent folders are created. A symbolic link is
        followed (its target is replaced, the link stays).
    mode : {"wb", "w"}
        Binary or text handle.
    what : str, optional
        How the user named this output (e.g. ``"--out"``), for messages.
    encoding : str
        Text mode only.

    Yields
    ------
    file object

    Raises
    ------
    OutputFileError
        When the folder cannot be created or anything in writing, flushing or
        renaming fails (e.g. a full disk); ``path`` is then unchanged and the
        temporary file is gone. Other exceptions raised in the block also
        remove the temporary file and propagate unchanged.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode: expected 'wb' or 'w', got {mode!r}")
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    label = _label(path, what)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputFileError(f"{label}: cannot create the folder {target.parent} "
                              f"({_reason(error)})") from None
    if target.exists() and not target.is_file():
        kind = "a folder" if target.is_dir() else "not a regular file"
        raise OutputFileError(f"{label}: is {kind}; expected a file path")
    try:
        fd, tmp = _create_temporary(target.parent, target.name)
    except OSError as error:
        raise OutputFileError(f"{label}: cannot write in {target.parent} "
                              f"({_reason(error)})") from None
    try:
        try:
            if target.exists():
                os.fchmod(fd, stat.S_IMODE(target.stat().st_mode))
            handle = os.fdopen(fd, mode, **({"encoding": encoding} if mode == "w" else {}))
        except BaseException:
            os.close(fd)
            raise
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise OutputFileError(f"{label}: cannot write ({_reason(error)}); "
                              "the previous file, if any, is unchanged") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def write_bytes(path, data, what=None):
    """Write ``data`` to ``path`` atomically; returns ``Path(path)``."""
    with atomic_output(path, "wb", what=what) as handle:
        handle.write(data)
    return Path(path)


def write_text(path, text, what=None):
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``Path(path)``."""
    with atomic_output(path, "w", what=what) as handle:
        handle.write(text)
    return Path(path)


def write_json(path, value, what=None, indent=2, sort_keys=False, default=None):
    """Write ``value`` as JSON (and a final newline) atomically; returns ``Path(path)``.

    The document is encoded before the file is opened, so a value that is not
    JSON-serialisable leaves no trace either.
    """
    text = json.dumps(value, indent=indent, sort_keys=sort_keys, default=default) + "\n"
    return write_text(path, text, what=what)


def save_figure(fig, path, what=None, **savefig_options):
    """``fig.savefig`` into a temporary file that then replaces ``path``.

    The format comes from the suffix of ``path`` (``png`` if it has none): the
    temporary file's own name must not decide it.
    """
    path = Path(path)
    fmt = savefig_options.pop("format", None) or path.suffix.lstrip(".").lower() or "png"
    with atomic_output(path, "wb", what=what) as handle:
        fig.savefig(handle, format=fmt, **savefig_options)
    return path


def copy_file(source, path, what=None):
    """Copy ``source`` to ``path``, replacing ``path`` atomically; returns ``Path(path)``."""
    try:
        reader = open(source, "rb")
    except OSError as error:
        raise OutputFileError(f"{_label(path, what)}: cannot read {source} "
                              f"({_reason(error)})") from None
    with reader, atomic_output(path, "wb", what=what) as handle:
        shutil.copyfileobj(reader, handle)
    return Path(path)


def _on_kernel_filesystem(path):
    resolved = Path(os.path.realpath(path))
    return next((root for root in KERNEL_FILESYSTEMS
                 if resolved == root or root in resolved.parents), None)


def _check_folder_chain(folder, label):
    """Refuse a folder that is a file, or whose nearest existing ancestor is unwritable."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    # Also catches a symlink loop or a component that cannot be searched.
    if not existing.exists():
        raise OutputFileError(f"{label}: no existing folder above it")
    if not existing.is_dir():
        raise OutputFileError(f"{label}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is not writable" if existing == folder else \
            f"cannot be created (the folder {existing} is not writable)"
        raise OutputFileError(f"{label}: {folder} {what}")


def check_output_file(path, what):
    """Refuse, before any work, a path where a file cannot be written.

    Nothing is created. Refused: an existing folder or non-regular file (a
    device, a pipe), a path under ``/proc`` or ``/sys``, a parent that is a
    file or whose nearest existing folder is not writable.

    Parameters
    ----------
    path : str or Path
    what : str
        The option as the user typed it (e.g. ``"--out"``), for the message.

    Returns
    -------
    Path

    Raises
    ------
    OutputFileError
    """
    path = Path(path)
    label = _label(path, what)
    root = _on_kernel_filesystem(path)
    if root is not None:
        raise OutputFileError(f"{label}: is under {root}, a kernel filesystem; "
                              "expected a path on disk")
    if path.is_dir():
        raise OutputFileError(f"{label}: is a folder; expected a file path")
    if path.exists() and not path.is_file():
        raise OutputFileError(f"{label}: exists and is not a regular file")
    _check_folder_chain(path.parent, label)
    return path


def check_output_dir(path, what):
    """Refuse, before any work, a path where a folder of outputs cannot be made.

    Nothing is created. Refused: an existing file, a path under ``/proc`` or
    ``/sys``, a folder (or its nearest existing ancestor) that is not writable,
    an ancestor that is a file.

    Parameters
    ----------
    path : str or Path
    what : str
        The option as the user typed it (e.g. ``"--out-dir"``), for the message.

    Returns
    -------
    Path

    Raises
    ------
    OutputFileError
    """
    path = Path(path)
    label = _label(path, what)
    root = _on_kernel_filesystem(path)
    if root is not None:
        raise OutputFileError(f"{label}: is under {root}, a kernel filesystem; "
                              "expected a folder on disk")
    if path.exists() and not path.is_dir():
        raise OutputFileError(f"{label}: is a file; expected a folder")
    _check_folder_chain(path, label)
    return path
