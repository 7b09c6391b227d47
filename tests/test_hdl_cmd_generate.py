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
