from types import SimpleNamespace

from sim.report import format_report, simulator_entry


def _check(status="passed", scenarios=None, reason=""):
    run = SimpleNamespace(build_seconds=12.5, built=True, log_file=None)
    return SimpleNamespace(simulator="verilator", status=status, reason=reason,
                           scenarios=scenarios or {}, run=run, wall_seconds=20.0,
                           cycles_per_image_estimate=256,
                           mismatches=sum(s.get("mismatches", 0)
                                          for s in (scenarios or {}).values()),
                           first_mismatch=None)


def test_entry_takes_speed_from_the_full_rate_run():
    scenarios = {
        "bulk_full_rate": {"images": 359, "mismatches": 0, "simulated_cycles": 92361,
                           "wall_seconds": 0.5, "cycles_per_image": 256.0,
                           "latency_cycles": 709},
        "reset_mid_image": {"images": 2, "mismatches": 0, "simulated_cycles": 1098},
    }
    entry = simulator_entry(_check(scenarios=scenarios))
    assert entry["images_checked"] == 359 and entry["mismatches"] == 0
    assert entry["cycles_per_second"] == 184722
    assert entry["images_per_second"] == 718.0
    assert entry["cycles_per_image"] == 256.0 and entry["cycles_per_image_estimate"] == 256
    assert entry["build_seconds"] == 12.5 and entry["latency_cycles"] == 709
    # The speeds are the full-rate scenario's (0.5 s); the wall time covers all (20 s).
    assert entry["speed_scenario"] == "bulk_full_rate" and entry["speed_wall_seconds"] == 0.5
    assert entry["wall_seconds"] == 20.0
    lines = format_report({"design": {}, "simulators": [entry]}).splitlines()
    assert lines[1].split()[-3:] == ["img/s*", "wall", "s"]
    assert lines[2].split()[-2:] == ["718.0", "20.0"]
    assert lines[3] == ("* at full rate: the full-rate scenario alone (bulk_full_rate); "
                        "wall s covers the build, every scenario and the primitives")


def test_skipped_simulator_is_named_with_its_reason():
    entry = simulator_entry(_check(status="skipped", reason="icarus: 'iverilog' not found"))
    entry["simulator"] = "icarus"
    assert entry["mismatches"] is None and entry["cycles_per_second"] is None
    text = format_report({"design": {}, "simulators": [entry]})
    assert "icarus: SKIPPED: icarus: 'iverilog' not found" in text
    assert "icarus     skipped" in text
