"""The QNet itself: a validated list of integer layers and its golden forward."""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden_model.errors import QNetFormatError
from golden_model.output_files import atomic_output

from .codes import arithmetic_shift, pow2_decode, pow2_encode
from .layers import InputSpec, validate
from .widths import compute_widths


@dataclass(eq=False)
class QNet:
    """An integer-only network; validated on construction.

    Parameters
    ----------
    input : InputSpec
    layers : list of QLayer
        The last layer produces the logits.
    meta : dict
        Free-form JSON-serialisable information (training config, accuracy,
        quantization report).

    Raises
    ------
    QNetFormatError
        If any field breaks the QNet contract; the message names the field.
    """

    input: InputSpec
    layers: list
    meta: dict = field(default_factory=dict)
    source: str = field(default="", repr=False)

    def __post_init__(self):
        self.layers = list(self.layers)
        validate(self)
        self.widths = compute_widths(self)

    # -- semantics ---------------------------------------------------------

    @property
    def n_classes(self):
        return self.layers[-1].n_out

    def forward_trace(self, x):
        """Integer forward with every intermediate.

        Parameters
        ----------
        x : array_like of int, shape (n_inputs,) or (batch, n_inputs)

        Returns
        -------
        list of dict
            Per layer, int64 arrays of shape (batch, n_out): ``input`` (what
            the layer received), ``acc``, ``z``, ``y`` (saturated activation;
            equals ``z`` for the last layer), ``out`` (what is handed on) and,
            for power-of-two layers, ``sign`` and ``exponent``.
        """
        a = self._check_input(x)
        trace = []
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            w = layer.weights.astype(np.int64)
            acc = a @ w.T
            z = arithmetic_shift(acc + layer.bias.astype(np.int64), layer.shift)
            step = {"input": a, "acc": acc, "z": z}
            if k == last:
                step["y"] = step["out"] = z
            else:
                y = layer.activate(z)
                step["y"] = y
                if layer.pow2:
                    sign, exponent = pow2_encode(y, layer.e_max)
                    step["sign"], step["exponent"] = sign, exponent
                    step["out"] = pow2_decode(sign, exponent)
                else:
                    step["out"] = y
            trace.append(step)
            a = step["out"]
        return trace

    def forward(self, x):
        """Integer forward: the golden reference.

        Parameters
        ----------
        x : array_like of int, shape (n_inputs,) or (batch, n_inputs)
            Raw unsigned pixels.

        Returns
        -------
        logits : ndarray of int64, shape (batch, n_classes)
        classes : ndarray of int64, shape (batch,)
            Argmax of the logits, lowest index on ties.
        """
        logits = self.forward_trace(x)[-1]["out"]
        return logits, np.argmax(logits, axis=1).astype(np.int64)

    def predict(self, x):
        """Classes only (see :meth:`forward`)."""
        return self.forward(x)[1]

    def _check_input(self, x):
        a = np.asarray(x)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != self.input.n_inputs:
            raise QNetFormatError(
                f"input: expected shape (batch, {self.input.n_inputs}), got {np.shape(x)}")
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise QNetFormatError(f"input: expected integer pixels, got dtype {a.dtype}")
        a = a.astype(np.int64)
        if a.size and (a.min() < 0 or a.max() >= (1 << self.input.bits)):
            raise QNetFormatError(
                f"input: pixels must be in [0, {(1 << self.input.bits) - 1}] "
                f"({self.input.bits} bits), got [{a.min()}, {a.max()}]")
        return a

    # -- identity and file format -----------------------------------------

    def header(self):
        """The JSON header as a dict (what :meth:`save` writes)."""
        from .file_format import header
        return header(self)

    def arrays(self):
        """The integer arrays (what :meth:`save` writes), by name."""
        from .file_format import arrays
        return arrays(self)

    def fingerprint(self):
        """SHA-256 (hex) of everything that defines the integer function.

        ``meta`` is left out, so re-saving with other notes keeps the hash.
        """
        header = self.header()
        header.pop("meta")
        digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
        for name, array in sorted(self.arrays().items()):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def save(self, path):
        """Write a ``.qnet.npz`` file atomically (a failed write leaves no file).

        Parameters
        ----------
        path : str or Path
            Missing parent folders are created.

        Raises
        ------
        OutputFileError
            When the file cannot be written (e.g. a full disk); a previous
            file at ``path`` is then unchanged.
        """
        header = json.dumps(self.header(), sort_keys=True).encode()
        arrays = {"header": np.frombuffer(header, dtype=np.uint8), **self.arrays()}
        with atomic_output(path, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path):
        """Read and validate a ``.qnet.npz`` file.

        Raises
        ------
        QNetFormatError
            Naming the file, the field and what was expected. Nothing is
            returned unless everything validates.
        """
        from .file_format import load

        path = Path(path)
        try:
            return load(path)
        except QNetFormatError as error:
            if str(path) in str(error):
                raise
            raise QNetFormatError(f"{path}: {error}") from None
