"""The board model's weight loading: LOAD, LOAD_DONE, the loaded flag, NOT_LOADED."""

import numpy as np
import pytest
from boards_qnets import make_qnet, random_images

from boards import protocol as p
from boards.board_model import BoardModel, WrongWeights

FOLDING = [(2, 4), (2, 2)]


def loadable_model(store=("ram", "spram")):
    return BoardModel(make_qnet(), folding=FOLDING, weight_store=list(store), cycles=9)


def request(cmd, payload=b""):
    return p.encode_frame(p.REQUEST_SYNC, cmd, payload)


def answers(model, data):
    return p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(data) + model.idle())


def load_all(model):
    for region in model.load_map.regions():
        assert answers(model, request(p.CMD_LOAD, p.encode_load(region.start, region.values))) \
            == [(p.CMD_LOAD, b"")]
    assert answers(model, request(p.CMD_LOAD_DONE)) == [(p.CMD_LOAD_DONE, b"")]


def info(model):
    [(status, payload)] = answers(model, request(p.CMD_INFO))
    assert status == p.CMD_INFO
    return p.BoardInfo.decode(payload)


def infer(model, image):
    layout = p.Layout.of(model.qnet)
    return answers(model, request(p.CMD_INFER_LOGITS, layout.encode_image(image)))


def test_info_reports_folding_stores_and_flags():
    model = loadable_model()
    first = info(model)
    assert first.folding == FOLDING and first.stores == ["ram", "spram"]
    assert first.needs_load and not first.loaded
    load_all(model)
    assert info(model).loaded


def test_infer_before_load_done_is_not_loaded_then_exact_after():
    model = loadable_model()
    image = random_images(model.qnet, 1)[0]
    assert infer(model, image) == [(p.STATUS_NOT_LOADED, b"")]
    for region in model.load_map.regions():
        answers(model, request(p.CMD_LOAD, p.encode_load(region.start, region.values)))
    assert infer(model, image) == [(p.STATUS_NOT_LOADED, b"")]   # every slice, but no DONE
    assert answers(model, request(p.CMD_LOAD_DONE)) == [(p.CMD_LOAD_DONE, b"")]
    [(status, payload)] = infer(model, image)
    result = p.Layout.of(model.qnet).decode_result(payload, True)
    logits, classes = model.qnet.forward(image[None, :])
    assert status == p.CMD_INFER_LOGITS and result.cycles == 9
    assert result.cls == classes[0] and result.logits.tolist() == logits[0].tolist()


def test_slices_written_equal_the_load_map():
    model = loadable_model()
    load_all(model)
    assert model.wrong_slices() == []
    expected = {region.start + k: int(v) for region in model.load_map.regions()
                for k, v in enumerate(region.values)}
    assert model.slices == expected and len(expected) == model.load_map.total_slices == 24


@pytest.mark.parametrize("payload", [
    b"\x00\x00\x00\x00",                       # an address without a slice
    b"\x00\x00\x00\x00\x01",                   # half a slice
    b"\x00\x00\x00\x00\x01\x00\x02",           # odd length
    bytes(4 + 2 * (p.MAX_LOAD_SLICES + 1)),    # one slice too many
])
def test_load_of_a_bad_length_is_rejected_and_writes_nothing(payload):
    model = loadable_model()
    load_all(model)
    assert answers(model, request(p.CMD_LOAD, payload)) == [(p.STATUS_BAD_LENGTH, b"")]
    assert info(model).loaded                  # the header was refused: nothing changed
    assert model.wrong_slices() == []


def test_bad_checksum_then_resend_of_the_same_chunk():
    model = loadable_model()
    region = model.load_map.regions()[0]
    good = request(p.CMD_LOAD, p.encode_load(region.start, region.values))
    damaged = bytearray(good)
    damaged[11] ^= 0x40             # slice 1, high byte: the checksum no longer holds
    assert answers(model, bytes(damaged)) == [(p.STATUS_BAD_CHECKSUM, b"")]
    # The slices were written as they came, the damaged one too.
    assert model.slices[region.start + 1] == int(region.values[1]) ^ 0x4000
    assert answers(model, good) == [(p.CMD_LOAD, b"")]
    assert model.slices[region.start + 1] == int(region.values[1])


def test_load_after_done_clears_loaded_even_if_cut_short():
    model = loadable_model()
    load_all(model)
    region = model.load_map.regions()[1]
    assert answers(model, request(p.CMD_LOAD, p.encode_load(region.start, region.values))) \
        == [(p.CMD_LOAD, b"")]
    assert not info(model).loaded
    assert infer(model, np.zeros(16, dtype=int)) == [(p.STATUS_NOT_LOADED, b"")]
    answers(model, request(p.CMD_LOAD_DONE))
    assert info(model).loaded
    cut = request(p.CMD_LOAD, p.encode_load(region.start, region.values))[:9]
    assert answers(model, cut) == [(p.STATUS_TIMEOUT, b"")]
    assert not info(model).loaded


def test_load_past_the_address_space_is_bad_address():
    model = loadable_model()
    top = 1 << model.load_map.address_width       # 64
    assert answers(model, request(p.CMD_LOAD, p.encode_load(top - 2, [7, 8, 9]))) == [
        (p.STATUS_BAD_ADDRESS, b"")]
    assert model.slices == {top - 2: 7, top - 1: 8}
    assert answers(model, request(p.CMD_LOAD, p.encode_load(1 << 31, [1]))) == [
        (p.STATUS_BAD_ADDRESS, b"")]
    assert len(model.slices) == 2


def test_wrong_weights_raise_naming_the_address():
    model = loadable_model()
    load_all(model)
    region = model.load_map.regions()[1]
    answers(model, request(p.CMD_LOAD, p.encode_load(region.start + 3,
                                                     [int(region.values[3]) ^ 1])))
    answers(model, request(p.CMD_LOAD_DONE))
    with pytest.raises(WrongWeights, match=f"1 wrong weight slices; the first at load address "
                                           f"{region.start + 3}"):
        infer(model, np.zeros(16, dtype=int))


def test_a_rom_bitstream_has_no_load_commands():
    model = BoardModel(make_qnet(), folding=FOLDING)
    assert model.load_map is None and info(model).loaded and not info(model).needs_load
    assert answers(model, request(p.CMD_LOAD, p.encode_load(0, [1]))) == [
        (p.STATUS_BAD_COMMAND, b"")]
    assert answers(model, request(p.CMD_LOAD_DONE)) == [(p.STATUS_BAD_COMMAND, b"")]
    assert infer(model, np.zeros(16, dtype=int))[0][0] == p.CMD_INFER_LOGITS


def test_only_loadable_layers_take_slices():
    model = loadable_model(store=("rom", "ram"))
    assert [r.layer for r in model.load_map.regions()] == [1]
    assert model.load_map.total_slices == 8
    load_all(model)
    assert len(model.slices) == 8 and info(model).loaded


def _frames(model, data):
    return p.FrameReader(p.RESPONSE_SYNC).feed(model.feed(data) + model.idle())


def test_batch_answers_every_image_like_qnet_forward():
    qnet = make_qnet()
    model = BoardModel(qnet, cycles=9, max_batch=4)
    layout = p.Layout.of(qnet)
    images = random_images(qnet, 4, seed=3)
    [(status, payload)] = _frames(model, request(p.CMD_INFER_BATCH,
                                                 layout.encode_batch(images, logits=True)))
    assert status == p.CMD_INFER_BATCH
    logits, classes = qnet.forward(images)
    results = layout.decode_results(payload, True, 4)
    assert [r.cls for r in results] == classes.tolist()
    assert [r.logits.tolist() for r in results] == logits.tolist()
    assert {r.cycles for r in results} == {9}
    assert model.held.tolist() == images.tolist()


def test_batch_past_max_batch_is_a_bad_length_and_v2_has_no_batch():
    qnet = make_qnet()
    layout = p.Layout.of(qnet)
    images = random_images(qnet, 3)
    frame = request(p.CMD_INFER_BATCH, layout.encode_batch(images, logits=False))
    assert _frames(BoardModel(qnet, max_batch=2), frame) == [(p.STATUS_BAD_LENGTH, b"")]
    old = BoardModel(qnet, version=2)
    assert _frames(old, frame) == [(p.STATUS_BAD_COMMAND, b"")]
    assert _frames(old, request(p.CMD_BENCH, p.encode_bench(1))) == [
        (p.STATUS_BAD_COMMAND, b"")]
    assert p.BoardInfo.decode(_frames(old, request(p.CMD_INFO))[0][1]).version == 2


def test_bench_replays_the_last_images_sent():
    qnet = make_qnet()
    model = BoardModel(qnet, cycles=9)
    layout = p.Layout.of(qnet)
    bench = request(p.CMD_BENCH, p.encode_bench(5))
    assert _frames(model, bench) == [(p.STATUS_NO_IMAGES, b"")]      # nothing held yet
    images = random_images(qnet, 3, seed=5)
    _frames(model, request(p.CMD_INFER_BATCH, layout.encode_batch(images[:2], False)))
    _frames(model, request(p.CMD_INFER, layout.encode_image(images[2])))
    [(status, payload)] = _frames(model, bench)
    assert status == p.CMD_BENCH
    result = p.BenchResult.decode(payload)
    logits, classes = qnet.forward(images[2:])                        # the last request's
    answers = [layout.answer_bytes(classes[0], logits[0])] * 5
    assert result == p.BenchResult(5, 45, p.answer_checksum(answers))


def test_bench_needs_the_weights_loaded():
    model = loadable_model()
    layout = p.Layout.of(model.qnet)
    model.held = random_images(model.qnet, 1)
    assert _frames(model, request(p.CMD_BENCH, p.encode_bench(1))) == [
        (p.STATUS_NOT_LOADED, b"")]
    assert layout.n_inputs == 16


def test_a_model_without_bench_takes_batches_and_refuses_bench():
    qnet = make_qnet()
    layout = p.Layout.of(qnet)
    model = BoardModel(qnet, max_batch=3, bench=False)
    images = np.zeros((3, layout.n_inputs), dtype=np.int64)
    reply = model.feed(p.encode_frame(p.REQUEST_SYNC, p.CMD_INFER_BATCH,
                                      layout.encode_batch(images, logits=False)))
    [(status, payload)] = p.FrameReader(p.RESPONSE_SYNC).feed(reply)
    assert status == p.CMD_INFER_BATCH and len(layout.decode_results(payload, False, 3)) == 3
    bench = model.feed(p.encode_frame(p.REQUEST_SYNC, p.CMD_BENCH, p.encode_bench(2)))
    assert bench == b"" and model.idle() == p.encode_frame(p.RESPONSE_SYNC,
                                                           p.STATUS_BAD_COMMAND)
    assert BoardModel(qnet, max_batch=3).feed(p.encode_frame(
        p.REQUEST_SYNC, p.CMD_BENCH, p.encode_bench(2))) == p.encode_frame(
        p.RESPONSE_SYNC, p.STATUS_NO_IMAGES)
