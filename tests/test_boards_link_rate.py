import pytest

from boards import protocol as p
from boards.link_rate import link_bound

MLP784 = p.Layout(n_inputs=784, in_bits=8, n_classes=10, z_bits=12)


def test_round_trip_of_a_784_pixel_image_at_1_mbaud():
    bound = link_bound(MLP784, 1_000_000)
    # request 5 + 784 bytes, answer 5 + 6 bytes, 10 bits each: 8 ms per image
    assert (bound.request_bytes, bound.reply_bytes, bound.framing_bytes) == (789, 11, 10)
    assert bound.images_per_s == pytest.approx(125.0)
    assert not bound.pipelined and bound.batch == 1
    # the engine's latency adds to every round trip: 5,307 images/s, 0.377 ms latency
    latency = 13568 / 36e6
    assert bound.end_to_end(5307, latency) == pytest.approx(1 / (0.008 + latency))
    # a latency shorter than one image's compute counts as that image's compute
    assert bound.end_to_end(1000, 0.0) == pytest.approx(1 / (0.008 + 0.001))
    assert bound.end_to_end(0) == 0.0


def test_batches_overlap_the_two_directions_and_the_engine():
    bound = link_bound(MLP784, 3_000_000, batch=16)
    # per image: 784 + (5 + 1 flags byte) / 16 in, 6 + 5 / 16 out; the busier way sets the pace
    assert bound.request_bytes == 784 + 6 / 16 and bound.reply_bytes == 6 + 5 / 16
    assert bound.images_per_s == pytest.approx(300_000 / (784 + 6 / 16))
    assert bound.end_to_end(5307, 1.0) == pytest.approx(bound.images_per_s)   # link-bound
    assert bound.end_to_end(100.0) == 100.0                                 # engine-bound


def test_long_answers_to_short_images_make_the_answers_the_bound():
    tiny = p.Layout(n_inputs=4, in_bits=8, n_classes=10, z_bits=12)
    bound = link_bound(tiny, 1_000_000, batch=4, logits=True)
    assert bound.answer_bytes == 6 + 10 * 2
    assert bound.images_per_s == pytest.approx(100_000 / (26 + 5 / 4))


def test_as_dict_rounds_and_names_the_bits_per_byte():
    figures = link_bound(MLP784, 1_000_000, batch=3).as_dict()
    assert figures["bits_per_byte"] == 10 and figures["framing_bytes"] == 3.667
    assert figures["images_per_s"] == round(100_000 / (784 + 2), 1)


@pytest.mark.parametrize("baud, batch, message", [(0, 1, "baud"), (9600, 0, "batch")])
def test_link_bound_rejects(baud, batch, message):
    with pytest.raises(ValueError, match=message):
        link_bound(MLP784, baud, batch)
