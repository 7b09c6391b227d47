import json

import pytest

from sim.runner import build_dir_for, run_cocotb

ADDER = """\
module adder(input [3:0] a, input [3:0] b, output [4:0] s);
    assign s = a + b;
endmodule
"""

A = [0, 15, 7, 8, 15, 1]
B = [0, 15, 9, 7, 0, 14]


def _spec(tmp_path, outputs=("s",)):
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps({"inputs": {"a": A, "b": B}, "outputs": list(outputs),
                                "cycles": len(A), "clocked": False}))
    return {"MULFREE_TB_VECTORS": str(path)}


@pytest.mark.needs_icarus
@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["icarus"])
def test_run_builds_once_and_reuses_the_cache(simulator, tmp_path):
    first = run_cocotb(ADDER, "adder", "sim.tb_vectors", simulator, build_key="adder",
                       extra_env=_spec(tmp_path), build_root=tmp_path / "cache")
    assert first.status == "passed", first.reason + first.log_tail()
    assert first.n_tests == 1 and first.n_failed == 0 and first.built
    samples = json.loads((first.run_dir / "samples.json").read_text())
    assert samples["s"] == [a + b for a, b in zip(A, B, strict=True)]
    assert first.build_dir == build_dir_for(ADDER, "adder", simulator, "adder",
                                            build_root=tmp_path / "cache",
                                            build_args=first_build_args(simulator))
    again = run_cocotb(ADDER, "adder", "sim.tb_vectors", simulator, build_key="adder",
                       extra_env=_spec(tmp_path), build_root=tmp_path / "cache")
    assert again.passed and not again.built and again.build_seconds == 0.0
    assert again.build_dir == first.build_dir and again.run_dir != first.run_dir


def first_build_args(simulator):
    from sim.runner import VERILATOR_LINT_ARGS
    return VERILATOR_LINT_ARGS if simulator == "verilator" else ()


def test_a_changed_design_gets_its_own_build(tmp_path):
    other = ADDER.replace("a + b", "a - b")
    assert build_dir_for(ADDER, "adder", "icarus") != build_dir_for(other, "adder", "icarus")
    assert build_dir_for(ADDER, "adder", "icarus", waves=True).name == "icarus-waves"


@pytest.mark.needs_icarus
@pytest.mark.slow
def test_failing_cocotb_test_is_reported_by_name(tmp_path):
    run = run_cocotb(ADDER, "adder", "sim.tb_vectors", "icarus", build_key="adder",
                     extra_env=_spec(tmp_path, outputs=("no_such_port",)),
                     build_root=tmp_path / "cache")
    assert run.status == "failed"
    assert run.failed_tests == ["apply_vectors"] and run.n_failed == 1
    assert "apply_vectors" in run.reason
    assert "no_such_port" in run.log_file.read_text()


@pytest.mark.needs_icarus
def test_broken_verilog_is_a_failed_build_not_an_exception(tmp_path):
    run = run_cocotb("module adder(input a;\n", "adder", "sim.tb_vectors", "icarus",
                     build_root=tmp_path / "cache")
    assert run.status == "failed" and "build of adder failed" in run.reason
    assert run.log_file.name == "build.log"


@pytest.mark.needs_icarus
@pytest.mark.slow
def test_waves_are_written_per_run(tmp_path):
    run = run_cocotb(ADDER, "adder", "sim.tb_vectors", "icarus", build_key="adder",
                     extra_env=_spec(tmp_path), waves=True, build_root=tmp_path / "cache")
    assert run.passed, run.reason
    assert run.waves_file is not None and run.waves_file.parent == run.run_dir
    assert run.waves_file.stat().st_size > 0
