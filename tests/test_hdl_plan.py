"""Planning is pure data, and splitting it from elaboration changed nothing.

The digests below were recorded from the generator before planning moved
out of the components: the same QNets and options must give byte-identical
Verilog, identical estimates and the same automatic foldings.
"""

import ast
import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hdl_nets import random_qnet
from hdl_plan_cases import CASES, build, fingerprint

ROOT = Path(__file__).resolve().parent.parent

#: Recorded before the split (sha256 of the Verilog and of the estimate's sorted JSON); the
#: Verilog re-recorded when the argmax stopped forming beat * lanes (same logic), and when
#: the adder tree's leaf carries moved into the adders' carry-in (same values: the tree,
#: MVU and accelerator tests check them against the references).
RECORDED = {
    "demo_auto_icebreaker": (
        "ae067ae738424c87c12327744b06b769339fead5fac0863e3a325166c3e8f5a5",
        "7b8c072b213bdc9641b1bec66ab11f9d7e24f7f09ae436e52f8757b940635619",
        [[1, 16], [1, 3]]),
    "pow2_trec_tlin": (
        "355fa9ff459740a6618d34b6e6013397a986bb4220c957af1a2313e4cf29a546",
        "ab4cc2f30e8cc18431eb78f33d13a886999c39d92a6557f75648ee87d8a8e041",
        [[4, 8], [2, 4], [1, 2]]),
    "spram": (
        "652efa863a853a0956adc083874ba508f81256977b6c8519e96fb7ddf86d3667",
        "de2dcac6b191d465a324285592ee31c1928d2ed4bb814e9fcdc60e14d64ca013",
        [[2, 8], [2, 4]]),
    "ram_binary_uneven": (
        "d44409315b48bdc81bc310a2de57558cfcb0cb4fc38a790da6ccca46afb83769",
        "4d27ed7d07325462571afc258c0a6845630185341cb29cd4aeb59242b014b3d1",
        [[3, 5], [4, 3]]),
    "baseline": (
        "6759420dc60ae4e9fa3ad2bb1b5f290e1494d34d02e0b9123eb2b2b0d31704a4",
        "45da2295db6300060eca585580c5e0a7b2f6316c5863f20aae71bffe1841d159",
        [[2, 4], [1, 4]]),
    "auto_target": (
        "43dd310a4d04d8533004151966122ac8f224f0fe6c40967dcbc3a6b962401b6d",
        "73b98c54ad22753dd86c5cb37cb11e149ed98be104b3b862ffd750dfe54d6527",
        [[1, 32], [1, 6]]),
}


def test_every_case_has_a_recording():
    assert set(RECORDED) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_design_unchanged(name):
    verilog, estimate, folding = RECORDED[name]
    got = fingerprint(name)
    assert got["folding"] == folding
    assert got["estimate"] == estimate
    assert got["verilog"] == verilog


def test_memory_plan_unchanged():
    from boards.memory_plan import plan_memory
    from boards.registry import get_board

    qnet = random_qnet(6, sizes=(784, 128, 10))
    plan = plan_memory(qnet, get_board("icebreaker"), "auto", lut_budget=2112)
    assert plan.weight_store == ["spram", "rom"]
    assert plan.folding == [(1, 40), (1, 1)]
    assert "213,415 bits in 56 blocks" in plan.reason


#: Planning code: everything automatic folding, the pre-check and reports need.
PLANNING_MODULES = (
    "hdl.accelerator_plan", "hdl.layer_plan", "hdl.estimate", "hdl.folding",
    "hdl.weight_load_plan", "hdl.mvu_plan", "hdl.adder_tree_plan", "hdl.argmax_plan",
    "hdl.barrel_shifter_plan", "hdl.pow2_plan", "hdl.regroup_plan", "hdl.requantize_plan",
    "hdl.stream_register_plan", "hdl.weight_memory_plan", "boards.memory_plan",
    "boards.precheck",
)
#: Component modules, which planning must never import.
COMPONENT_MODULES = ("hdl.accelerator", "hdl.mvu", "hdl.baseline", "hdl.multiply_tree",
                     "hdl.adder_tree", "hdl.requantize", "hdl.weight_memory", "hdl.weight_load")


def _modules_after(statements):
    """Modules loaded by a fresh interpreter after running ``statements``."""
    code = statements + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=120, check=True)
    return set(result.stdout.split())


def test_planning_imports_no_amaranth_and_no_component():
    loaded = _modules_after("\n".join(f"import {name}" for name in PLANNING_MODULES))
    assert set(PLANNING_MODULES) <= loaded
    assert sorted(name for name in loaded if name.split(".")[0] == "amaranth") == []
    assert sorted(loaded & set(COMPONENT_MODULES)) == []


def test_planning_and_estimating_a_design_stays_pure():
    # Not only the imports: planning, folding and estimating run without Amaranth too.
    loaded = _modules_after(
        "from boards_qnets import make_qnet\n"
        "from hdl.accelerator_plan import plan_accelerator\n"
        "plan = plan_accelerator(make_qnet(pow2=True), 'auto', weight_store=['spram', 'rom'])\n"
        "assert plan.report()['totals']['lut'] > 0 and plan.load_map.loadable")
    assert sorted(name for name in loaded if name.split(".")[0] == "amaranth") == []


def test_baseline_mvu_needs_no_accelerator():
    # The circle mvu -> baseline -> accelerator -> mvu: an MVU of the multiplier
    # baseline is built from the tree's own module.
    loaded = _modules_after(
        "from hdl_nets import random_qnet\n"
        "from hdl.layer_plan import plan_layer\n"
        "from hdl.mvu import MVU\n"
        "from amaranth.back import rtlil\n"
        "plan = plan_layer(random_qnet(0), 0, 2, 4, 1, datapath='multiply')\n"
        "rtlil.convert(MVU(plan))")
    assert sorted(loaded & {"hdl.baseline", "hdl.accelerator"}) == []
    assert "hdl.multiply_tree" in loaded


def test_accelerator_from_plan_is_the_same_design():
    from amaranth.back import verilog

    from hdl.accelerator import Accelerator
    from hdl.accelerator_plan import plan_accelerator
    from hdl.export import TOP_NAME

    qnet, options = build("spram")
    plan = plan_accelerator(qnet, **options)
    accelerator = Accelerator.from_plan(plan)
    assert accelerator.plan is plan and accelerator.plans == list(plan.layers)
    text = verilog.convert(accelerator, name=TOP_NAME, emit_src=False)
    assert hashlib.sha256(text.encode()).hexdigest() == RECORDED["spram"][0]
    assert accelerator.estimate() == plan.report()


def test_plan_is_frozen_data():
    from hdl.accelerator_plan import plan_accelerator

    plan = plan_accelerator(random_qnet(0), [(2, 4), (1, 2)], weight_store="ram")
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.folding = ((1, 1), (1, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.layers[0].pe = 3
    assert plan.folding == ((2, 4), (1, 2)) and plan.weight_stores == ("ram", "ram")
    assert [(layer.pe, layer.simd) for layer in plan.layers] == [(2, 4), (1, 2)]
    assert plan.loadable and plan.load_map.layers == [0, 1]
    assert plan.cycles_per_image == plan.estimate["cycles_per_image"] == 8 * 16


def test_plan_of_another_qnet_is_refused():
    from hdl.accelerator import Accelerator
    from hdl.accelerator_plan import plan_accelerator
    from hdl.errors import HardwareGenerationError

    plan = plan_accelerator(random_qnet(0))
    with pytest.raises(HardwareGenerationError, match="plan: expected a plan of the given qnet"):
        Accelerator(random_qnet(1), plan=plan)
    with pytest.raises(HardwareGenerationError, match="qnet: expected a QNet"):
        Accelerator()


def test_plan_lists_each_layers_memories():
    from hdl.accelerator_plan import plan_accelerator

    qnet, options = build("spram")  # 64-32-10, folding (2, 8), (2, 4), weights in SPRAM
    plan = plan_accelerator(qnet, **options)
    first = {memory.name: memory for memory in plan.memories[0]}
    assert sorted(first) == ["input_buffer", "output_fifo", "parameters", "weight_decode0",
                             "weight_decode1", "weight_decode2", "weight_decode3", "weights"]
    weights = first["weights"]
    # 16 lanes of ternary weights packed five to a byte: 4 bytes, 64/8 * 32/2 words.
    assert (weights.kind, weights.width, weights.depth) == ("spram", 32, 128)
    assert weights.block_rams == {"ice40": 0, "ecp5": 0}
    buffer = first["input_buffer"]
    assert (buffer.kind, buffer.width, buffer.depth) == ("block_ram", 8 * 5, 2 * 8)
    assert first["weight_decode0"].block_rams == {"ice40": 1, "ecp5": 1}
    for memories, entry in zip(plan.memories, plan.estimate["layers"], strict=True):
        for family, blocks in entry["block_rams"].items():
            assert sum(memory.block_rams[family] for memory in memories) == blocks
    fifo = first["output_fifo"]
    assert fifo.kind == "logic" and fifo.depth <= 8


def _hdl_imports():
    """``module -> hdl modules it imports`` for every ``hdl/*.py``, lazy imports included."""
    graph = {}
    for path in sorted((ROOT / "hdl").glob("*.py")):
        name = f"hdl.{path.stem}"
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = "hdl" if node.level == 1 else node.module
                if node.level == 1 and node.module:
                    base = f"hdl.{node.module}"
                targets.add(base)
                targets.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = {target for target in targets if target.startswith("hdl.")}
    return {name: {target for target in targets if target in graph and target != name}
            for name, targets in graph.items()}


def test_hdl_has_no_import_circle():
    graph = _hdl_imports()
    assert "hdl.multiply_tree" in graph["hdl.mvu"]

    def circle_from(start, path):
        for target in sorted(graph[path[-1]]):
            if target == start:
                return path + [start]
            if target not in path:
                found = circle_from(start, path + [target])
                if found:
                    return found
        return None

    circles = [circle_from(name, [name]) for name in sorted(graph)]
    assert [circle for circle in circles if circle] == []


@pytest.mark.parametrize("options,message", [
    ({"folding": [(3, 1), (1, 1), (1, 1), (1, 1)]}, "layer 0: pe: expected a divisor of its 4 "
                                                    "output channels, got 3"),
    ({"in_lanes": 2}, "layer 0: in_lanes: expected a divisor of its 1 input channels"),
])
def test_convolutional_plan_refusals(options, message):
    from qnet_conv_nets import digits_cnn

    from hdl.accelerator_plan import plan_accelerator
    from hdl.errors import HardwareGenerationError

    with pytest.raises(HardwareGenerationError, match=message):
        plan_accelerator(digits_cnn(), **options)


def test_convolutional_plan_puts_conv_weights_in_spram_and_pools_in_rom():
    from qnet_conv_nets import digits_cnn

    from hdl.accelerator_plan import plan_accelerator

    plan = plan_accelerator(digits_cnn(pool=True), [(2, 3), (1, 1), (3, 12), (1, 1), (5, 6)],
                            weight_store="spram")
    # A pool or flatten has no weights: 'rom' whatever it was given.
    assert plan.weight_stores == ("spram", "rom", "spram", "rom", "spram")
    assert plan.loadable and [layer.weight_store for layer in plan.layers] == ["spram"] * 3
    # conv 0: 4 x 9 ternary weights at 2 x 3 lanes, 2 x 3 words of one packed slice each
    first = plan.layers[0]
    assert (first.weight_depth, first.weight_slices, first.spram_blocks) == (6, 1, 1)
    # The load address's layer field is the QNet layer index, as the accelerator decodes it.
    assert plan.load_map.layers == [0, 2, 4] and plan.load_map.layer_width == 3
    assert plan.load_map.split(plan.load_map.address(4, 0, 5)) == (4, 0, 5)
    assert plan.load_map.total_slices == sum(p.weight_depth * p.weight_slices
                                             for p in plan.layers)
    assert plan.estimate["totals"]["spram_blocks"] == sum(p.spram_blocks for p in plan.layers)


def test_convolutional_plan_keeps_folding_per_qnet_layer():
    from qnet_conv_nets import digits_cnn

    from hdl.accelerator_plan import plan_accelerator

    plan = plan_accelerator(digits_cnn(pool=True), [(2, 3), (7, 7), (3, 12), (1, 1), (5, 6)])
    # The pool's and the flatten's pairs are not used: no MVU for them.
    assert [layer.index for layer in plan.layers] == [0, 2, 4]
    assert [p.window is not None for p in plan.layers] == [True, True, False]
    assert plan.layers[1].in_lanes == 2 and plan.layers[2].in_lanes == 3
    (k, pool), = plan.pools
    assert k == 1 and (pool.lanes, pool.signed, pool.element_width) == (2, True, 4)


def test_images_in_flight_estimate():
    from hdl.accelerator_plan import plan_accelerator
    from hdl.mvu_plan import GROUP_WAIT

    qnet = random_qnet(1)
    one = plan_accelerator(qnet, [(4, 8), (2, 4)], in_lanes=8)
    three = plan_accelerator(qnet, [(4, 8), (2, 4)], in_lanes=8, images=3)
    assert three.report()["images"] == 3 and "images" not in one.report()
    # A group of 3 shares one pass of the compute loop: exact, not rounded.
    assert one.cycles_per_image == 32 and three.cycles_per_image == 32 / 3
    layer = three.estimate["layers"][0]
    assert layer["images"] == 3 and layer["compute_cycles"] == 32
    # An image sent alone waits GROUP_WAIT cycles for company, then the whole group drains.
    assert three.latency_cycles > one.latency_cycles + 2 * GROUP_WAIT
    names = {memory.name: memory for memory in three.memories[0]}
    assert "output_fifo" not in names
    assert (names["output_buffer"].width, names["output_buffer"].depth) == (4 * 4, 2 * 3 * 4)
    assert names["input_buffer"].width == 3 * 8 * 5
    # Trees and accumulators grow with the images; requantizers are shared.
    assert one.estimate["totals"]["lut"] < three.estimate["totals"]["lut"] \
        < 3 * one.estimate["totals"]["lut"]
