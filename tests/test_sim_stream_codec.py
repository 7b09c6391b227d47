import numpy as np
import pytest

from sim.stream_codec import (
    StreamFormat,
    beats_to_hex,
    class_bits,
    decode_outputs,
    decode_payload_ints,
    encode_beats,
    encode_payload_ints,
    hex_to_bits,
    read_responses,
    write_stimulus,
)


def test_class_bits_bounds():
    assert [class_bits(c) for c in (1, 2, 3, 4, 5, 10, 16, 17)] == [1, 1, 2, 2, 3, 4, 4, 5]


def test_beats_pack_lanes_low_first_and_zero_pad_the_last_beat():
    fmt = StreamFormat(n_inputs=5, bits=5, in_lanes=3, n_classes=10, z_bits=8)
    images = np.array([[1, 2, 3, 31, 17]])
    ints = encode_payload_ints(images, fmt)
    assert fmt.beats_per_image == 2 and len(ints) == 2
    assert ints[0] == 1 | (2 << 5) | (3 << 10)
    assert ints[1] == 31 | (17 << 5)      # padding lane is zero


def test_hex_round_trip_wider_than_64_bits():
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2, size=(20, 131)).astype(np.uint8)
    assert np.array_equal(hex_to_bits(beats_to_hex(bits), 131), bits)


def test_decode_outputs_signed_logits_at_their_offsets():
    fmt = StreamFormat(n_inputs=4, bits=2, in_lanes=1, n_classes=3, z_bits=9)
    logits = np.array([[-256, 255, -1], [0, 1, -2]])
    classes = np.array([1, 0])
    ints = []
    for c, row in zip(classes, logits, strict=True):
        value = int(c)
        for k, v in enumerate(row):
            value |= (int(v) & 0x1FF) << (fmt.class_bits + 9 * k)
        ints.append(value)
    got_classes, got_logits = decode_payload_ints(ints, fmt)
    assert got_classes.tolist() == [1, 0]
    assert np.array_equal(got_logits, logits)
    assert fmt.out_width == 2 + 27


def test_undriven_output_bits_raise():
    with pytest.raises(ValueError, match="x/z"):
        hex_to_bits(["0x1"], 8)


def test_stimulus_file_and_responses_parse(tmp_path):
    fmt = StreamFormat(n_inputs=3, bits=4, in_lanes=2, n_classes=2, z_bits=4)
    images = np.array([[1, 2, 3], [15, 0, 7]])
    path = write_stimulus(tmp_path, images, fmt)
    lines = path.read_text().split()
    assert lines[0] == "4"                       # 2 beats per image, hex count
    assert lines[1:] == ["21", "03", "0f", "07"]
    (tmp_path / "mulfree_responses.txt").write_text(
        "i 3\no 20 3f\ni 21\no 40 04\ne 40\n")
    responses = read_responses(tmp_path, fmt)
    assert responses.in_cycles.tolist() == [3, 21]
    assert responses.out_cycles.tolist() == [20, 40]
    assert responses.classes.tolist() == [1, 0]
    # 0x3f = cls 1, logit0 = 0b1111 = -1, logit1 = 0b0001 = 1; 0x04 = logit0 2.
    assert responses.logits.tolist() == [[-1, 1], [2, 0]]
    assert responses.end_cycle == 40
    bits = encode_beats(images, fmt)
    assert decode_outputs(np.zeros((0, fmt.out_width), np.uint8), fmt)[1].shape == (0, 2)
    assert bits.shape == (4, 8)
