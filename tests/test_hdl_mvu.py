import numpy as np
import pytest
from hdl_nets import digits_images, random_qnet, run_stream

from golden_model.qnet import pow2_encode
from hdl.layer_plan import plan_layer
from hdl.mvu import MVU


def _encode(values, plan):
    """Layer inputs as the raw element bits the MVU receives."""
    values = np.asarray(values, dtype=np.int64)
    if plan.in_pow2:
        sign, exponent = pow2_encode(values, plan.in_e_max)
        return (sign != 0) | ((sign < 0) << 1) | (exponent << 2)
    return values & ((1 << plan.element_width) - 1)


def _decode(raw, plan, next_pow2):
    raw = np.asarray(raw, dtype=np.int64)
    if plan.last:
        return raw
    if next_pow2:
        magnitude = np.where(raw & 1, 1 << (raw >> 2), 0)
        return np.where(raw & 2, -magnitude, magnitude)
    width = plan.out_element_width
    if plan.out_shape.signed:
        return np.where(raw >= 1 << (width - 1), raw - (1 << width), raw)
    return raw


def _run_layer(qnet, k, pe, simd, in_lanes, images, seed=0, in_flight=1, gap=0.2):
    plan = plan_layer(qnet, k, pe, simd, in_lanes, images=in_flight)
    trace = qnet.forward_trace(images)[k]
    beats = []
    for vector in _encode(trace["input"], plan):
        count = -(-plan.n_in // in_lanes)
        padded = np.zeros(count * in_lanes, dtype=np.int64)
        padded[:plan.n_in] = vector
        beats += [[int(v) for v in beat] for beat in padded.reshape(count, in_lanes)]
    dut = MVU(plan)
    words = plan.neuron_folds * len(images)
    got = run_stream(dut, beats, words, seed=seed, in_gap=gap, out_gap=gap)
    assert all(g is not None for g in got), "more output beats than expected"
    lanes = np.array([[int(g[p]) for p in range(pe)] for g in got])
    per_image = lanes.reshape(len(images), -1)[:, :plan.n_out]
    next_pow2 = not plan.last and qnet.layers[k].pow2
    return _decode(per_image, plan, next_pow2), trace["out"]


@pytest.mark.parametrize("pe,simd,in_lanes", [(1, 1, 1), (16, 64, 64), (3, 7, 5), (5, 2, 2)])
def test_first_layer_matches_trace(pe, simd, in_lanes):
    qnet = random_qnet(10, activations=["tlin"], out_bits=[5])
    got, want = _run_layer(qnet, 0, pe, simd, in_lanes, digits_images(2 if simd > 8 else 3))
    assert np.array_equal(got, want)


@pytest.mark.parametrize("pe,simd", [(1, 1), (4, 5), (10, 16)])
def test_layer_after_pow2_layer_matches_trace(pe, simd):
    qnet = random_qnet(11, sizes=(64, 16, 10), pow2=[True], e_max=[4], modes=["ternary", "binary"])
    got, want = _run_layer(qnet, 1, pe, simd, 3, digits_images(3, offset=5))
    assert np.array_equal(got, want)


def test_pow2_output_layer_codes():
    qnet = random_qnet(12, sizes=(64, 9, 10), pow2=[True], e_max=[2], activations=["tlin"])
    got, want = _run_layer(qnet, 0, 4, 8, 8, digits_images(2))
    assert np.array_equal(got, want)
    assert set(np.unique(np.abs(want))) <= {0, 1, 2, 4}


# -- images in flight: one weight word read for a group of B images -------------------------


@pytest.mark.parametrize("in_flight", [2, 3])
@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])  # a single image, whole groups, uneven tails
@pytest.mark.parametrize("pe,simd,in_lanes", [(3, 7, 5), (2, 8, 8), (4, 4, 1)])
def test_images_in_flight_match_trace(in_flight, count, pe, simd, in_lanes):
    # (3, 7, 5) regroups beats into words; the others write lanes in place.
    qnet = random_qnet(10, activations=["tlin"], out_bits=[5])
    got, want = _run_layer(qnet, 0, pe, simd, in_lanes, digits_images(count), seed=count,
                           in_flight=in_flight, gap=0.3)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("gap", [0.0, 0.5])
def test_images_in_flight_last_layer_and_pow2_input(gap):
    qnet = random_qnet(11, sizes=(64, 16, 10), pow2=[True], e_max=[4], modes=["ternary", "binary"])
    got, want = _run_layer(qnet, 1, 4, 5, 3, digits_images(5, offset=5), in_flight=3, gap=gap)
    assert np.array_equal(got, want)
