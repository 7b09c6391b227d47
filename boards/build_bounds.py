"""How long each step of a bitstream build may take.

A build that runs past a bound stops with a message naming the step and the
bound; for place-and-route the build first tries what works (another router,
another seed). Kept apart from :mod:`boards.build` so that the command line
can show the defaults without importing Amaranth.

Members
-------
BuildBounds
"""

from dataclasses import dataclass

#: Seconds of routing without a new minimum of its remaining work before it counts as stalled.
DEFAULT_ROUTE_STALL_S = 120.0
#: Seconds of placement without a progress line before it counts as stalled: over twice the
#: slowest placer iteration seen on a design that then placed (239 s, UP5K 784-256-256-10).
DEFAULT_PLACE_STALL_S = 600.0


@dataclass(frozen=True)
class BuildBounds:
    """Time bounds of one build, in seconds.

    Members
    -------
    synth_s : float
        Synthesis (Yosys).
    pnr_s : float
        One place-and-route attempt (nextpnr).
    route_stall_s : float or dict
        Routing that finds no new minimum of its remaining work (arcs for
        router1, overused wires for router2) for this long has stalled and is
        stopped; a dict gives one bound per router (``"router1"``, ``"router2"``).
    place_stall_s : float
        Placement that prints no progress line for this long (nextpnr's
        legaliser on a design too full to place) has stalled and is stopped;
        the next seed is tried, not the next router.
    pack_s : float
        Bitstream packing.
    """

    synth_s: float = 3600.0
    pnr_s: float = 3600.0
    route_stall_s: object = DEFAULT_ROUTE_STALL_S
    place_stall_s: float = DEFAULT_PLACE_STALL_S
    pack_s: float = 600.0

    def stall_s(self, router):
        if isinstance(self.route_stall_s, dict):
            return float(self.route_stall_s.get(router, DEFAULT_ROUTE_STALL_S))
        return float(self.route_stall_s)
