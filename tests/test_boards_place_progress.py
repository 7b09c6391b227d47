"""Reading nextpnr's placement progress from its log, and calling a stall."""

from boards.place_progress import PlaceWatch, PnrWatch, logic_cells

#: The start of the log of the sweep point that stalled (64-32-10, 86 % of the UP5K's cells).
STALLED = """Info: Device utilisation:
Info: 	         ICESTORM_LC:    4588/   5280    86%
Info: 	        ICESTORM_RAM:       3/     30    10%
Info: Placed 5 cells based on constraints.
Info: Creating initial analytic placement for 4350 cells, random placement wirelen = 91234.
Info:     at initial placer iter 0, wirelen = 290
Info:     at initial placer iter 3, wirelen = 301
Info: Running main analytical placer, max placement attempts per cell = 2646150.
Info:     at iteration #1, type ALL: wirelen solved = 310, legal = 44150; time = 2.43s
"""
PLACED = """Info:     at iteration #2, type ALL: wirelen solved = 320, legal = 2100; time = 1.2s
Info: HeAP Placer Time: 14.07s
Info:   of which solving equations: 8.43s
Info: Running simulated annealing placer for refinement.
Info:   at iteration #5: temp = 0.000000, timing cost = 698, wirelen = 26362
Info: SA placement time 11.53s
"""


def test_logic_cells_are_read_from_the_utilisation_report():
    assert logic_cells(STALLED) == ("ICESTORM_LC", 4588, 5280)
    assert logic_cells("Info: \t        TRELLIS_COMB:   16066/  83640    19%") == (
        "TRELLIS_COMB", 16066, 83640)
    assert logic_cells("Info: Routing..") is None


def test_no_stall_before_placement_begins():
    watch = PlaceWatch(stall_s=5)
    watch.feed("Info: Packing constants..\nInfo: Device utilisation:\n", now=0)
    assert not watch.placing and not watch.stalled(now=1000)
    assert watch.describe() == "not placing"


def test_a_silent_legaliser_stalls_and_each_progress_line_resets_the_clock():
    watch = PlaceWatch(stall_s=10)
    watch.feed(STALLED, now=3)
    assert watch.placing and watch.iteration == "at iteration #1"
    assert not watch.stalled(now=13) and watch.stalled(now=13.5)
    assert watch.describe() == "placing, last progress line 'at iteration #1'"
    watch.feed(PLACED.splitlines(keepends=True)[0], now=20)  # iteration 2: progress again
    assert watch.iteration == "at iteration #2"
    assert not watch.stalled(now=29) and watch.stalled(now=30.5)


def test_placement_ends_with_the_placer_times_and_sa_refinement_is_watched():
    watch = PlaceWatch(stall_s=10)
    watch.feed(STALLED, now=0)
    watch.feed(PLACED.split("Info: Running simulated")[0], now=1)
    assert not watch.placing and not watch.stalled(now=1000)
    watch.feed("Info: Running simulated annealing placer for refinement.\n", now=2)
    assert watch.placing and watch.stalled(now=12.5)
    watch.feed("Info:   at iteration #5: temp = 0.000000, timing cost = 698, wirelen = 26362\n",
               now=12)
    assert not watch.stalled(now=12.5)
    watch.feed("Info: SA placement time 11.53s\n", now=13)
    assert not watch.placing and not watch.stalled(now=1000)


def test_a_line_cut_between_two_reads_is_read_once_whole():
    watch = PlaceWatch(stall_s=10)
    watch.feed("Info: Running main analytical placer, max placement attempts per cell = 9.\n"
               "Info:     at itera", now=0)
    assert watch.placing and watch.iteration is None
    assert watch.describe() == "placing, no progress line yet"
    watch.feed("tion #7, type ALL: wirelen solved = 1\n", now=9)
    assert watch.iteration == "at iteration #7" and not watch.stalled(now=18)


def test_the_pnr_watch_tells_a_placement_stall_from_a_routing_stall():
    placing = PnrWatch(place_stall_s=10, route_stall_s=1)
    placing.feed(STALLED, now=0)
    assert not placing.stalled(now=5) and placing.in_placement
    assert placing.stalled(now=10.5) and placing.in_placement
    assert placing.describe().startswith("placing")

    routing = PnrWatch(place_stall_s=10, route_stall_s=1)
    routing.feed(STALLED + PLACED + "Info: Routing..\n", now=0)
    assert not routing.in_placement and not routing.stalled(now=0.5)
    assert routing.stalled(now=1.5) and not routing.in_placement
    assert routing.describe() == "routing, no progress figure yet"


#: The static placer on the ECP5-85F engine (nextpnr 0.11): a line per iteration, then SA.
STATIC = """Info: Running Static placer...
Info: ⌁ bel grid 127x96, placer grid 127x95...
Info: initial steplen=0.010000 next steplen = 1.194502
Info: iter=91 steplen=0.918737 a=47.461494 penalty=[0.00, 0.00, 0.00, 0.00]
Info:    update_chains distance 153.20
Info:    system potential: 36735704.000000 hpwl: 3695.321777
Info: overlap: COMB=99.8%, FF=99.8%, RAM=98.9%, MUL=0.0%
"""


def test_the_static_placer_iterations_are_progress():
    watch = PlaceWatch(stall_s=10)
    watch.feed("Info: Device utilisation:\n", now=0)
    assert not watch.placing
    watch.feed(STATIC.split("Info: iter=")[0], now=1)
    assert watch.placing and watch.iteration is None and watch.stalled(now=11.5)
    watch.feed("Info: iter=" + STATIC.split("Info: iter=")[1], now=11)
    assert watch.iteration == "iter=91" and not watch.stalled(now=20.5)
    assert watch.describe() == "placing, last progress line 'iter=91'"
    watch.feed("Info:    update_chains distance 160.00\n", now=30)  # not an iteration
    assert watch.stalled(now=30)
    watch.feed("Info: Running simulated annealing placer for refinement.\n"
               "Info:   at iteration #1: temp = 0.000000, timing cost = 1, wirelen = 2\n"
               "Info: SA placement time 11.53s\n", now=31)
    assert not watch.placing and not watch.stalled(now=1000)
