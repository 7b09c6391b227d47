import argparse
import gzip
import json
import struct

import numpy as np
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


@pytest.mark.parametrize("option, path, message", [
    ("--report", "/proc/report.json", "--report: /proc/report.json: is under /proc"),
    ("--report", "{tmp}", "is a folder; expected a file path"),
    ("--report", "{file}/report.json", "file.txt is a file, not a folder"),
    ("--build-dir", "{file}", "--build-dir: {file}: is a file; expected a folder"),
    ("--build-dir", "{file}/cache", "file.txt is a file, not a folder"),
    ("--build-dir", "/sys/cache", "under /sys"),
])
def test_bad_output_paths_refused_before_any_work(tmp_path, capsys, monkeypatch, option, path,
                                                  message):
    import sim.toolchain
    from mulfree.cli import main

    def never(*args, **kwargs):
        raise AssertionError("simulators were looked up before the outputs were checked")

    monkeypatch.setattr(sim.toolchain, "resolve_simulators", never)
    (tmp_path / "file.txt").write_text("x")
    names = {"tmp": tmp_path, "file": tmp_path / "file.txt"}
    argv = ["sim", "--model", str(tmp_path / "nope.qnet.npz"), "--report",
            str(tmp_path / "r.json"), option, path.format(**names)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message.format(**names) in err and err.count("\n") == 1


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


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(">u1").tobytes()))


def _mnist_qnet(path, dataset="mnist"):
    from golden_model.qnet import InputSpec, QLayer, QNet
    weights = np.random.default_rng(0).integers(-1, 2, size=(10, 784))
    QNet(input=InputSpec(n_inputs=784, bits=8, dataset=dataset, image_shape=(28, 28)),
         layers=[QLayer(weights=weights, bias=[0] * 10, shift=[0] * 10,
                        activation="linear")]).save(path)


class _StopBeforeSimulation(Exception):
    pass


def _stop_before_simulation(monkeypatch):
    """Replace the regression runner by one that records what it was given and stops."""
    import sim.regression

    seen = {}

    def fake(qnet, images, simulators, **kwargs):
        seen.update(images=images, **kwargs)
        raise _StopBeforeSimulation
    monkeypatch.setattr(sim.regression, "run_regression", fake)
    return seen


def test_sim_streams_the_dataset_the_model_records_from_test_files_only(tmp_path, monkeypatch):
    images = np.random.default_rng(1).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(6, dtype=np.uint8))
    _mnist_qnet(tmp_path / "net.qnet.npz")
    seen = _stop_before_simulation(monkeypatch)
    with pytest.raises(_StopBeforeSimulation):
        cmd_sim.main(_args("--model", str(tmp_path / "net.qnet.npz"), "--data-dir", str(tmp_path),
                           "--sim", "icarus", "--images", "4"))
    assert seen["design"]["dataset"] == "mnist"
    np.testing.assert_array_equal(seen["images"], images[:4].reshape(4, 784))
    assert list(seen["indices"]) == [0, 1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir() if "idx" in p.name) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_sim_dataset_option_still_overrides_the_recorded_one(tmp_path, monkeypatch):
    path = tmp_path / "net.qnet.npz"
    digits_qnet(hidden=(4,), seed=1).save(path)
    assert cmd_sim.model_and_dataset(str(path), None)[2] == "digits"
    _mnist_qnet(path)
    assert cmd_sim.model_and_dataset(str(path), "digits")[2] == "digits"
    assert cmd_sim.model_and_dataset(str(path), None)[2] == "mnist"


def test_sim_refuses_a_recorded_dataset_it_does_not_know(tmp_path):
    _mnist_qnet(tmp_path / "net.qnet.npz", dataset="imagenet")
    with pytest.raises(cmd_sim.SimSetupError,
                       match="records dataset 'imagenet', not one of digits.*pass --dataset"):
        cmd_sim.main(_args("--model", str(tmp_path / "net.qnet.npz"), "--sim", "icarus"))


def test_sim_without_data_dir_says_data_dir_on_the_command_line(tmp_path, capsys):
    from mulfree.cli import main
    _mnist_qnet(tmp_path / "net.qnet.npz")
    assert main(["sim", "--model", str(tmp_path / "net.qnet.npz"), "--sim", "icarus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mulfree sim: error: dataset 'mnist' needs a data directory")
    assert "--data-dir DIR" in err and err.count("\n") == 1


@pytest.mark.slow
def test_sim_command_checks_a_digits_cnn_on_verilator(tmp_path, capsys):
    from qnet_conv_nets import digits_cnn

    path = tmp_path / "cnn.qnet.npz"
    digits_cnn(seed=3, stride=1, padding="same", pool=True).save(path)
    report_path = tmp_path / "report.json"
    code = cmd_sim.main(_args("--model", str(path), "--sim", "verilator", "--images", "6",
                              "--folding", "4:9,1:1,1:1,1:1,10:24", "--no-primitives",
                              "--report", str(report_path), "--build-dir", str(tmp_path / "b")))
    out = capsys.readouterr().out
    assert code == 0, out
    (entry,) = json.loads(report_path.read_text())["simulators"]
    assert entry["images_checked"] == 6 and entry["mismatches"] == 0
    # The slowest stage, conv2 at PE = SIMD = 1 (the pool's and the flatten's pairs are
    # unused): 4x4 windows of 6 channels x 36 inputs, measured as estimated.
    assert entry["cycles_per_image"] == entry["cycles_per_image_estimate"] == 16 * 6 * 36
