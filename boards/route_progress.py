"""Is nextpnr's router still making progress? Read from its log as it runs.

nextpnr prints its routers' progress to its log: router1 a line every 1000
iterations with the arcs still to route, router2 a line per iteration with
the wires still overused. A router that converges keeps finding new minima
of that figure; one that has stalled (seen with router1 on the iCE40 UP5K,
where the same few thousand wires stay overused for hours) does not. The
watch declares a stall when no new minimum has appeared for a given time
after routing began.

Members
-------
RouteWatch
    Feed it the log text as it grows; it says when routing has stalled.
route_figure
    The progress figure of one log line, or None.
"""

import re

#: router1: "Info:   IterCnt |  w/ripup wo/ripup |  w/r  wo/r | remaining arcs | time ..."
_ROUTER1 = re.compile(r"^Info:\s+\d+\s+\|\s+\d+\s+\d+\s+\|\s+\d+\s+\d+\s+\|\s+(\d+)\s*\|")
#: router2: "Info:     iter=12 wires=32895 overused=17 overuse=19 archfail=NA"
_ROUTER2 = re.compile(r"\biter=\d+\s+wires=\d+\s+overused=(\d+)")
#: Lines that mark the start of routing (router1 and router2).
_ROUTING_STARTS = ("Info: Routing..", "Info: Running router2", "Info: Routing globals")


def route_figure(line):
    """The router's remaining work on ``line`` (arcs or overused wires), or None."""
    for pattern in (_ROUTER1, _ROUTER2):
        match = pattern.search(line)
        if match:
            return int(match.group(1))
    return None


class RouteWatch:
    """Follow a nextpnr log and tell when routing stops making progress.

    Parameters
    ----------
    stall_s : float
        Seconds after routing begins (or after its last new minimum) without
        a new minimum of the remaining work before routing counts as stalled.

    Members
    -------
    routing : bool
        Routing has begun.
    best : int or None
        Smallest remaining work seen (arcs for router1, overused wires for router2).
    last : int or None
        The latest figure.
    """

    def __init__(self, stall_s):
        self._stall_s = float(stall_s)
        self._pending = ""
        self._since = None
        self.routing = False
        self.best = None
        self.last = None

    def __repr__(self):
        return f"RouteWatch(stall_s={self._stall_s})"

    def feed(self, text, now):
        """Take the log text appended since the last call, read at time ``now`` (seconds)."""
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()  # an incomplete last line waits for the rest
        for line in lines:
            if not self.routing and line.startswith(_ROUTING_STARTS):
                self.routing, self._since = True, now
            figure = route_figure(line)
            if figure is None:
                continue
            if not self.routing:
                self.routing, self._since = True, now
            self.last = figure
            if self.best is None or figure < self.best:
                self.best, self._since = figure, now

    def stalled(self, now):
        """True once routing has gone ``stall_s`` seconds without a new minimum."""
        return self.routing and now - self._since > self._stall_s

    def describe(self):
        """What the router was doing, for an error message."""
        if not self.routing:
            return "before routing"
        if self.last is None:
            return "routing, no progress figure yet"
        return f"routing, {self.last} remaining (best {self.best})"
