import errno
import json

import pytest
from hdl_nets import random_qnet

from hdl.cmd_generate import parse_folding
from hdl.errors import HardwareGenerationError
from mulfree.cli import main


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.qnet.npz"
    random_qnet(1).save(path)
    return path


def test_generate_verilog_rtlil_and_report(model, tmp_path, capsys):
    out = tmp_path / "build" / "accel.v"
    rtlil = tmp_path / "build" / "accel.il"
    code = main(["generate", str(model), "--out", str(out), "--rtlil", str(rtlil),
                 "--folding", "4:8,2:4", "--in-lanes", "8"])
    assert code == 0
    assert "module mulfree_accel(" in out.read_text()
    assert "module \\mulfree_accel" in rtlil.read_text()
    report = json.loads((tmp_path / "build" / "accel.estimate.json").read_text())
    assert report["folding"] == [[4, 8], [2, 4]]
    assert report["cycles_per_image"] == 32
    assert "32 cycles/image" in capsys.readouterr().out


def test_generate_auto_folding(model, tmp_path):
    out = tmp_path / "accel.v"
    assert main(["generate", str(model), "--out", str(out), "--folding", "auto",
                 "--in-lanes", "8", "--target-cycles", "40"]) == 0
    report = json.loads((tmp_path / "accel.estimate.json").read_text())
    assert report["cycles_per_image"] <= 40


def test_generate_spram_weights(model, tmp_path):
    out = tmp_path / "accel.v"
    assert main(["generate", str(model), "--out", str(out), "--folding", "2:8,2:4",
                 "--weight-store", "spram,rom"]) == 0
    text = out.read_text()
    assert text.count("SB_SPRAM256KA ") == 2   # 16 ternary lanes packed in 4 bytes: 2 slices
    assert "input [" in text and " wload;" in text and "input weights_ready;" in text
    report = json.loads((tmp_path / "accel.estimate.json").read_text())
    assert report["weight_store"] == ["spram", "rom"]
    assert report["totals"]["spram_blocks"] == 2


def one_line_error(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_full_disk_keeps_the_previous_verilog(model, tmp_path, capsys, monkeypatch):
    from golden_model import output_files

    out = tmp_path / "accel.v"
    out.write_text("module previous_accel; endmodule\n")

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output_files.os, "fsync", disk_full)
    assert main(["generate", str(model), "--out", str(out)]) == 2
    assert "No space left on device" in one_line_error(capsys)
    assert out.read_text() == "module previous_accel; endmodule\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accel.v", "model.qnet.npz"]


@pytest.mark.parametrize("option, path, message", [
    ("--out", "{tmp}", "is a folder"),
    ("--out", "{model}/sub/accel.v", "is a file, not a folder"),
    ("--out", "/proc/accel.v", "under /proc"),
    ("--rtlil", "/proc/accel.il", "under /proc"),
    ("--rtlil", "{tmp}", "is a folder"),
    ("--report", "{model}/r.json", "is a file, not a folder"),
    ("--rtlil", "{tmp}/a.v", "expected different files"),
])
def test_bad_output_paths_refused_before_generating(model, tmp_path, capsys, monkeypatch,
                                                   option, path, message):
    import hdl.export

    def never(*args, **kwargs):
        raise AssertionError("the accelerator was built before the output paths were checked")

    monkeypatch.setattr(hdl.export, "build_accelerator", never)
    argv = ["generate", str(model), "--out", str(tmp_path / "a.v")]
    argv += [option, path.format(tmp=tmp_path, model=model)]
    assert main(argv) == 2
    err = one_line_error(capsys)
    assert option in err and message in err


@pytest.mark.parametrize("argv,message", [
    (["--weight-store", "flash"], "--weight-store: expected rom, ram, spram"),
    (["--weight-store", "ram,ram,ram"], "weight_store: expected one of"),
    (["--folding", "99:1,1:1"], "layer 0: pe"),
    (["--folding", "4x8"], "--folding: expected"),
    (["--in-lanes", "0"], "--in-lanes 0: expected an integer >= 1"),
])
def test_bad_arguments_exit_2_with_one_line(model, tmp_path, capsys, argv, message):
    code = main(["generate", str(model), "--out", str(tmp_path / "a.v"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_model_exits_2(tmp_path, capsys):
    assert main(["generate", str(tmp_path / "nope.qnet.npz"), "--out",
                 str(tmp_path / "a.v")]) == 2
    assert "nope.qnet.npz" in capsys.readouterr().err


def test_parse_folding():
    assert parse_folding("none") is None
    assert parse_folding("auto") == "auto"
    assert parse_folding("1:2,3:4") == [(1, 2), (3, 4)]
    with pytest.raises(HardwareGenerationError):
        parse_folding("1:2:3")


def test_generate_images_in_flight(model, tmp_path, capsys):
    out = tmp_path / "accel.v"
    assert main(["generate", str(model), "--out", str(out), "--folding", "4:8,2:4",
                 "--in-lanes", "8", "--images", "2"]) == 0
    report = json.loads((tmp_path / "accel.estimate.json").read_text())
    assert report["images"] == 2 and report["cycles_per_image"] == 16
    assert "tree1_3" in out.read_text()  # image 1's tree of PE lane 3
    assert "16 cycles/image" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--images", "0"], "--images 0: expected a number of images in flight"),
    (["--images", "9"], "--images 9: expected a number of images in flight"),
    # Layer 1 at SIMD 16 has one input fold: a group's results need one cycle each.
    (["--folding", "4:8,2:16", "--images", "2"], "layer 1: images: expected at most"),
])
def test_generate_bad_images_in_flight(model, tmp_path, capsys, argv, message):
    out = tmp_path / "accel.v"
    assert main(["generate", str(model), "--out", str(out), *argv]) == 2
    assert message in one_line_error(capsys)
    assert not out.exists()
