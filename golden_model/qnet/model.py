"""The QNet itself: a validated list of integer layers and its golden forward."""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden_model.errors import QNetFormatError
from golden_model.output_files import atomic_output

from .codes import arithmetic_shift, pow2_decode, pow2_encode
from .layers import InputSpec, QConv2D, QFlatten, QMaxPool2D, validate
from .widths import compute_widths


@dataclass(eq=False)
class QNet:
    """An integer-only network; validated on construction.

    Parameters
    ----------
    input : InputSpec
    layers : list of QLayer, QConv2D, QMaxPool2D, QFlatten
        In forward order; layers on maps come first (the input is then the
        ``input.image_shape`` image, channels-last), a flatten turns the map
        into a vector, and the last layer is a dense :class:`QLayer` that
        produces the logits.
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
            Per layer, int64 arrays of shape (batch, values): ``input`` (what
            the layer received), ``acc``, ``z``, ``y`` (saturated activation;
            equals ``z`` for the last layer), ``out`` (what is handed on) and,
            for power-of-two layers, ``sign`` and ``exponent``. Maps are
            flattened channels-last (a convolution's ``acc`` has
            ``H_out * W_out * C_out`` values); a pool or flatten has only
            ``input``, ``y`` and ``out``.
        """
        a = self._check_input(x)
        trace = []
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            if isinstance(layer, QMaxPool2D):
                out = max_pool(a, layer.in_shape, layer.size)
                step = {"input": a, "y": out, "out": out}
            elif isinstance(layer, QFlatten):
                step = {"input": a, "y": a, "out": a}
            else:
                if isinstance(layer, QConv2D):
                    acc = conv_accumulate(a, layer)
                else:
                    acc = a @ layer.weights.astype(np.int64).T
                step = _requantize(layer, a, acc, k == last)
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


def _requantize(layer, a, acc, last):
    """``z = (acc + b) >> s``, then activation, saturation and the code, per unit or channel.

    ``acc`` is ``(batch, positions * n_out)`` with the unit fastest, so the
    per-unit arrays broadcast over a convolution's positions by tiling.
    """
    repeat = acc.shape[1] // layer.n_out
    bias, shift = layer.bias.astype(np.int64), layer.shift.astype(np.int64)
    z = arithmetic_shift(acc + np.tile(bias, repeat), np.tile(shift, repeat))
    step = {"input": a, "acc": acc, "z": z}
    if last:
        step["y"] = step["out"] = z
        return step
    y = layer.activate(z)
    step["y"] = y
    if layer.pow2:
        sign, exponent = pow2_encode(y, layer.e_max)
        step["sign"], step["exponent"] = sign, exponent
        step["out"] = pow2_decode(sign, exponent)
    else:
        step["out"] = y
    return step


#: Largest |sum| a float64 product accumulates exactly.
_FLOAT_EXACT = 1 << 53


def conv_accumulate(a, layer):
    """The convolution's ``acc``, ``(batch, H_out * W_out * C_out)``, exact.

    im2col (``sliding_window_view``) and one matrix product; in float64
    (BLAS) when every partial sum is below ``2**53`` and so exact, else in
    int64.
    """
    from golden_model.conv2d import im2col

    batch = len(a)
    maps = a.reshape((batch,) + layer.in_shape)
    cols = im2col(maps, layer.kernel, layer.stride, layer.pads, layer.pad_value.astype(np.int64))
    matrix = layer.matrix
    peak = max(int(np.abs(cols).max(initial=0)), 1) * matrix.shape[1]
    if peak < _FLOAT_EXACT:
        acc = np.rint(cols.astype(np.float64) @ matrix.T.astype(np.float64)).astype(np.int64)
    else:
        acc = cols @ matrix.T
    return acc.reshape(batch, -1)


def max_pool(a, in_shape, size):
    """Maximum over ``size x size`` windows, stride ``size``, of flattened maps."""
    h, w, c = in_shape
    h_out, w_out = h // size, w // size
    maps = a.reshape((len(a),) + tuple(in_shape))[:, :h_out * size, :w_out * size]
    windows = maps.reshape(len(a), h_out, size, w_out, size, c)
    return windows.max(axis=(2, 4)).reshape(len(a), -1)
