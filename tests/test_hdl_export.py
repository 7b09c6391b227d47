import re

from hdl_nets import random_qnet

from hdl.export import TOP_NAME, generate_rtlil, generate_verilog


def _ports(text):
    top = text[text.index(f"module {TOP_NAME}("):]
    top = top[:top.index("endmodule")]
    declarations = re.findall(r"^\s*(input|output)\s+(?:\[[^\]]+\]\s*)?(\S+);", top, re.M)
    return {name: kind for kind, name in declarations}


def test_top_name_and_stable_ports():
    qnet = random_qnet(1)
    text = generate_verilog(qnet, folding=[(2, 4), (2, 2)], in_lanes=4)
    ports = _ports(text)
    assert ports == {"clk": "input", "rst": "input", "i__valid": "input", "i__ready": "output",
                     "i__payload": "input", "o__valid": "output", "o__ready": "input",
                     "o__payload": "output"}
    z_bits = qnet.widths[-1].z_bits
    assert re.search(r"input \[19:0\] i__payload;", text)  # 4 lanes of 5 bits
    assert re.search(rf"output \[{4 + 10 * z_bits - 1}:0\] o__payload;", text)


def test_no_source_paths_and_deterministic():
    qnet = random_qnet(1)
    first = generate_verilog(qnet)
    assert first == generate_verilog(qnet)
    assert "/work" not in first and ".py" not in first and "src =" not in first
    rtlil = generate_rtlil(qnet, name="custom_top")
    assert "module \\custom_top" in rtlil and ".py" not in rtlil
