from sim.harness import HARNESS_TOP, VERILATOR_ARGS, harness_verilog


def test_harness_ports_follow_the_stream_widths():
    text = harness_verilog(in_width=15, out_width=84, beats_per_image=22)
    assert f"module {HARNESS_TOP} (" in text
    assert "input  wire [14:0]    tb_i_payload" in text
    assert "output wire [83:0]    tb_o_payload" in text
    assert "localparam BEATS_PER_IMAGE = 22;" in text
    assert "mulfree_accel dut (" in text and ".o__payload(acc_o_payload)" in text
    assert '"mulfree_stimulus.hex"' in text and '"mulfree_responses.txt"' in text


def test_verilator_gets_timing_for_the_internal_clock():
    assert "--timing" in VERILATOR_ARGS
    assert "always #5 clk = ~clk;" in harness_verilog(5, 20, 64)
