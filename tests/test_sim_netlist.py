import pytest

from sim.netlist import NetlistError, flatten_cached, flatten_for_simulation

HIERARCHY = """\
module inner(input [3:0] a, output reg [4:0] y);
    always @* begin
        y = a;
        if (a[3]) y = a + 5'd1;
    end
endmodule
module outer(input [3:0] a, output [4:0] y);
    inner u(.a(a), .y(y));
endmodule
"""


def test_flattened_netlist_has_one_module_and_no_processes():
    text = flatten_for_simulation(HIERARCHY, "outer")
    assert text.count("endmodule") == 1 and "module outer" in text
    assert "always @*" not in text and "inner" not in text


def test_flatten_is_cached_by_content(tmp_path):
    first = flatten_cached(HIERARCHY, "outer", tmp_path)
    (cached,) = tmp_path.iterdir()
    assert cached.read_text() == first
    assert flatten_cached(HIERARCHY, "outer", tmp_path) == first
    assert len(list(tmp_path.iterdir())) == 1


def test_bad_verilog_is_a_netlist_error():
    with pytest.raises(NetlistError, match="could not flatten outer"):
        flatten_for_simulation("module outer(input a;\n", "outer")
