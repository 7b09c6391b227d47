"""The full RTL regression: primitives and the whole accelerator, per simulator.

:func:`run_regression` checks every given image at full rate and with random
gaps, a few images driven from Python (gaps, reset mid-image), and the
primitives, on each simulator; :func:`record_waves` re-runs one scenario with
tracing (the first failing one, or a chosen one) on a handful of images.

Members
-------
run_regression
record_waves
regression_passed
"""

import dataclasses
import time

import numpy as np

from sim.accel_check import SCENARIOS, Scenario, check_accelerator, default_scenarios
from sim.primitives import check_primitives
from sim.report import simulator_entry
from sim.runner import DEFAULT_BUILD_ROOT

#: Images in a traced re-run: enough to show the failure, small enough to open.
WAVES_IMAGES = 4


def run_regression(qnet, images, simulators, *, indices=None, folding=None, in_lanes=1,
                   primitives=True, gap_images=None, driven_images=4, hardware_qnet=None,
                   build_root=DEFAULT_BUILD_ROOT, design=None, progress=print,
                   icarus_netlist="flat", weight_store=None):
    """Verify the generated RTL of ``qnet`` on every simulator in ``simulators``.

    Parameters
    ----------
    qnet : QNet
    images : ndarray of int, shape (n, n_inputs)
    simulators : list of str
    indices : ndarray of int, optional
        Test-set index of each image.
    folding, in_lanes
        Passed to the generator.
    primitives : bool
        Also run the primitives' vectors.
    gap_images : int, optional
        Images in the random-gap bulk scenario (default: all).
    driven_images : int
        Images in each Python-driven scenario.
    hardware_qnet : QNet, optional
        Give the generator another QNet than the reference (a testbench check).
    build_root : Path
    design : dict, optional
        Description of the model for the report header.
    progress : callable
        Receives one line per step.
    icarus_netlist : {"flat", "raw"}
        See :func:`sim.accel_check.check_accelerator`.
    weight_store : None, str or list of str
        Where the weights live (:data:`hdl.layer_plan.WEIGHT_STORES`); loadable
        weights are loaded through the harness before the first image.

    Returns
    -------
    dict
        ``design``, ``simulators`` (one :func:`sim.report.simulator_entry`
        each) and ``passed``.
    """
    images = np.asarray(images)
    n = len(images)
    scenarios = default_scenarios(n, driven_images=driven_images)
    if gap_images is not None:
        scenarios[1] = dataclasses.replace(scenarios[1], stop=min(n, int(gap_images)))
    entries = []
    for simulator in simulators:
        start = time.perf_counter()
        progress(f"[{simulator}] accelerator: {n} images ...")
        check = check_accelerator(qnet, images, simulator, indices=indices, folding=folding,
                                  in_lanes=in_lanes, scenarios=scenarios,
                                  hardware_qnet=hardware_qnet, build_root=build_root,
                                  icarus_netlist=icarus_netlist,
                                  accelerator_options={"weight_store": weight_store})
        prim = None
        if primitives and check.status != "skipped":
            progress(f"[{simulator}] primitives ...")
            prim = check_primitives(simulator, build_root=build_root)
        entry = simulator_entry(check, prim)
        entry["wall_seconds"] = round(time.perf_counter() - start, 3)
        entry["netlist"] = icarus_netlist if simulator == "icarus" else "raw"
        if prim is not None and entry["primitives"]["status"] != "passed" and (
                entry["status"] == "passed"):
            entry["status"] = "failed"
            entry["reason"] = f"{simulator}: primitives: {prim[0].reason or 'mismatches'}"
        progress(f"[{simulator}] {entry['status']}" + (
            f": {entry['reason']}" if entry["status"] != "passed" else
            f" ({entry['images_checked']} images, {entry['mismatches']} mismatches)"))
        entries.append(entry)
    report = {"design": dict(design or {}), "simulators": entries}
    report["passed"] = regression_passed(report)
    return report


def regression_passed(report):
    """True if at least one simulator ran and every one that ran passed with 0 mismatches."""
    ran = [e for e in report["simulators"] if e["status"] != "skipped"]
    return bool(ran) and all(e["status"] == "passed" and e["mismatches"] == 0 for e in ran)


def record_waves(qnet, images, report, *, indices=None, folding=None, in_lanes=1,
                 scenario="reset_mid_image", hardware_qnet=None,
                 build_root=DEFAULT_BUILD_ROOT, icarus_netlist="flat", weight_store=None):
    """Re-run one scenario with tracing; the first failure if there is one.

    Parameters
    ----------
    qnet, images, indices, folding, in_lanes, hardware_qnet, weight_store
        As for :func:`run_regression`.
    report : dict
        The regression's report (picks the failing simulator and scenario).
    scenario : str
        Scenario traced when nothing failed.

    Returns
    -------
    list of (str, Path or None, str)
        ``(simulator, waves file, what was traced)`` per traced run.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario {scenario!r}: expected one of {', '.join(SCENARIOS)}")
    images = np.asarray(images)
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    ran = [e for e in report["simulators"] if e["status"] != "skipped"]
    failing = [e for e in ran if e["status"] != "passed"]
    traced = []
    for entry in failing or ran[:1]:
        name, lo = scenario, 0
        if failing:
            bad = [(s, r) for s, r in entry["scenarios"].items() if r.get("mismatches")]
            if bad:
                name, result = bad[0]
                first = result.get("first_mismatch") or {}
                position = (np.flatnonzero(indices == first.get("image"))
                            if first.get("image") is not None else [])
                lo = max(0, int(position[0]) - 1) if len(position) else 0
        hi = min(len(images), lo + WAVES_IMAGES)
        lo = max(0, hi - WAVES_IMAGES)
        check = check_accelerator(
            qnet, images[lo:hi], entry["simulator"], indices=indices[lo:hi], folding=folding,
            in_lanes=in_lanes, scenarios=[Scenario(name, 0, hi - lo, *_gaps(name))],
            hardware_qnet=hardware_qnet, waves=True, build_root=build_root,
            icarus_netlist=icarus_netlist, accelerator_options={"weight_store": weight_store})
        what = f"{name} on images {indices[lo]}..{indices[hi - 1]}"
        traced.append((entry["simulator"], check.run.waves_file if check.run else None, what))
    return traced


def _gaps(name):
    """The gaps and seed a scenario uses in :func:`default_scenarios`."""
    for scenario in default_scenarios(4):
        if scenario.name == name:
            return scenario.in_gap, scenario.out_gap, scenario.seed
    return 0, 0, 1
