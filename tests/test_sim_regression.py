"""Regression, report and waves on a deliberately broken design (Icarus: quick builds)."""

import json

import numpy as np
import pytest
from sim_nets import digits_images, digits_qnet, off_by_one_bias

from sim.regression import record_waves, regression_passed, run_regression
from sim.report import format_report, write_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def broken_report():
    qnet = digits_qnet(hidden=(12,), seed=0)
    neuron = int(np.flatnonzero(qnet.layers[-1].shift <= 0)[0])
    images, indices = digits_images(6)
    lines = []
    report = run_regression(qnet, images, ["icarus"], indices=indices, primitives=False,
                            hardware_qnet=off_by_one_bias(qnet, neuron=neuron),
                            icarus_netlist="raw", design={"model": "hand-built"},
                            progress=lines.append)
    if report["simulators"][0]["status"] == "skipped":
        pytest.skip(report["simulators"][0]["reason"])
    return qnet, images, indices, neuron, report, lines


def test_broken_design_fails_the_regression_with_the_first_mismatch(broken_report):
    _, _, _, neuron, report, lines = broken_report
    assert report["passed"] is False and not regression_passed(report)
    (entry,) = report["simulators"]
    assert entry["status"] == "failed" and entry["netlist"] == "raw"
    assert entry["images_checked"] == 6 and entry["mismatches"] > 0
    assert entry["first_mismatch"]["image"] == 0
    assert entry["first_mismatch"]["neuron"] == neuron
    # Every scenario sees it, including the Python-driven ones.
    assert all(result["mismatches"] > 0 for result in entry["scenarios"].values())
    text = format_report(report)
    assert f"first mismatch: image 0, layer 1, neuron {neuron} (logit)" in text
    assert lines[0] == "[icarus] accelerator: 6 images ..." and "failed" in lines[-1]


def test_report_json_round_trips(broken_report, tmp_path):
    *_, report, _ = broken_report
    path = write_report(report, tmp_path / "sub" / "report.json")
    loaded = json.loads(path.read_text())
    assert loaded["simulators"][0]["mismatches"] == report["simulators"][0]["mismatches"]
    assert loaded["design"] == {"model": "hand-built"}


def test_waves_trace_the_failing_scenario_around_the_first_mismatch(broken_report):
    qnet, images, indices, neuron, report, _ = broken_report
    hardware = off_by_one_bias(qnet, neuron=neuron)
    ((simulator, waves, what),) = record_waves(qnet, images, report, indices=indices,
                                               hardware_qnet=hardware, icarus_netlist="raw")
    assert simulator == "icarus"
    assert what == "bulk_full_rate on images 0..3"
    assert waves is not None and waves.suffix == ".fst" and waves.stat().st_size > 0


def test_skipped_simulators_do_not_count_as_a_pass():
    report = {"simulators": [{"status": "skipped", "mismatches": None}]}
    assert regression_passed(report) is False
    report["simulators"].append({"status": "passed", "mismatches": 0})
    assert regression_passed(report) is True
