"""Reading nextpnr's routing progress from its log, and calling a stall."""

from boards.route_progress import RouteWatch, route_figure

ROUTER1 = """Info: Routing..
Info: Setting up routing queue.
Info: Routing 9912 arcs.
Info:            |   (re-)routed arcs  |   delta    | remaining|       time spent     |
Info:    IterCnt |  w/ripup   wo/ripup |  w/r  wo/r |      arcs| batch(sec) total(sec)|
Info:       1000 |       32        967 |   32   967 |      8954|       0.83       0.83|
Info:       2000 |      116       1847 |   84   880 |      8071|       0.29       1.12|
"""
ROUTER2 = "Info:     iter=26 wires=32895 overused=17 overuse=19 archfail=NA\n"


def test_the_figures_of_both_routers_are_read():
    assert route_figure("Info:       1000 |       32        967 |   32   967 |      8954|"
                        "       0.83       0.83|") == 8954
    assert route_figure(ROUTER2) == 17
    assert route_figure("Info:    IterCnt |  w/ripup   wo/ripup |  w/r  wo/r |      arcs|") is None
    assert route_figure("Info: Max frequency for clock 'clk': 43.95 MHz") is None


def test_no_stall_before_routing_begins():
    watch = RouteWatch(stall_s=5)
    watch.feed("Info: Placed 10 cells based on constraints.\n", now=0)
    assert not watch.routing and not watch.stalled(now=1000)
    assert watch.describe() == "before routing"


def test_progress_resets_the_clock_and_a_flat_figure_stalls():
    watch = RouteWatch(stall_s=10)
    watch.feed(ROUTER1, now=1)
    assert watch.routing and watch.best == 8071 and watch.last == 8071
    assert not watch.stalled(now=11)
    # the same figures again and again (overuse flat): no new minimum
    for t in range(12, 22):
        watch.feed("Info:       3000 |      217       2742 |  101   895 |      8100|"
                   "       0.22       1.34|\n", now=t)
    assert watch.best == 8071 and watch.last == 8100
    assert watch.stalled(now=11.5)
    assert watch.describe() == "routing, 8100 remaining (best 8071)"
    # a new minimum: progress again
    watch.feed("Info:       4000 |      370       3588 |  153   846 |      6431|"
               "       0.26       1.60|\n", now=30)
    assert not watch.stalled(now=39) and watch.stalled(now=40.5)


def test_a_line_cut_between_two_reads_is_read_once_whole():
    watch = RouteWatch(stall_s=10)
    watch.feed("Info: Routing..\nInfo:     iter=1 wires=100 over", now=0)
    assert watch.routing and watch.last is None
    watch.feed("used=42 overuse=50 archfail=NA\n", now=1)
    assert watch.last == 42 and watch.best == 42


def test_router2_without_the_router1_banner_counts_as_routing():
    watch = RouteWatch(stall_s=0)
    watch.feed(ROUTER2, now=3)
    assert watch.routing and watch.stalled(now=3.1)
