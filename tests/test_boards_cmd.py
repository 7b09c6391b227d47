"""The build / program / run commands through the mulfree command line."""

import gzip
import struct

import numpy as np
import pytest
from boards_qnets import make_qnet

import boards.host
from boards import protocol as p
from boards.board_model import BoardModel, FakeSerial
from golden_model.datasets.registry import load_dataset
from mulfree.cli import main


def digits_qnet(tmp_path, seed=2):
    qnet = make_qnet(sizes=(64, 12, 10), in_bits=5, seed=seed)
    path = tmp_path / f"digits{seed}.qnet.npz"
    qnet.save(path)
    return qnet, path


def test_run_streams_the_test_set_and_checks_every_answer(tmp_path, monkeypatch, capsys):
    qnet, path = digits_qnet(tmp_path)
    opened = []

    def fake_open(port, baud, timeout=0.5):
        opened.append((port, baud))
        return FakeSerial(BoardModel(qnet, clock_hz=30_000_000, cycles=210))

    monkeypatch.setattr(boards.host, "open_port", fake_open)
    code = main(["run", "--port", "/dev/ttyUSB1", "--model", str(path), "--dataset", "digits",
                 "--board", "icebreaker", "--limit", "25"])
    out = capsys.readouterr().out
    assert code == 0 and opened == [("/dev/ttyUSB1", 3_000_000)]
    dataset = load_dataset("digits")
    labels = dataset.y_test[:25]
    correct = int(np.sum(qnet.predict(dataset.x_test[:25]) == labels))
    assert f"accuracy    {correct / 25:.2%} ({correct}/25)" in out
    assert "mismatches  0 (board vs QNet.forward)" in out
    assert ("engine      142,857 images/s one at a time, from the board's cycle counts "
            "(210..210 cycles from first pixel to answer at 30 MHz") in out
    assert "images/s measured over the serial link (batches of 16, pipelined" in out


def test_run_bench_replays_the_last_batch_and_checks_it(tmp_path, monkeypatch, capsys):
    qnet, path = digits_qnet(tmp_path)
    model = BoardModel(qnet, clock_hz=30_000_000, cycles=200, max_batch=8)
    monkeypatch.setattr(boards.host, "open_port", lambda port, baud, timeout=0.5:
                        FakeSerial(model))
    code = main(["run", "--port", "/dev/ttyUSB1", "--model", str(path), "--dataset", "digits",
                 "--limit", "10", "--batch", "3", "--bench", "500"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "batches of 3, pipelined" in out
    assert ("bench       500 images replayed on the board in 100,000 cycles: 150,000 "
            "images/s of engine at 30 MHz; answers' checksum equal to the QNet's") in out
    assert len(model.held) == 1                     # the last batch: image 9 alone


@pytest.mark.parametrize("args, message", [
    (["--bench", "5"], "protocol version 2, which has no BENCH"),
    (["--batch", "2"], "--batch 2: the board (protocol version 2) takes 1 to 1 images"),
    (["--bench", "0"], "--bench 0: expected a number of images in 1..4294967295"),
])
def test_run_refuses_batch_or_bench_an_old_board_lacks_before_the_run(
        tmp_path, monkeypatch, capsys, args, message):
    qnet, path = digits_qnet(tmp_path)
    port = FakeSerial(BoardModel(qnet, version=2))
    monkeypatch.setattr(boards.host, "open_port", lambda *a, **k: port)
    code = main(["run", "--port", "/dev/ttyUSB1", "--model", str(path), "--dataset", "digits",
                 "--limit", "4", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    frames = p.FrameReader(p.REQUEST_SYNC).feed(bytes(port.written))
    assert {cmd for cmd, _ in frames} <= {p.CMD_INFO}    # no image was sent


def test_run_refuses_a_board_built_for_another_model(tmp_path, monkeypatch, capsys):
    built, _ = digits_qnet(tmp_path, seed=2)
    _, other_path = digits_qnet(tmp_path, seed=3)
    monkeypatch.setattr(boards.host, "open_port",
                        lambda port, baud, timeout=0.5: FakeSerial(BoardModel(built)))
    code = main(["run", "--port", "/dev/ttyUSB1", "--model", str(other_path),
                 "--dataset", "digits", "--limit", "3"])
    assert code == 2
    assert "the bitstream was built for QNet" in capsys.readouterr().err


def test_run_with_a_missing_port_is_one_line(tmp_path, capsys):
    _, path = digits_qnet(tmp_path)
    code = main(["run", "--port", str(tmp_path / "ttyNONE"), "--model", str(path),
                 "--dataset", "digits"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--port: cannot open" in err


def test_run_with_a_dataset_of_another_shape(tmp_path, capsys):
    qnet = make_qnet(sizes=(16, 4), in_bits=4)
    path = tmp_path / "small.qnet.npz"
    qnet.save(path)
    assert main(["run", "--port", "/dev/null", "--model", str(path), "--dataset", "digits"]) == 2
    assert "64 inputs per image, but the model expects 16" in capsys.readouterr().err


def test_run_needs_only_the_test_files_of_an_idx_dataset(tmp_path, monkeypatch, capsys):
    qnet = make_qnet(sizes=(784, 10), in_bits=8, seed=4)
    qnet.save(tmp_path / "m.qnet.npz")
    images = np.random.default_rng(5).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    for name, array in (("t10k-images-idx3-ubyte", images),
                        ("t10k-labels-idx1-ubyte", np.arange(3, dtype=np.uint8))):
        header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(header + array.tobytes()))
    monkeypatch.setattr(boards.host, "open_port",
                        lambda port, baud, timeout=0.5: FakeSerial(BoardModel(qnet)))
    code = main(["run", "--port", "/dev/ttyUSB1", "--model", str(tmp_path / "m.qnet.npz"),
                 "--dataset", "mnist", "--data-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    correct = int(np.sum(qnet.predict(images.reshape(3, 784)) == np.arange(3)))
    assert f"({correct}/3)" in out and "mismatches  0" in out


@pytest.mark.parametrize("board, option, runs", [
    # BENCH is opt-in
    ("icebreaker", "bench", [([], False), (["--bench"], True)]),
    ("ulx3s-85f", "in_lanes", [([], 1), (["--in-lanes", "4"], 4), (["--in-lanes", "64"], 64)]),
    # heap, then the static placer at the same seed when placement stalls
    ("icebreaker", "placers", [([], ["heap", "static"]), (["--placer", "static"], ["static"]),
                               (["--placer", "sa", "heap"], ["sa", "heap"])]),
])
def test_build_options_reach_the_build(tmp_path, monkeypatch, board, option, runs):
    import boards.build

    seen = []

    def fake_build(qnet, board, out, **kwargs):
        value = kwargs[option]
        seen.append(list(value) if isinstance(value, (list, tuple)) else value)
        return {"bitstream": str(tmp_path / "mulfree.bin")}

    monkeypatch.setattr(boards.build, "build_bitstream", fake_build)
    _, path = digits_qnet(tmp_path)
    for extra, _ in runs:
        assert main(["build", "--board", board, "--model", str(path),
                     "--out", str(tmp_path / "out"), *extra]) == 0
    assert seen == [expected for _, expected in runs]


@pytest.mark.parametrize("lanes, message", [
    ("0", "--in-lanes"),
    ("-4", "--in-lanes"),
    ("four", "--in-lanes"),
    ("65", "--in-lanes 65: expected 1 to 64 (the pixels of one image of this QNet) pixels "
           "per beat"),
])
def test_build_refuses_in_lanes_before_synthesis(tmp_path, monkeypatch, capsys, lanes,
                                                 message):
    import boards.build

    def never(*args, **kwargs):
        raise AssertionError("the build started before --in-lanes was checked")

    monkeypatch.setattr(boards.build, "build_bitstream", never)
    _, path = digits_qnet(tmp_path)
    assert main(["build", "--board", "ulx3s-85f", "--model", str(path), "--out",
                 str(tmp_path / "out"), "--in-lanes", lanes]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("mulfree build: error:") and err.count("\n") == 1


def test_build_refuses_in_lanes_a_convolution_cannot_take(tmp_path, monkeypatch, capsys):
    from qnet_conv_nets import digits_cnn

    import boards.build

    monkeypatch.setattr(boards.build, "build_bitstream", None)   # never reached
    path = tmp_path / "cnn.qnet.npz"
    digits_cnn(pool=True).save(path)
    assert main(["build", "--board", "ulx3s-85f", "--model", str(path), "--out",
                 str(tmp_path / "out"), "--in-lanes", "2"]) == 2
    err = capsys.readouterr().err
    assert ("--in-lanes 2: expected a divisor of the first convolution's 1 input channel(s)"
            in err) and err.count("\n") == 1


@pytest.mark.parametrize("out, message", [
    ("{file}", "--out: {file}: is a file; expected a folder"),
    ("{file}/board", "file.txt is a file, not a folder"),
    ("/proc/board", "--out: /proc/board: is under /proc"),
])
def test_build_refuses_a_bad_output_folder_before_synthesis(tmp_path, monkeypatch, capsys,
                                                            out, message):
    import boards.build

    def never(*args, **kwargs):
        raise AssertionError("synthesis started before --out was checked")

    monkeypatch.setattr(boards.build, "build_bitstream", never)
    _, path = digits_qnet(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    out = out.format(file=tmp_path / "file.txt")
    assert main(["build", "--board", "icebreaker", "--model", str(path), "--out", out]) == 2
    err = capsys.readouterr().err
    assert message.format(file=tmp_path / "file.txt") in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["build", "--board", "icebreakr", "--model", "m.npz"], "--board: unknown board"),
    (["build", "--board", "icebreaker", "--model", "missing.qnet.npz"], "no such file"),
    (["build", "--board", "icebreaker", "--model", "m.npz", "--clock", "0.5"], "--clock"),
    (["program", "--board", "ulx3s-85f", "--bitstream", "none.bit"], "does not exist"),
    (["build", "--board", "icebreaker", "--model", "m.npz", "--pnr-timeout", "nan"],
     "--pnr-timeout nan: expected a finite number of seconds in (0, 604800]"),
    (["build", "--board", "icebreaker", "--model", "m.npz", "--route-stall", "-1"],
     "--route-stall -1: expected a finite number of seconds in (0, 604800]"),
    (["build", "--board", "icebreaker", "--model", "m.npz", "--place-stall", "0"],
     "--place-stall 0: expected a finite number of seconds in (0, 604800]"),
    (["build", "--board", "icebreaker", "--model", "m.npz", "--placer", "annealing"],
     "--placer: invalid choice: 'annealing'"),
    (["build", "--board", "icebreaker", "--model", "m.npz", "--synth-timeout", "inf"],
     "--synth-timeout inf: expected a finite number of seconds in (0, 604800]"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_run_loads_the_weights_once_then_on_reload(tmp_path, monkeypatch, capsys):
    qnet, path = digits_qnet(tmp_path)
    model = BoardModel(qnet, folding=[(2, 8), (2, 3)], weight_store=["spram", "ram"])
    monkeypatch.setattr(boards.host, "open_port",
                        lambda port, baud, timeout=0.5: FakeSerial(model))
    argv = ["run", "--port", "/dev/ttyUSB1", "--model", str(path), "--dataset", "digits",
            "--limit", "5"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    total = model.load_map.total_slices
    # layer 0: 6 x 8 words of 16 two-bit weights (2 slices); layer 1: 5 x 4 words of 6 (1 slice)
    assert total == 48 * 2 + 20 * 1
    assert f"weights     {total} slices loaded in" in out
    assert "mismatches  0 (board vs QNet.forward)" in out
    assert model.wrong_slices() == []
    assert main(argv) == 0                 # loaded already: nothing is sent again
    assert "weights" not in capsys.readouterr().out
    assert main([*argv, "--reload"]) == 0
    assert f"weights     {total} slices loaded in" in capsys.readouterr().out


def test_run_reload_of_a_rom_bitstream_says_so(tmp_path, monkeypatch, capsys):
    qnet, path = digits_qnet(tmp_path)
    monkeypatch.setattr(boards.host, "open_port",
                        lambda port, baud, timeout=0.5: FakeSerial(BoardModel(qnet)))
    assert main(["run", "--port", "/dev/ttyUSB1", "--model", str(path), "--dataset", "digits",
                 "--limit", "2", "--reload"]) == 0
    assert "weights     built into the bitstream: nothing to load" in capsys.readouterr().out


def test_run_with_a_board_whose_folding_does_not_fit(tmp_path, monkeypatch, capsys):
    qnet, path = digits_qnet(tmp_path)
    model = BoardModel(qnet, folding=[(2, 8), (2, 3)], weight_store="ram")
    model.layers = (model.layers[0], p.LayerInfo(20, 3, "ram"))   # 20 PEs for 10 outputs
    monkeypatch.setattr(boards.host, "open_port",
                        lambda port, baud, timeout=0.5: FakeSerial(model))
    assert main(["run", "--port", "/dev/ttyUSB1", "--model", str(path), "--dataset", "digits",
                 "--limit", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "the bitstream's folding [(2, 8), (20, 3)] does not fit the model's layers" in err


def test_run_streams_a_cnn_test_set_and_checks_every_answer(tmp_path, monkeypatch, capsys):
    from qnet_conv_nets import digits_cnn

    qnet = digits_cnn(seed=3, stride=1, padding="same", pool=True)
    path = tmp_path / "cnn.qnet.npz"
    qnet.save(path)
    folding = [(2, 9), (1, 1), (3, 12), (1, 1), (5, 4)]
    model = BoardModel(qnet, clock_hz=30_000_000, cycles=500, folding=folding, version=2)
    monkeypatch.setattr(boards.host, "open_port", lambda port, baud, timeout=0.5:
                        FakeSerial(model))
    code = main(["run", "--port", "/dev/ttyUSB1", "--model", str(path), "--dataset", "digits",
                 "--limit", "20"])
    out = capsys.readouterr().out
    assert code == 0, out
    dataset = load_dataset("digits")
    correct = int(np.sum(qnet.predict(dataset.x_test[:20]) == dataset.y_test[:20]))
    assert f"accuracy    {correct / 20:.2%} ({correct}/20)" in out
    assert "mismatches  0 (board vs QNet.forward)" in out


def test_run_refuses_a_cnn_for_images_of_another_shape(tmp_path, capsys):
    from golden_model.qnet import InputSpec, QConv2D, QFlatten, QLayer, QNet

    zeros = np.zeros(2, dtype=np.int64)
    conv = QConv2D(weights=np.ones((2, 3, 3, 1), dtype=np.int64), bias=zeros, shift=zeros,
                   in_shape=(4, 16, 1))
    flat = QFlatten(in_shape=conv.out_shape)
    dense = QLayer(weights=np.ones((10, flat.out_shape[0]), dtype=np.int64),
                   bias=np.zeros(10, dtype=np.int64), shift=np.zeros(10, dtype=np.int64),
                   activation="linear")
    qnet = QNet(InputSpec(n_inputs=64, bits=5, dataset="digits", image_shape=(4, 16, 1)),
                [conv, flat, dense])
    path = tmp_path / "wide.qnet.npz"
    qnet.save(path)
    assert main(["run", "--port", "/dev/null", "--model", str(path), "--dataset", "digits"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert ("--dataset digits: images of shape (8, 8, 1) (height, width, channels), but the "
            "model's convolutions expect (4, 16, 1)") in err
