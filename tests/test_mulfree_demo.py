"""The demo flow end to end at a small size: train -> QNet -> Verilog -> Verilator -> bitstream."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from golden_model.errors import MulfreeError
from golden_model.qnet import QNet
from mulfree.demo import DemoConfig, format_summary, run_demo


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    lines = []
    # the default folding ("auto" within the board's LUT share), as `make demo` uses it
    config = DemoConfig(out_dir=str(out), hidden=(16,), epochs=3, sim_images=12, quiet=True)
    summary = run_demo(config, log=lines.append)
    return out, summary, lines


def test_every_stage_reports_progress_in_order(small_demo):
    _, _, lines = small_demo
    stages = [line for line in lines if line.startswith("[")]
    assert [s.split("]")[0] for s in stages] == [f"[{k}/6" for k in range(1, 7)]


def test_rtl_matches_qnet_and_qnet_matches_recorded_accuracy(small_demo):
    out, summary, _ = small_demo
    assert summary["mismatches"] == 0
    assert summary["images_simulated"] == 12
    qnet = QNet.load(out / "model.qnet.npz")
    assert qnet.fingerprint() == summary["qnet_fingerprint"]
    from golden_model.datasets import load_dataset

    dataset = load_dataset("digits", seed=0)
    accuracy = float(np.mean(qnet.predict(dataset.x_test) == dataset.y_test))
    assert accuracy == pytest.approx(summary["qnet_accuracy"], abs=1e-12)
    # a 64-16-10 ternary net after 3 epochs is far above chance on digits
    assert accuracy > 0.6


def test_bitstream_is_multiplier_free_and_reported(small_demo):
    out, summary, _ = small_demo
    assert summary["multiplier_free"] is True
    assert summary["resources"]["DSP"]["used"] == 0
    assert 0 < summary["resources"]["LUT"]["used"] <= summary["resources"]["LUT"]["available"]
    assert summary["clock"]["achieved_mhz"] > 0
    bitstream = Path(summary["artefacts"]["bitstream"])
    assert bitstream.is_file() and bitstream.stat().st_size > 10_000


def test_every_artefact_exists_and_summary_is_written(small_demo):
    out, summary, _ = small_demo
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
