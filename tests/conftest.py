"""Shared test markers: tests that need a simulator skip, saying how to get it, when it
is missing (CI installs them all, so nothing skips there)."""

import shutil

import pytest

#: Marker -> (tools it needs on PATH, how to install them).
SIMULATOR_MARKERS = {
    "needs_icarus": (("iverilog", "vvp"), "apt-get install iverilog"),
}


def pytest_configure(config):
    for marker, (tools, install) in SIMULATOR_MARKERS.items():
        config.addinivalue_line(
            "markers", f"{marker}: needs {' and '.join(tools)} on PATH ({install})")


def pytest_collection_modifyitems(config, items):
    for marker, (tools, install) in SIMULATOR_MARKERS.items():
        missing = [tool for tool in tools if shutil.which(tool) is None]
        if not missing:
            continue
        skip = pytest.mark.skip(reason=f"{' and '.join(missing)} not found on PATH; "
                                       f"install Icarus Verilog: {install}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)
