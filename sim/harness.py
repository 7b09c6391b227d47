"""A Verilog test harness around ``mulfree_accel`` for fast bulk runs.

Driving a stream from Python costs a few Python wake-ups per clock cycle,
which caps a cocotb testbench at tens of thousands of cycles per second. For
the long runs (every test image) the harness does the per-cycle work in the
simulator instead: it reads the input beats from a file, applies pseudo-random
valid/ready gaps from two xorshift generators, and writes every output
transfer (with its cycle number) to a file. cocotb only starts a run, waits
for ``done`` and checks the file in bulk with NumPy.

The same harness also passes the accelerator's ports through to ``tb_*``
ports, so the Python-driven scenarios (reset in the middle of an image, hand
timed gaps) run on the same build: ``bulk = 0`` selects them.

The clock is generated inside the harness (``always #5``): a clock driven
from cocotb costs a simulator callback per edge. On Verilator this needs
``--timing`` (see :data:`VERILATOR_ARGS`).

Files (in the simulation's working directory)
---------------------------------------------
``mulfree_stimulus.hex``
    First line: number of beats (hex); then one beat per line (hex, lane
    ``k`` at bits ``[k*B_in, (k+1)*B_in)``). Written by :mod:`sim.stream_codec`.
``mulfree_responses.txt``
    ``i <cycle>`` when the first beat of an image transfers, ``o <cycle>
    <payload hex>`` for every output transfer, ``e <cycle>`` at the end.
``mulfree_weights.hex``
    Only for an accelerator with loadable weights: the number of writes
    (hex), then one ``wload`` write per line (``data << addr_width | addr``,
    hex). A pulse on ``load_start`` streams them into ``wload``, one per
    cycle; ``weights_loaded`` (the accelerator's ``weights_ready``) rises after
    the last. Reset does not touch the weights, as on a board.

Members
-------
HARNESS_TOP
    Module name of the harness.
VERILATOR_ARGS
    Compile arguments the harness needs on Verilator.
harness_verilog
    The harness source for one accelerator's port widths.
"""

HARNESS_TOP = "mulfree_harness"
STIMULUS_FILE = "mulfree_stimulus.hex"
RESPONSES_FILE = "mulfree_responses.txt"
WEIGHTS_FILE = "mulfree_weights.hex"

_LOAD_PORTS = """,
    input  wire                load_start,
    output reg                 weights_loaded"""

_LOAD_CONNECT = """,
        .wload({{load_entry, load_en}}),
        .weights_ready(weights_loaded)"""

_LOAD_LOGIC = """
    // Weight load: one wload write per cycle from {weights}, independent of tb_rst.
    reg              load_en = 1'b0;
    reg  [{lw_hi}:0] load_entry = 0, load_next;
    reg              loading = 1'b0;
    integer          load_fd, load_scanned;
    reg  [31:0]      load_total, load_done;
    initial weights_loaded = 1'b0;
    always @(posedge clk) begin
        if (load_start && !loading) begin
            load_fd = $fopen("{weights}", "r");
            load_scanned = $fscanf(load_fd, "%h\\n", load_total);
            load_done      <= 0;
            loading        <= 1'b1;
            load_en        <= 1'b0;
            weights_loaded <= 1'b0;
        end else if (loading) begin
            if (load_done < load_total) begin
                // Read into a variable first: the DUT samples load_entry on this edge.
                load_scanned = $fscanf(load_fd, "%h\\n", load_next);
                load_entry <= load_next;
                load_en    <= 1'b1;
                load_done <= load_done + 1;
            end else begin
                load_en        <= 1'b0;
                loading        <= 1'b0;
                weights_loaded <= 1'b1;
                $fclose(load_fd);
            end
        end
    end
"""

#: ``--timing`` for the ``#5`` clock (Verilator's coroutines need C++20).
VERILATOR_ARGS = ("--timing", "-CFLAGS", "-std=c++20")

_TEMPLATE = """\
`timescale 1ns/1ps
// Test harness for {accel}: file-driven streams with pseudo-random gaps
// (bulk = 1), or the accelerator's ports passed through to tb_* (bulk = 0).
module {top} (
    input  wire                tb_rst,
    input  wire                bulk,
    input  wire                start,
    input  wire [7:0]          in_gap,
    input  wire [7:0]          out_gap,
    input  wire [31:0]         seed,
    input  wire                tb_i_valid,
    output wire                tb_i_ready,
    input  wire [{iw_hi}:0]    tb_i_payload,
    output wire                tb_o_valid,
    input  wire                tb_o_ready,
    output wire [{ow_hi}:0]    tb_o_payload,
    output reg  [63:0]         cycle,
    output reg  [31:0]         images_out,
    output reg                 running,
    output reg                 done{load_ports}
);
    localparam BEATS_PER_IMAGE = {beats_per_image};

    reg clk = 1'b0;
    always #5 clk = ~clk;

    reg              src_valid;
    reg  [{iw_hi}:0] src_payload;
    reg              snk_ready;
    wire             acc_i_ready;
    wire             acc_o_valid;
    wire [{ow_hi}:0] acc_o_payload;

    wire             acc_i_valid   = bulk ? src_valid : tb_i_valid;
    wire [{iw_hi}:0] acc_i_payload = bulk ? src_payload : tb_i_payload;
    wire             acc_o_ready   = bulk ? snk_ready : tb_o_ready;

    assign tb_i_ready   = acc_i_ready;
    assign tb_o_valid   = acc_o_valid;
    assign tb_o_payload = acc_o_payload;

{load_logic}
    {accel} dut (
        .clk(clk),
        .rst(tb_rst),
        .i__valid(acc_i_valid),
        .i__ready(acc_i_ready),
        .i__payload(acc_i_payload),
        .o__valid(acc_o_valid),
        .o__ready(acc_o_ready),
        .o__payload(acc_o_payload){load_connect}
    );


    // xorshift32: a new 8-bit draw per cycle for each stream.
    function [31:0] xorshift(input [31:0] x);
        reg [31:0] y;
        begin
            y = x ^ (x << 13);
            y = y ^ (y >> 17);
            xorshift = y ^ (y << 5);
        end
    endfunction

    reg  [31:0] rng_in, rng_out;
    integer     stim_fd, resp_fd, scanned;
    reg  [31:0] beats_total, beats_read, beats_sent;
    reg  [31:0] images_total;

    always @(posedge clk) begin
        if (tb_rst) begin
            cycle <= 0;
        end else begin
            cycle <= cycle + 1;
        end
    end

    always @(posedge clk) begin
        if (tb_rst || !bulk) begin
            src_valid  <= 1'b0;
            snk_ready  <= 1'b0;
            images_out <= 0;
            running    <= 1'b0;
            done       <= 1'b0;
            rng_in     <= seed | 32'h1;
            rng_out    <= (seed ^ 32'h9e3779b9) | 32'h1;
        end else if (start && !running) begin
            stim_fd = $fopen("{stimulus}", "r");
            resp_fd = $fopen("{responses}", "w");
            scanned = $fscanf(stim_fd, "%h\\n", beats_total);
            images_total <= beats_total / BEATS_PER_IMAGE;
            beats_read   <= 0;
            beats_sent   <= 0;
            images_out   <= 0;
            running      <= 1'b1;
            done         <= 1'b0;
            src_valid    <= 1'b0;
        end else if (running) begin
            rng_in  <= xorshift(rng_in);
            rng_out <= xorshift(rng_out);
            if (src_valid && acc_i_ready) begin
                if (beats_sent % BEATS_PER_IMAGE == 0)
                    $fwrite(resp_fd, "i %0d\\n", cycle);
                beats_sent <= beats_sent + 1;
            end
            // A new beat is offered only once the current one has gone.
            if (!src_valid || acc_i_ready) begin
                if (beats_read < beats_total && rng_in[7:0] >= in_gap) begin
                    scanned = $fscanf(stim_fd, "%h\\n", src_payload);
                    beats_read <= beats_read + 1;
                    src_valid  <= 1'b1;
                end else begin
                    src_valid <= 1'b0;
                end
            end
            snk_ready <= rng_out[7:0] >= out_gap;
            if (acc_o_valid && acc_o_ready) begin
                $fwrite(resp_fd, "o %0d %h\\n", cycle, acc_o_payload);
                images_out <= images_out + 1;
                if (images_out + 1 == images_total) begin
                    $fwrite(resp_fd, "e %0d\\n", cycle);
                    $fclose(resp_fd);
                    $fclose(stim_fd);
                    running <= 1'b0;
                    done    <= 1'b1;
                end
            end
        end
    end
endmodule
"""


def harness_verilog(in_width, out_width, beats_per_image, accel="mulfree_accel",
                    load_width=None):
    """Verilog source of the harness.

    Parameters
    ----------
    in_width : int
        Width of ``i__payload`` (``bits * in_lanes``).
    out_width : int
        Width of ``o__payload``.
    beats_per_image : int
        ``ceil(n_inputs / in_lanes)``.
    accel : str
        Module name of the accelerator.
    load_width : int, optional
        For an accelerator with loadable weights: the width of ``wload``
        without its ``en`` bit (address plus 16 data bits).

    Returns
    -------
    str
    """
    load = {"load_ports": "", "load_connect": "", "load_logic": ""}
    if load_width:
        load = {"load_ports": _LOAD_PORTS, "load_connect": _LOAD_CONNECT.format(),
                "load_logic": _LOAD_LOGIC.format(lw_hi=int(load_width) - 1,
                                                 weights=WEIGHTS_FILE)}
    return _TEMPLATE.format(top=HARNESS_TOP, accel=accel, iw_hi=int(in_width) - 1,
                            ow_hi=int(out_width) - 1, beats_per_image=int(beats_per_image),
                            stimulus=STIMULUS_FILE, responses=RESPONSES_FILE, **load)
