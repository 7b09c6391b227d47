import argparse
import json

import pytest
from sim_nets import digits_qnet

from golden_model.errors import MulfreeError
from sim import cmd_sim


def _args(*argv):
    parser = argparse.ArgumentParser()
    cmd_sim.configure(parser)
    return parser.parse_args(list(argv))


def test_parse_folding_forms():
    assert cmd_sim.parse_folding("none") is None
    assert cmd_sim.parse_folding("auto") == "auto"
    assert cmd_sim.parse_folding("2:4,1:8") == [(2, 4), (1, 8)]
    with pytest.raises(cmd_sim.SimSetupError, match="--folding 'x:y'"):
        cmd_sim.parse_folding("x:y")


def test_waves_default_follows_the_environment(monkeypatch):
    monkeypatch.setenv("WAVES", "1")
    assert _args().waves is True
    monkeypatch.setenv("WAVES", "0")
    assert _args().waves is False
    monkeypatch.delenv("WAVES")
    assert _args().waves is False and _args("--waves").waves is True


def test_missing_model_file_is_a_one_line_error(tmp_path):
    args = _args("--model", str(tmp_path / "nope.qnet.npz"), "--sim", "icarus")
    with pytest.raises(MulfreeError, match="nope.qnet.npz: no such file"):
        cmd_sim.main(args)


def test_unknown_simulator_is_a_user_error(tmp_path):
    with pytest.raises(MulfreeError, match="--sim 'modelsim'"):
        cmd_sim.main(_args("--sim", "modelsim"))


def test_model_that_does_not_fit_the_dataset(tmp_path):
    from golden_model.qnet import InputSpec, QLayer, QNet
    qnet = QNet(input=InputSpec(n_inputs=4, bits=5),
                layers=[QLayer(weights=[[1, -1, 0, 1]], bias=[0], shift=[0],
                               activation="linear")])
    path = tmp_path / "tiny.qnet.npz"
    qnet.save(path)
    with pytest.raises(cmd_sim.SimSetupError, match="64 pixels per image.*expects 4"):
        cmd_sim.main(_args("--model", str(path), "--sim", "icarus"))


@pytest.mark.needs_icarus
@pytest.mark.slow
def test_sim_command_checks_digits_and_writes_the_report(tmp_path, capsys):
    path = tmp_path / "net.qnet.npz"
    digits_qnet(hidden=(12,), seed=0).save(path)
    report_path = tmp_path / "report.json"
    code = cmd_sim.main(_args("--model", str(path), "--sim", "icarus", "--images", "5",
                              "--folding", "none", "--no-primitives", "--icarus-netlist", "raw",
                              "--report", str(report_path), "--waves"))
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(report_path.read_text())
    assert report["passed"] is True
    (entry,) = report["simulators"]
    assert entry["simulator"] == "icarus" and entry["status"] == "passed"
    assert entry["images_checked"] == 5 and entry["mismatches"] == 0
    assert entry["cycles_per_image"] == 64 * 12 == entry["cycles_per_image_estimate"]
    assert entry["cycles_per_second"] > 0 and entry["wall_seconds"] > 0
    assert "PASSED: 0 mismatches" in out and str(report_path) in out
    (waves,) = report["waves"]
    assert waves["file"].endswith(".fst") and "reset_mid_image" in waves["traced"]
    assert "waves (icarus, reset_mid_image" in out


def test_sim_command_loads_spram_weights_first(tmp_path, capsys):
    path = tmp_path / "net.qnet.npz"
    digits_qnet(hidden=(12,), seed=0).save(path)
    report_path = tmp_path / "report.json"
    code = cmd_sim.main(_args("--model", str(path), "--sim", "verilator", "--images", "4",
                              "--folding", "3:8,5:4", "--weight-store", "spram,rom",
                              "--no-primitives", "--report", str(report_path)))
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(report_path.read_text())
    assert report["passed"] is True and report["design"]["weight_store"] == "spram,rom"
    (entry,) = report["simulators"]
    assert entry["images_checked"] == 4 and entry["mismatches"] == 0


def test_default_model_of_another_dataset_gets_its_own_file(tmp_path, monkeypatch):
    digits_qnet(hidden=(4,), seed=1).save(tmp_path / "model.qnet.npz")
    monkeypatch.setattr(cmd_sim, "DEFAULT_MODEL", tmp_path / "model.qnet.npz")
    asked = []
    monkeypatch.setattr(cmd_sim, "default_model",
                        lambda dataset, path, data_dir=None: asked.append((dataset, path)) or path)
    assert cmd_sim._default_model_for("digits", None) == tmp_path / "model.qnet.npz"
    assert cmd_sim._default_model_for("mnist5k", None) == tmp_path / "model-mnist5k.qnet.npz"
    assert asked == [("digits", tmp_path / "model.qnet.npz"),
                     ("mnist5k", tmp_path / "model-mnist5k.qnet.npz")]
