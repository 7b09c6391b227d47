"""User-facing errors.

Every error a user can cause with a bad file, path or argument is a
:class:`MulfreeError`; the command line prints its message (which names the
file or argument and what was expected) instead of a traceback.
"""


class MulfreeError(Exception):
    """Base of all errors caused by bad input (files, paths, arguments)."""


class DatasetError(MulfreeError):
    """A dataset is missing, malformed or not what the loader expected."""


class QNetFormatError(MulfreeError):
    """A QNet file or object does not meet the QNet contract.

    The message names the file (when there is one), the field and what was
    expected.
    """
