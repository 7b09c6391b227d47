"""Is nextpnr's placer still making progress? Read from its log as it runs.

nextpnr's analytical placer (HeAP) prints a line per iteration, each within
seconds; the slowest iteration seen on a build that then placed was 239 s
(the legaliser on the UP5K 784-256-256-10 with SPRAM weights, 82 % of the
logic cells). On a design too full to legalise (86 % of the UP5K's logic
cells, one line at iteration 1, then nothing) the legaliser searches for up
to cells² / 8 positions per cell: hours, without a line. The watch declares
a stall when placement has begun and no placer line has appeared for a given
time. The electrostatic placer (``--placer static``) prints a line per
iteration too (``iter=N``), then refines with simulated annealing as HeAP
does.

Members
-------
PLACERS, DEFAULT_PLACERS
    nextpnr's placers, and those a build tries in turn.
PlaceWatch
    Feed it the log text as it grows; it says when placement has stalled.
PnrWatch
    A placement and a routing watch over the same log, for one nextpnr run.
logic_cells
    The logic cells used and available, from nextpnr's utilisation report.
"""

import re

from boards.route_progress import RouteWatch

#: nextpnr's placers, its default (HeAP, analytical) first.
PLACERS = ("heap", "static", "sa")
DEFAULT_PLACER = "heap"
#: Tried in turn when placement stalls (:func:`boards.build.build_bitstream`).
DEFAULT_PLACERS = ("heap", "static")
#: Lines that begin placement (HeAP's initial placement, its main loop, the static placer, SA).
_PLACING_STARTS = ("Info: Creating initial analytic placement",
                   "Info: Running main analytical placer",
                   "Info: Running Static placer",
                   "Info: Running simulated annealing placer",
                   "Info: Creating initial placement")
#: A placer's progress line: HeAP "at initial placer iter 3" / "at iteration #1, type ALL",
#: SA "at iteration #5: temp = ...", static "iter=91 steplen=0.92 ...".
_PLACER_LINE = re.compile(r"\bat (?:initial placer iter|iteration #)(\d+)|^Info: iter=(\d+) ")
#: Lines after which placement is over.
_PLACING_ENDS = ("Info: Routing..", "Info: Running router2", "Info: Routing globals",
                 "Info: HeAP Placer Time", "Info: SA placement time")
#: "Info: 	         ICESTORM_LC:    4588/   5280    86%" (TRELLIS_COMB on the ECP5)
_LOGIC_CELLS = re.compile(r"\b(ICESTORM_LC|TRELLIS_COMB):\s*(\d+)\s*/\s*(\d+)")


def logic_cells(log):
    """``(kind, used, available)`` of the logic cells in a nextpnr log, or None."""
    match = _LOGIC_CELLS.search(log)
    return (match.group(1), int(match.group(2)), int(match.group(3))) if match else None


class PlaceWatch:
    """Follow a nextpnr log and tell when placement stops making progress.

    Parameters
    ----------
    stall_s : float
        Seconds after placement begins (or after its last progress line)
        without a new progress line before placement counts as stalled.

    Members
    -------
    placing : bool
        Placement has begun and not ended.
    iteration : str or None
        The placer's last progress line, shortened (for messages).
    """

    def __init__(self, stall_s):
        self._stall_s = float(stall_s)
        self._pending = ""
        self._since = None
        self.placing = False
        self.iteration = None

    def __repr__(self):
        return f"PlaceWatch(stall_s={self._stall_s})"

    def feed(self, text, now):
        """Take the log text appended since the last call, read at time ``now`` (seconds)."""
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()  # an incomplete last line waits for the rest
        for line in lines:
            if line.startswith(_PLACING_ENDS):
                self.placing = False
            elif line.startswith(_PLACING_STARTS):
                self.placing, self._since = True, now
            elif self.placing and _PLACER_LINE.search(line):
                self._since = now
                text = line.removeprefix("Info:").strip()
                self.iteration = (text.split()[0] if text.startswith("iter=")
                                  else text.split(",")[0].split(":")[0])

    def stalled(self, now):
        """True once placement has gone ``stall_s`` seconds without a progress line."""
        return self.placing and now - self._since > self._stall_s

    def describe(self):
        """What the placer was doing, for an error message."""
        if not self.placing:
            return "not placing"
        return f"placing, last progress line '{self.iteration}'" if self.iteration \
            else "placing, no progress line yet"


class PnrWatch:
    """A :class:`PlaceWatch` and a :class:`~boards.route_progress.RouteWatch` on one log.

    Parameters
    ----------
    place_stall_s, route_stall_s : float
        Their bounds, in seconds.

    Members
    -------
    place, route : PlaceWatch, RouteWatch
    """

    def __init__(self, place_stall_s, route_stall_s):
        self.place = PlaceWatch(place_stall_s)
        self.route = RouteWatch(route_stall_s)
        self._placement_stalled = False

    def __repr__(self):
        return f"PnrWatch({self.place!r}, {self.route!r})"

    def feed(self, text, now):
        self.place.feed(text, now)
        self.route.feed(text, now)

    def stalled(self, now):
        if self.place.stalled(now):
            self._placement_stalled = True
            return True
        return self.route.stalled(now)

    @property
    def in_placement(self):
        """The run stopped (or is) in placement: another router cannot help it."""
        return self._placement_stalled or self.place.placing

    def describe(self):
        if self.in_placement:
            return self.place.describe()
        return self.route.describe()
