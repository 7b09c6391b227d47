import numpy as np
import pytest
from boards_qnets import make_qnet, random_images

from boards import protocol as p
from boards.board_model import BoardModel, FakeSerial
from boards.host import (
    BoardClient,
    BoardTimeout,
    HostError,
    ModelMismatch,
    open_port,
    run_test_set,
)


def test_run_test_set_matches_qnet_and_counts_accuracy():
    qnet = make_qnet()
    images = random_images(qnet, 12)
    _, classes = qnet.forward(images)
    labels = classes.copy()
    labels[:3] = (labels[:3] + 1) % qnet.n_classes  # three wrong labels
    client = BoardClient(FakeSerial(BoardModel(qnet, clock_hz=30_000_000, cycles=300)))
    report = run_test_set(client, qnet, images, labels)
    assert report.n_images == 12 and report.n_correct == 9
    assert report.mismatches == []
    assert report.cycles == [300] * 12
    assert report.compute_images_per_second == pytest.approx(100_000)
    assert "accuracy    75.00% (9/12)" in report.summary()


def test_mismatching_model_hash_is_refused():
    built, given = make_qnet(seed=0), make_qnet(seed=1)
    client = BoardClient(FakeSerial(BoardModel(built)))
    with pytest.raises(ModelMismatch, match="rebuild the bitstream"):
        run_test_set(client, given, random_images(given, 2), np.zeros(2, dtype=int))


def test_silent_board_times_out():
    client = BoardClient(FakeSerial(None), timeout=0.05, name="/dev/ttyFAKE")
    with pytest.raises(BoardTimeout, match="/dev/ttyFAKE: no answer"):
        client.info()


def test_truncated_answer_times_out_as_partial():
    client = BoardClient(FakeSerial(BoardModel(make_qnet()), corrupt=lambda d: d[:5]),
                         timeout=0.05)
    with pytest.raises(BoardTimeout, match="partial answer"):
        client.info()


def test_damaged_answer_is_reported():
    def flip_last(data):
        return data[:-1] + bytes([data[-1] ^ 0x55])
    client = BoardClient(FakeSerial(BoardModel(make_qnet()), corrupt=flip_last), timeout=0.05)
    with pytest.raises(HostError, match="bad checksum"):
        client.info()


def test_wrong_answers_are_listed_as_mismatches():
    qnet = make_qnet()
    images = random_images(qnet, 6)
    model = BoardModel(qnet)
    layout = p.Layout.of(qnet)

    def wrong_class(data):
        frames = p.FrameReader(p.RESPONSE_SYNC).feed(data)
        status, payload = frames[0]
        if status != p.CMD_INFER_LOGITS:
            return data
        result = layout.decode_result(payload, True)
        bad = layout.encode_result((result.cls + 1) % qnet.n_classes, 0, result.logits)
        return p.encode_frame(p.RESPONSE_SYNC, status, bad)

    client = BoardClient(FakeSerial(model, corrupt=wrong_class))
    report = run_test_set(client, qnet, images, np.zeros(6, dtype=int))
    assert [m[0] for m in report.mismatches] == list(range(6))


def test_rejected_request_names_the_reason():
    client = BoardClient(FakeSerial(BoardModel(make_qnet())))
    client.layout = p.Layout(n_inputs=3, in_bits=4, n_classes=4, z_bits=8)  # wrong length
    with pytest.raises(HostError, match="wrong payload length"):
        client.infer([1, 2, 3])


def test_missing_port_is_a_clear_error(tmp_path):
    with pytest.raises(HostError, match="--port: cannot open .*ttyUSB1 for an iCEBreaker"):
        open_port(str(tmp_path / "no-such-port"), 115200)
