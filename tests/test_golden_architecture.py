"""Convolutional architecture strings: parsing, shapes, and clear errors."""

import pytest

from golden_model.architecture import (
    ConvSpec,
    DenseSpec,
    PoolSpec,
    is_conv_architecture,
    layer_shapes,
    parse_architecture,
)
from golden_model.errors import MulfreeError


def test_parse_and_shapes():
    specs = parse_architecture("c16k3-p2-c32k5s2v-p2-128-10")
    assert specs == (ConvSpec(16, 3), PoolSpec(2), ConvSpec(32, 5, 2, "valid"), PoolSpec(2),
                     DenseSpec(128), DenseSpec(10))
    shapes, weights = layer_shapes(specs, (28, 28))
    assert shapes == [(28, 28, 16), (14, 14, 16), (5, 5, 32), (2, 2, 32), (128,), (10,)]
    assert weights == 9 * 16 + 25 * 16 * 32 + 128 * 128 + 128 * 10


@pytest.mark.parametrize(("text", "conv"), [
    ("c8k3-10", True), ("p2-10", True), ("64-128-10", False), ("784-10", False)])
def test_is_conv_architecture(text, conv):
    assert is_conv_architecture(text) is conv


@pytest.mark.parametrize(("text", "message"), [
    ("c16k3-x-10", "cannot read 'x'"), ("c16k3s3-10", "stride S of 1 or 2"),
    ("c0k3-10", "F >= 1"), ("c16k3", "dense layers last"), ("128-c16k3-10", "convolution first"),
    ("c16k3-128-p2-10", "nothing but dense"), ("c16k3-p0-10", "pool size >= 1"),
    ("c16k3-0", "0 units"), ("c16k3--10", "cannot read ''"),
])
def test_bad_strings(text, message):
    with pytest.raises(MulfreeError, match=message) as info:
        parse_architecture(text)
    assert f"--arch {text!r}" in str(info.value)


@pytest.mark.parametrize(("text", "shape", "message"), [
    ("c4k9v-10", (8, 8), "layer 1 \\(8x8x1 in\\).*does not fit"),
    ("c4k3-p4-p4-10", (8, 8, 1), "layer 3: a 4x4 pool on a 2x2 map"),
    ("c4k3-10", (64,), "images of shape"),
])
def test_shapes_that_do_not_fit(text, shape, message):
    with pytest.raises(MulfreeError, match=message):
        layer_shapes(parse_architecture(text), shape)
