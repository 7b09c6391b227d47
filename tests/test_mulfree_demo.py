"""The demo flow end to end, as `make demo` runs it: train -> QNet -> Verilog -> Verilator ->
bitstream. The fixture builds the demo's own default configuration (network, folding planner,
board), so a stall or failure of `make demo` fails the test suite too."""

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from golden_model.errors import MulfreeError
from golden_model.qnet import QNet
from mulfree.demo import DemoConfig, format_summary, run_demo


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    lines = []
    # exactly what `make demo` runs (only where it writes and the progress bar differ)
    config = DemoConfig(out_dir=str(out), quiet=True)
    assert asdict(config) == dict(asdict(DemoConfig()), out_dir=str(out), quiet=True)
    summary = run_demo(config, log=lines.append)
    return out, summary, lines


def test_every_stage_reports_progress_in_order(default_demo):
    _, _, lines = default_demo
    stages = [line for line in lines if line.startswith("[")]
    assert [s.split("]")[0] for s in stages] == [f"[{k}/6" for k in range(1, 7)]


def test_rtl_matches_qnet_and_qnet_matches_recorded_accuracy(default_demo):
    out, summary, _ = default_demo
    assert summary["mismatches"] == 0
    assert summary["images_simulated"] == DemoConfig().sim_images
    qnet = QNet.load(out / "model.qnet.npz")
    assert qnet.fingerprint() == summary["qnet_fingerprint"]
    from golden_model.datasets import load_dataset

    dataset = load_dataset("digits", seed=0)
    accuracy = float(np.mean(qnet.predict(dataset.x_test) == dataset.y_test))
    assert accuracy == pytest.approx(summary["qnet_accuracy"], abs=1e-12)
    # the demo's 64-64-64-10 ternary net after 20 epochs
    assert accuracy > 0.9


def test_bitstream_is_multiplier_free_and_reported(default_demo):
    out, summary, _ = default_demo
    assert summary["multiplier_free"] is True
    assert summary["resources"]["DSP"]["used"] == 0
    assert 0 < summary["resources"]["LUT"]["used"] <= summary["resources"]["LUT"]["available"]
    assert summary["clock"]["achieved_mhz"] > 0
    bitstream = Path(summary["artefacts"]["bitstream"])
    assert bitstream.is_file() and bitstream.stat().st_size > 10_000


def test_every_artefact_exists_and_summary_is_written(default_demo):
    out, summary, _ = default_demo
    for name, path in summary["artefacts"].items():
        assert Path(path).is_file(), name
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["mismatches"] == 0
    assert on_disk["artefacts"] == summary["artefacts"]
    text = format_summary(summary)
    assert "0 mismatches" in text and "multipliers      none" in text


def test_command_line_rejects_bad_arguments():
    result = subprocess.run([sys.executable, "-m", "mulfree", "demo", "--epochs", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == "mulfree demo: error: --epochs 0: expected an integer >= 1\n"


def test_unknown_simulator_in_python_api_is_a_clear_error(tmp_path):
    config = DemoConfig(out_dir=str(tmp_path), simulator="modelsim", epochs=1)
    with pytest.raises(MulfreeError, match="modelsim"):
        run_demo(config, log=lambda line: None)
