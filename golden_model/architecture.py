"""Convolutional architecture strings, e.g. ``c16k3-p2-c32k3-p2-128-10``.

Layers are joined by ``-``, in forward order, starting after the input image:

``c<F>k<K>[s<S>][v]``
    Convolution with ``F`` filters of ``K x K``, stride ``S`` (1 or 2, default
    1), ``same`` padding, or ``valid`` (no padding) with the ``v`` suffix.
``p<K>``
    ``K x K`` max pooling, stride ``K`` (a remainder row or column is dropped).
``<N>``
    Dense layer of ``N`` units; the feature maps are flattened (channels-last)
    before the first one. The last layer is dense and has one unit per class.

Convolutions and pools come first, dense layers last; at least one of each.

Members
-------
ConvSpec, PoolSpec, DenseSpec
    One parsed layer.
is_conv_architecture, parse_architecture, layer_shapes
"""

import math
import re
from dataclasses import dataclass

from .errors import MulfreeError

_CONV = re.compile(r"c(\d{1,6})k(\d{1,3})(?:s(\d{1,3}))?(v?)")
_POOL = re.compile(r"p(\d{1,3})")
_DENSE = re.compile(r"\d{1,9}")
SYNTAX = ("layers joined by '-': c<F>k<K>[s<S>][v] (convolution), p<K> (max pool), "
          "<N> (dense), e.g. c16k3-p2-c32k3-p2-128-10")


@dataclass(frozen=True)
class ConvSpec:
    filters: int
    kernel: int
    stride: int = 1
    padding: str = "same"


@dataclass(frozen=True)
class PoolSpec:
    size: int


@dataclass(frozen=True)
class DenseSpec:
    units: int


def is_conv_architecture(text):
    """Whether ``text`` names convolution or pooling layers (else it is a dense size list)."""
    return any(part[:1] in ("c", "p") for part in str(text).split("-"))


def parse_architecture(text, what="--arch"):
    """Parse an architecture string (see the module docstring).

    Returns
    -------
    tuple of ConvSpec, PoolSpec, DenseSpec

    Raises
    ------
    MulfreeError
        Naming the first bad part and the syntax.
    """
    specs = []
    for part in str(text).split("-"):
        if m := _CONV.fullmatch(part):
            filters, kernel = int(m[1]), int(m[2])
            stride = int(m[3]) if m[3] else 1
            if filters < 1 or kernel < 1 or stride not in (1, 2):
                raise MulfreeError(f"{what} {text!r}: {part!r} needs F >= 1 filters, a kernel "
                                   "K >= 1 and a stride S of 1 or 2")
            specs.append(ConvSpec(filters, kernel, stride, "valid" if m[4] else "same"))
        elif m := _POOL.fullmatch(part):
            if int(m[1]) < 1:
                raise MulfreeError(f"{what} {text!r}: {part!r}: expected a pool size >= 1")
            specs.append(PoolSpec(int(m[1])))
        elif _DENSE.fullmatch(part):
            if int(part) < 1:
                raise MulfreeError(f"{what} {text!r}: a dense layer of 0 units; expected >= 1")
            specs.append(DenseSpec(int(part)))
        else:
            raise MulfreeError(f"{what} {text!r}: cannot read {part[:20]!r}; expected {SYNTAX}")
    kinds = [isinstance(s, DenseSpec) for s in specs]
    if not isinstance(specs[0], ConvSpec) or not kinds[-1] or kinds != sorted(kinds):
        raise MulfreeError(f"{what} {text!r}: expected a convolution first, dense layers "
                           f"last and nothing but dense layers after the first one ({SYNTAX})")
    return tuple(specs)


def layer_shapes(specs, image_shape, what="--arch"):
    """Output shape of every layer on images of ``image_shape``.

    Parameters
    ----------
    specs : tuple
        From :func:`parse_architecture`.
    image_shape : tuple of int
        ``(H, W)`` or ``(H, W, C)``.

    Returns
    -------
    shapes : list of tuple
        ``(H, W, C)`` after each convolution or pool, ``(N,)`` after each dense layer.
    n_weights : int
        Weights in all (convolution kernels and dense matrices).

    Raises
    ------
    MulfreeError
        When a kernel or pool does not fit the map it gets.
    """
    from .conv2d import conv_geometry

    shape = tuple(int(d) for d in image_shape)
    if len(shape) == 2:
        shape += (1,)
    if len(shape) != 3:
        raise MulfreeError(f"{what}: convolutions need images of shape (H, W) or (H, W, C), "
                           f"got {shape}")
    shapes, n_weights = [], 0
    for k, spec in enumerate(specs):
        h, w, c = shape if len(shape) == 3 else (1, 1, shape[0])
        where = f"{what}: layer {k + 1}"
        if isinstance(spec, ConvSpec):
            try:
                h_out, _ = conv_geometry(h, spec.kernel, spec.stride, spec.padding)
                w_out, _ = conv_geometry(w, spec.kernel, spec.stride, spec.padding)
            except MulfreeError as error:
                raise MulfreeError(f"{where} ({h}x{w}x{c} in): {error}") from None
            n_weights += spec.kernel * spec.kernel * c * spec.filters
            shape = (h_out, w_out, spec.filters)
        elif isinstance(spec, PoolSpec):
            if spec.size > min(h, w):
                raise MulfreeError(f"{where}: a {spec.size}x{spec.size} pool on a {h}x{w} map; "
                                   f"expected a size from 1 to {min(h, w)}")
            shape = (h // spec.size, w // spec.size, c)
        else:
            n_weights += math.prod(shape) * spec.units
            shape = (spec.units,)
        shapes.append(shape)
    return shapes, n_weights
