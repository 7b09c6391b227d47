"""Shared test markers.

``needs_icarus``: the test runs Icarus Verilog. When :mod:`sim.toolchain`
finds it unusable (``iverilog``/``vvp`` not on PATH), the test is skipped
with a reason that says how to install it. CI installs every simulator, so
nothing skips there.
"""

import pytest

#: Marker -> the simulator (a :data:`sim.toolchain.SIMULATORS` name) it needs.
SIMULATOR_MARKERS = {"needs_icarus": "icarus"}


def pytest_configure(config):
    for marker, simulator in SIMULATOR_MARKERS.items():
        config.addinivalue_line(
            "markers", f"{marker}: runs {simulator}; skipped, saying how to install it, "
                       "when it is missing")


def pytest_collection_modifyitems(config, items):
    from sim.toolchain import simulator_status

    for marker, simulator in SIMULATOR_MARKERS.items():
        marked = [item for item in items if marker in item.keywords]
        if not marked:
            continue
        status = simulator_status(simulator)
        if status.available:
            continue
        skip = pytest.mark.skip(reason=f"{simulator} is not usable: {status.reason}")
        for item in marked:
            item.add_marker(skip)
