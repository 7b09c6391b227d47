import time

import numpy as np
import pytest
from boards_qnets import make_qnet, random_images

from boards import protocol as p
from boards.board_model import BoardModel, FakeSerial
from boards.host import (
    BoardClient,
    BoardTimeout,
    HostError,
    LoadError,
    ModelMismatch,
    WeightsNotLoaded,
    bench_board,
    load_weights,
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
    client = BoardClient(FakeSerial(BoardModel(make_qnet()), corrupt=flip_last), timeout=30)
    started = time.monotonic()
    with pytest.raises(HostError, match="damaged answer from the board .bad checksum. and "
                                        "nothing after it"):
        client.info()
    assert time.monotonic() - started < 5          # the idle line ends it, not the timeout


@pytest.mark.parametrize("noise", [
    b"\x5a\x01\x00\x01",            # a stray sync whose header claims a 256-byte INFO
    b"\x00\x5a\xe3\x00\x00\x99",    # a stray sync with an error status and a bad checksum
    b"\x5a\x5a\x5a",
], ids=["long-header", "error-status", "sync-run"])
def test_line_noise_with_sync_bytes_before_the_answer_is_skipped(noise):
    qnet = make_qnet()
    client = BoardClient(FakeSerial(BoardModel(qnet), corrupt=lambda d: noise + d),
                         timeout=0.5)
    assert client.attach(qnet).n_inputs == 16
    result = client.infer(np.arange(16) % 16, logits=True)
    assert result.cls == qnet.forward(np.arange(16) % 16)[1][0]


@pytest.mark.parametrize("version", [2, 3])
def test_wrong_answers_are_listed_as_mismatches(version):
    qnet = make_qnet()
    images = random_images(qnet, 6)
    model = BoardModel(qnet, version=version, max_batch=4)
    layout = p.Layout.of(qnet)

    def wrong_class(data):
        frames = p.FrameReader(p.RESPONSE_SYNC).feed(data)
        status, payload = frames[0]
        if status not in (p.CMD_INFER_LOGITS, p.CMD_INFER_BATCH):
            return data
        results = layout.decode_results(payload, True, len(payload) // layout.result_bytes(True))
        bad = b"".join(layout.encode_result((r.cls + 1) % qnet.n_classes, 0, r.logits)
                       for r in results)
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


# -- weight loading -----------------------------------------------------------------

LOAD_FOLDING = [(2, 4), (2, 2)]


def loadable_model(qnet=None, **kwargs):
    return BoardModel(qnet or make_qnet(), folding=LOAD_FOLDING, weight_store="ram", **kwargs)


class DroppingSerial(FakeSerial):
    """Damages (``"flip"``) or loses (``"drop"``) the requests whose numbers are in ``faults``."""

    def __init__(self, model, faults):
        super().__init__(model)
        self.faults = dict(faults)
        self.requests = 0

    def write(self, data):
        fault = self.faults.get(self.requests)
        self.requests += 1
        if fault == "drop":
            return len(data)
        if fault == "flip":
            data = bytes(data[:-2]) + bytes([data[-2] ^ 0x01, data[-1]])
        return super().write(data)


def test_load_then_infer_is_bit_exact():
    qnet = make_qnet()
    model = loadable_model(qnet, cycles=40)
    client = BoardClient(FakeSerial(model))
    images = random_images(qnet, 8)
    with pytest.raises(WeightsNotLoaded, match="needs its weights loaded"):
        run_test_set(client, qnet, images, np.zeros(8, dtype=int))
    bars = []

    class Bar:
        def __init__(self, total):
            self.total, self.done, self.closed = total, 0, False
            bars.append(self)

        def update(self, n):
            self.done += n

        def close(self):
            self.closed = True

    load = load_weights(client, qnet, progress=Bar)
    assert model.wrong_slices() == [] and model.loaded
    assert len(model.slices) == load.slices == model.load_map.total_slices == 16 + 8
    # two LOAD chunks (one per layer) and LOAD_DONE: 5 bytes of frame around each payload
    assert (load.chunks, load.resent) == (3, 0)
    assert load.bytes_sent == (5 + 4 + 2 * 16) + (5 + 4 + 2 * 8) + 5
    assert (bars[0].total, bars[0].done, bars[0].closed) == (24, 24, True)
    assert "24 slices loaded" in load.summary()
    _, classes = qnet.forward(images)
    report = run_test_set(client, qnet, images, classes)
    assert report.mismatches == [] and report.n_correct == 8 and report.cycles == [40] * 8


def test_a_region_longer_than_a_chunk_is_split():
    qnet = make_qnet(sizes=(64, 40, 4))
    model = BoardModel(qnet, weight_store=["ram", "rom"])        # PE = SIMD = 1: 2560 words
    load = load_weights(BoardClient(FakeSerial(model)), qnet)
    assert load.slices == 2560 and load.chunks == 3 + 1          # 1024 + 1024 + 512, DONE
    assert model.wrong_slices() == []


@pytest.mark.parametrize("fault", ["flip", "drop"])
def test_a_damaged_or_lost_chunk_is_resent(fault):
    qnet = make_qnet()
    model = loadable_model(qnet)
    # request 0 is INFO; 1 is the first LOAD chunk; 3 is LOAD_DONE
    port = DroppingSerial(model, {1: fault, 3: fault})
    load = load_weights(BoardClient(port, timeout=0.05), qnet)
    assert (load.chunks, load.resent) == (3, 2)
    assert model.wrong_slices() == [] and model.loaded


def test_a_chunk_that_keeps_failing_is_a_clear_error():
    qnet = make_qnet()
    port = DroppingSerial(loadable_model(qnet), {k: "flip" for k in range(1, 5)})
    with pytest.raises(LoadError, match=r"LOAD of 16 slices at address 0 failed 4 times "
                                        r"\(last: bad checksum\); check the cable"):
        load_weights(BoardClient(port, timeout=0.05), qnet)


def test_a_rejected_chunk_is_not_retried():
    qnet = make_qnet()
    model = loadable_model(qnet)
    model.load_map.layer_width = 0      # a board whose address space ends before layer 1
    port = DroppingSerial(model, {})
    with pytest.raises(LoadError, match=r"rejected the LOAD of 8 slices at address 32 "
                                        r"\(load address out of range\)"):
        load_weights(BoardClient(port), qnet)
    assert port.requests == 3                   # INFO, two LOADs


def test_a_board_that_forgets_the_load_is_an_error():
    class Forgetful(BoardModel):
        def _execute(self, cmd, payload, bad_address):
            out = super()._execute(cmd, payload, bad_address)
            self.loaded = False
            return out

    qnet = make_qnet()
    model = Forgetful(qnet, folding=LOAD_FOLDING, weight_store="spram")
    with pytest.raises(LoadError, match="does not report its weights loaded after LOAD_DONE"):
        load_weights(BoardClient(FakeSerial(model)), qnet)


@pytest.mark.parametrize("sizes, message", [
    ((16, 1, 4), r"folding \[\(2, 4\), \(2, 2\)\] does not fit the model's layers"),
    ((16, 8, 6, 4), "the bitstream reports 2 layers, the model has 3"),
])
def test_a_qnet_whose_layers_do_not_fit_the_board(sizes, message):
    client = BoardClient(FakeSerial(loadable_model()))
    with pytest.raises(ModelMismatch, match=message):
        load_weights(client, make_qnet(sizes=sizes))


def test_loading_a_rom_bitstream_is_refused():
    client = BoardClient(FakeSerial(BoardModel(make_qnet())))
    with pytest.raises(LoadError, match="weights built in; there is nothing to load"):
        load_weights(client, make_qnet())


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), 0, -1, "soon", None])
def test_a_timeout_that_would_hang_or_never_wait_is_refused(timeout):
    # NaN never compares past the deadline: the request loop would spin forever.
    with pytest.raises(HostError, match=r"--timeout .*: expected a finite number of seconds > 0"):
        BoardClient(FakeSerial(None), timeout=timeout)
    assert BoardClient(FakeSerial(None), timeout=1e-3).timeout == 1e-3


def _batch_sizes(written, layout):
    frames = p.FrameReader(p.REQUEST_SYNC).feed(bytes(written))
    return [(len(payload) - 1) // layout.image_bytes for cmd, payload in frames
            if cmd == p.CMD_INFER_BATCH]


def test_batched_run_gives_the_answers_of_one_image_per_request():
    qnet = make_qnet()
    layout = p.Layout.of(qnet)
    images = random_images(qnet, 10, seed=6)
    labels = qnet.forward(images)[1]
    new = FakeSerial(BoardModel(qnet, clock_hz=30_000_000, cycles=300, max_batch=4))
    batched = run_test_set(BoardClient(new), qnet, images, labels)
    old = FakeSerial(BoardModel(qnet, clock_hz=30_000_000, cycles=300, version=2))
    single = run_test_set(BoardClient(old), qnet, images, labels)
    assert _batch_sizes(new.written, layout) == [4, 4, 2]
    assert _batch_sizes(old.written, layout) == []               # INFER_LOGITS, one each
    for report, batch, version in ((batched, 4, 3), (single, 1, 2)):
        assert report.n_correct == 10 and report.mismatches == []
        assert report.cycles == [300] * 10 and report.compute_images_per_second == 100_000
        assert (report.batch, report.version) == (batch, version)
    assert "batches of 4, pipelined, protocol version 3" in batched.summary()
    assert "one image per round trip, protocol version 2" in single.summary()
    assert "engine      100,000 images/s one at a time, from the board's cycle" in single.summary()


class _OrderedPort(FakeSerial):
    """Logs writes and reads in order, answering like the board model."""

    def __init__(self, model):
        super().__init__(model)
        self.events = []

    def write(self, data):
        self.events.append("write")
        return super().write(data)

    def read(self, size=1):
        out = super().read(size)
        if out:
            self.events.append("read")
        return out


def test_two_batches_are_in_flight_before_the_first_answer_is_read():
    qnet = make_qnet()
    port = _OrderedPort(BoardModel(qnet, max_batch=2))
    client = BoardClient(port)
    client.attach(qnet)
    port.events.clear()
    images = random_images(qnet, 6)
    results = list(client.infer_stream(images, logits=False))
    assert [r.cls for r in results] == qnet.forward(images)[1].tolist()
    writes = [k for k, event in enumerate(port.events) if event == "write"]
    assert len(writes) == 3 and writes[1] < port.events.index("read")
    assert client.held.tolist() == images[4:].tolist()


def test_batch_size_defaults_to_the_board_and_refuses_more():
    qnet = make_qnet()
    client = BoardClient(FakeSerial(BoardModel(qnet, max_batch=5)))
    with pytest.raises(HostError, match="call attach"):
        client.batch_size()
    client.attach(qnet)
    assert client.batch_size() == 5 and client.batch_size(3) == 3
    with pytest.raises(HostError, match="--batch 6: the board .protocol version 3. takes "
                                        "1 to 5 images"):
        client.batch_size(6)
    old = BoardClient(FakeSerial(BoardModel(qnet, version=2)))
    old.attach(qnet)
    with pytest.raises(HostError, match="version 2. takes 1 to 1 images"):
        old.batch_size(2)


def test_a_rejected_batch_names_the_reason():
    qnet = make_qnet()
    model = BoardModel(qnet, weight_store="ram", max_batch=4)
    client = BoardClient(FakeSerial(model))
    client.attach(qnet)
    with pytest.raises(HostError, match="rejected a batch of 2 images .weights not loaded"):
        list(client.infer_stream(random_images(qnet, 2)))


def test_bench_checks_the_answers_checksum_and_reports_the_engine_rate():
    qnet = make_qnet()
    images = random_images(qnet, 5, seed=8)
    client = BoardClient(FakeSerial(BoardModel(qnet, clock_hz=30_000_000, cycles=250,
                                               max_batch=2)))
    with pytest.raises(HostError, match="send some first"):
        bench_board(client, qnet, 10)
    run_test_set(client, qnet, images, qnet.forward(images)[1])
    bench = bench_board(client, qnet, 1000)                     # replays image 4 alone
    assert (bench.count, bench.cycles, bench.ok) == (1000, 250_000, True)
    assert bench.images_per_second == 120_000
    assert "1,000 images replayed on the board in 250,000 cycles: 120,000 images/s" \
        in bench.summary()
    assert "checksum equal to the QNet's" in bench.summary()


def test_bench_with_wrong_answers_is_a_mismatch():
    qnet = make_qnet()
    model = BoardModel(qnet, cycles=4)

    def flip_checksum(data):
        status, payload = p.FrameReader(p.RESPONSE_SYNC).feed(data)[0]
        if status != p.CMD_BENCH:
            return data
        result = p.BenchResult.decode(payload)
        wrong = p.BenchResult(result.count, result.cycles, result.checksum ^ 1)
        return p.encode_frame(p.RESPONSE_SYNC, status, wrong.encode())

    client = BoardClient(FakeSerial(model, corrupt=flip_checksum))
    run_test_set(client, qnet, random_images(qnet, 3), np.zeros(3, dtype=int))
    bench = bench_board(client, qnet, 7)
    assert not bench.ok and "MISMATCH" in bench.summary()


def test_bench_on_a_version_2_board_is_refused_clearly():
    qnet = make_qnet()
    client = BoardClient(FakeSerial(BoardModel(qnet, version=2)))
    run_test_set(client, qnet, random_images(qnet, 2), np.zeros(2, dtype=int))
    with pytest.raises(HostError, match="protocol version 2, which has no BENCH; rebuild"):
        bench_board(client, qnet, 3)


def test_run_test_set_of_a_cnn_sends_its_image_channels_last_and_matches_forward():
    from qnet_conv_nets import conv_qnet

    qnet = conv_qnet(seed=2)                    # a 5x4x2 image: 40 values, channels-last
    images = random_images(qnet, 6, seed=5)
    port = FakeSerial(BoardModel(qnet, clock_hz=1_000_000, cycles=90, version=2))
    report = run_test_set(BoardClient(port), qnet, images, qnet.predict(images))
    assert report.n_correct == 6 and report.mismatches == [] and report.cycles == [90] * 6
    frames = p.FrameReader(p.REQUEST_SYNC).feed(bytes(port.written))
    sent = [payload for cmd, payload in frames if cmd == p.CMD_INFER_LOGITS]
    assert [list(payload) for payload in sent] == images.tolist()


def test_load_weights_of_a_cnn_with_spram_convolutions_then_answers_equal_forward():
    """The host rebuilds the load map from INFO's folding per QNet layer; the model
    answers an image only when every slice the CNN needs holds its value."""
    from qnet_conv_nets import digits_cnn

    qnet = digits_cnn(seed=5, stride=1, padding="same", pool=True)
    folding = [(2, 9), (1, 1), (3, 12), (1, 1), (5, 4)]
    model = BoardModel(qnet, folding=folding, weight_store=["spram", "rom", "spram", "rom",
                                                            "rom"])
    client = BoardClient(FakeSerial(model))
    info = client.attach(qnet)
    assert info.needs_load and not info.loaded
    assert info.stores == ["spram", "rom", "spram", "rom", "rom"]
    report = load_weights(client, qnet, info)
    assert report.slices == model.load_map.total_slices > 0
    assert model.wrong_slices() == [] and model.load_map.layers == [0, 2]
    images = random_images(qnet, 4, seed=8)
    result = run_test_set(client, qnet, images, qnet.predict(images))
    assert result.mismatches == [] and result.n_correct == 4


def test_the_summary_compares_the_measured_rate_with_the_link_bound():
    from boards.link_rate import link_bound

    qnet = make_qnet()
    images = random_images(qnet, 8, seed=2)
    model = BoardModel(qnet, clock_hz=30_000_000, cycles=300, max_batch=8)
    report = run_test_set(BoardClient(FakeSerial(model)), qnet, images,
                          qnet.forward(images)[1], baud=3_000_000)
    bound = link_bound(p.Layout.of(qnet), 3_000_000, batch=8, logits=True)
    assert report.batch == 8 and report.link == bound
    assert (f"link bound  {bound.images_per_s:,.1f} images/s at 3,000,000 baud"
            in report.summary())
    without = run_test_set(BoardClient(FakeSerial(model)), qnet, images,
                           qnet.forward(images)[1])
    assert without.link is None and "link bound" not in without.summary()


def test_bench_on_a_batched_board_built_without_it_says_how_to_rebuild():
    qnet = make_qnet()
    client = BoardClient(FakeSerial(BoardModel(qnet, max_batch=4, bench=False)))
    client.attach(qnet)
    assert client.board_info.version == 3
    list(client.infer_stream(random_images(qnet, 4), logits=False))
    with pytest.raises(HostError, match="built without BENCH; rebuild it with 'mulfree "
                                        "build --bench'"):
        bench_board(client, qnet, 3)
