"""The regression report: one entry per simulator, printed and written as JSON.

Per simulator: images checked, mismatches (must be 0), the first mismatch
(image index, layer, neuron, expected, got), cycles per image (measured at
full rate, and the generator's estimate), simulated cycles per wall second
and images per second -- both of the full-rate scenario alone -- and the wall
time of everything (build, every scenario, primitives); plus the primitives'
results.

Members
-------
simulator_entry
    One simulator's entry from an :class:`~sim.accel_check.AccelCheck`.
format_report
    Human-readable text of a report.
write_report
    Write the JSON next to the builds.
"""


from golden_model.output_files import write_json
from sim.compare import describe_mismatch


def _primitive_entry(run, checks):
    if run is None:
        return None
    return {
        "status": ("skipped" if run.skipped else
                   "passed" if run.passed and checks and not any(c.mismatches for c in checks)
                   else "failed"),
        "reason": run.reason,
        "cases": {c.name: {"vectors": c.vectors, "mismatches": c.mismatches,
                           "first_mismatch": c.first_mismatch} for c in checks},
        "mismatches": sum(c.mismatches for c in checks),
        "wall_seconds": round(run.build_seconds + run.test_seconds, 3),
    }


def simulator_entry(check, primitives=None):
    """Report entry of one simulator.

    Parameters
    ----------
    check : AccelCheck
    primitives : tuple (CocotbRun, list of PrimitiveCheck), optional

    Returns
    -------
    dict
    """
    scenarios = check.scenarios
    full = scenarios.get("bulk_full_rate", {})
    images_checked = max((int(s.get("images", 0)) for s in scenarios.values()), default=0)
    cycles, wall = full.get("simulated_cycles"), full.get("wall_seconds")
    entry = {
        "simulator": check.simulator,
        "status": check.status,
        "reason": check.reason,
        "images_checked": images_checked,
        "mismatches": check.mismatches,
        "first_mismatch": check.first_mismatch,
        "cycles_per_image": full.get("cycles_per_image"),
        "cycles_per_image_estimate": check.cycles_per_image_estimate,
        "latency_cycles": full.get("latency_cycles"),
        "simulated_cycles": cycles,
        "cycles_per_second": round(cycles / wall) if cycles and wall else None,
        "images_per_second": (round(int(full.get("images", 0)) / wall, 2)
                              if wall and full.get("images") else None),
        # The speeds above are of this scenario only; wall_seconds covers every one.
        "speed_scenario": "bulk_full_rate" if full else None,
        "speed_wall_seconds": round(wall, 3) if wall else None,
        "wall_seconds": round(check.wall_seconds, 3),
        "build_seconds": round(check.run.build_seconds, 3) if check.run else 0.0,
        "built": bool(check.run.built) if check.run else False,
        "log": str(check.run.log_file) if check.run and check.run.log_file else None,
        "scenarios": scenarios,
    }
    if primitives is not None:
        entry["primitives"] = _primitive_entry(*primitives)
    if check.status == "skipped":
        entry["mismatches"] = None
    return entry


def _fmt(value, spec=""):
    if value is None:
        return "-"
    return format(value, spec)


def format_report(report):
    """Text of a report (the dict that :func:`sim.regression.run_regression` returns)."""
    head = report.get("design", {})
    lines = [
        f"model {head.get('model', '?')} (fingerprint {str(head.get('fingerprint', ''))[:16]}), "
        f"dataset {head.get('dataset', '?')}, {head.get('images', '?')} images, "
        f"folding {head.get('folding')}, in_lanes {head.get('in_lanes')}",
        f"{'simulator':<10} {'status':<8} {'images':>6} {'mismatch':>8} {'cyc/img':>9} "
        f"{'est':>7} {'cycles/s*':>10} {'img/s*':>8} {'wall s':>7}",
    ]
    for entry in report["simulators"]:
        lines.append(
            f"{entry['simulator']:<10} {entry['status']:<8} {entry['images_checked']:>6} "
            f"{_fmt(entry['mismatches']):>8} {_fmt(entry['cycles_per_image'], '.1f'):>9} "
            f"{_fmt(entry['cycles_per_image_estimate']):>7} "
            f"{_fmt(entry['cycles_per_second'], ','):>10} "
            f"{_fmt(entry['images_per_second'], '.1f'):>8} {entry['wall_seconds']:>7.1f}")
    lines.append("* at full rate: the full-rate scenario alone (bulk_full_rate); wall s "
                 "covers the build, every scenario and the primitives")
    for entry in report["simulators"]:
        name = entry["simulator"]
        if entry["status"] == "skipped":
            lines.append(f"{name}: SKIPPED: {entry['reason']}")
            continue
        for scenario, result in entry["scenarios"].items():
            lines.append(f"  {name} {scenario}: {result.get('images', 0)} images, "
                         f"{result.get('mismatches')} mismatches, "
                         f"{_fmt(result.get('simulated_cycles'))} cycles")
        primitives = entry.get("primitives")
        if primitives:
            cases = primitives["cases"]
            lines.append(f"  {name} primitives: {primitives['status']}, {len(cases)} cases, "
                         f"{sum(c['vectors'] for c in cases.values())} vectors, "
                         f"{primitives['mismatches']} mismatches")
            for case, result in cases.items():
                if result["mismatches"]:
                    lines.append(f"    {case}: {result['mismatches']} mismatches; first "
                                 f"{result['first_mismatch']}")
        if entry["first_mismatch"]:
            lines.append(f"  {name}: {describe_mismatch(entry['first_mismatch'])}")
        if entry["status"] == "failed" and entry["reason"]:
            lines.append(f"  {name}: {entry['reason']}")
    for item in report.get("waves", []):
        lines.append(f"waves ({item['simulator']}, {item['traced']}): {item['file']}")
    return "\n".join(lines)


def write_report(report, path):
    """Write ``report`` as JSON to ``path`` (parents created, atomically); returns the path."""
    return write_json(path, report, indent=1, default=str)
