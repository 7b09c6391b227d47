import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from hdl_nets import pulse_latency, run_pipeline
from hypothesis import given, settings
from hypothesis import strategies as st

from hdl.adder_tree import SignSelectAdderTree, estimate, reference, tree_latency


def _run(lanes, x_shape, vectors, nonzero, negative, out_width, seed=0, family=None):
    dut = SignSelectAdderTree(lanes, x_shape, out_width)
    cases = [[(dut.x, [int(v) for v in x]), (dut.nonzero, int(sum(int(b) << k for k, b in
                                                                  enumerate(nz)))),
              (dut.negative, int(sum(int(b) << k for k, b in enumerate(ng))))]
             for x, nz, ng in zip(vectors, nonzero, negative, strict=True)]
    got = run_pipeline(dut, cases, [dut.partial, dut.carry], seed=seed,
                       platform=_Family(family) if family else None)
    return np.array([p + c for p, c in got])


def _out_width(lanes, x_shape):
    bound = lanes * (1 << x_shape.width)
    return (2 * bound).bit_length() + 1


@settings(max_examples=12, deadline=None)
@given(lanes=st.integers(1, 9), width=st.integers(1, 6), is_signed=st.booleans(),
       seed=st.integers(0, 2**16))
def test_tree_matches_reference_random(lanes, width, is_signed, seed):
    rng = np.random.default_rng(seed)
    shape = signed(width) if is_signed else unsigned(width)
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1))) if is_signed else (0, 1 << width)
    vectors = rng.integers(lo, hi, size=(12, lanes))
    nonzero = rng.integers(0, 2, size=(12, lanes))
    negative = rng.integers(0, 2, size=(12, lanes))
    got = _run(lanes, shape, vectors, nonzero, negative, _out_width(lanes, shape), seed)
    assert np.array_equal(got, reference(vectors, nonzero, negative))


@pytest.mark.parametrize("family", ["ecp5", "ice40"])
@pytest.mark.parametrize("is_signed", [False, True])
def test_tree_matches_reference_as_elaborated_for_each_family(family, is_signed):
    """The ECP5 leaf zeroes a zero weight with a LUT mask, the iCE40 one with a reset: both
    exact, the extremes included (all lanes zero, all negative at the most negative x)."""
    rng = np.random.default_rng(7)
    lanes, width = 7, 5
    shape = signed(width) if is_signed else unsigned(width)
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1))) if is_signed else (0, 1 << width)
    vectors = np.concatenate([rng.integers(lo, hi, size=(20, lanes)),
                              np.full((2, lanes), lo), np.full((2, lanes), hi - 1)])
    nonzero = np.concatenate([rng.integers(0, 2, size=(20, lanes)), np.zeros((1, lanes)),
                              np.ones((3, lanes))]).astype(int)
    negative = np.concatenate([rng.integers(0, 2, size=(20, lanes)),
                               np.ones((4, lanes))]).astype(int)
    got = _run(lanes, shape, vectors, nonzero, negative, _out_width(lanes, shape), 3, family)
    assert np.array_equal(got, reference(vectors, nonzero, negative))


def test_ecp5_leaves_zero_by_mask_not_by_a_reset_per_lane(tmp_path):
    """Yosys turns ``Mux(nonzero, ±x, 0)`` into a flip-flop reset, one net per lane; an ECP5
    tile has two reset lines, and 1,552 lane resets kept nextpnr from placing the 85F engine.
    Elaborated for the ECP5 the leaves zero by a mask: no reset but the valid bits', and the
    same LUTs and carry cells as the reset form."""
    import json
    import subprocess
    from collections import Counter

    from amaranth.back import verilog

    from hdl.yosys_check import _yosys_command

    def netlist(family):
        tree = SignSelectAdderTree(16, unsigned(8), 14)
        (tmp_path / "tree.v").write_text(verilog.convert(
            tree, name="tree", emit_src=False, platform=_Family(family) if family else None))
        subprocess.run(_yosys_command() + ["-q", "-p", "read_verilog tree.v; synth_ecp5 -top "
                                           "tree; write_json tree.json"],
                       cwd=tmp_path, check=True, capture_output=True, timeout=300)
        cells = json.loads((tmp_path / "tree.json").read_text())["modules"]["tree"]["cells"]
        resets = {tuple(c["connections"]["LSR"]) for c in cells.values()
                  if c["type"] == "TRELLIS_FF" and "LSR" in c["connections"]}
        return len(resets), Counter(c["type"] for c in cells.values())

    ecp5_resets, ecp5_cells = netlist("ecp5")
    plain_resets, plain_cells = netlist(None)
    assert plain_resets == 17         # the valid bits' reset and one per lane
    assert ecp5_resets <= 2           # the valid bits' reset (and a constant)
    for kind in ("LUT4", "CCU2C", "TRELLIS_FF"):
        assert ecp5_cells[kind] == plain_cells[kind], kind


@pytest.mark.parametrize("lanes", [1, 2, 5, 16])
def test_tree_extremes_all_negative_and_all_zero(lanes):
    shape = unsigned(5)
    vectors = np.array([[31] * lanes, [31] * lanes, [0] * lanes, [31] * lanes])
    nonzero = np.array([[1] * lanes, [1] * lanes, [1] * lanes, [0] * lanes])
    negative = np.array([[1] * lanes, [0] * lanes, [1] * lanes, [1] * lanes])
    got = _run(lanes, shape, vectors, nonzero, negative, _out_width(lanes, shape))
    assert got.tolist() == [-31 * lanes, 31 * lanes, 0, 0]


def test_signed_minimum_negated_exactly():
    shape = signed(4)
    got = _run(3, shape, np.array([[-8, -8, -8]]), np.array([[1, 1, 1]]), np.array([[1, 1, 0]]),
               _out_width(3, shape))
    assert got.tolist() == [8]


def test_latency_and_estimate():
    # The input register, the leaf register, then one register per level.
    assert tree_latency(1) == 2
    assert tree_latency(2) == 3
    assert tree_latency(64) == 8
    est = estimate(64, 6, 14)
    assert est["cycles"] == 8 and est["lut"] > 64 * 6


@pytest.mark.parametrize("lanes", [1, 2, 5, 8])
def test_multiply_tree_matches_reference(lanes):
    from hdl import baseline
    rng = np.random.default_rng(lanes)
    shape = unsigned(4)
    x = rng.integers(0, 16, size=(10, lanes))
    nonzero = rng.integers(0, 2, size=(10, lanes))
    negative = rng.integers(0, 2, size=(10, lanes))
    weights = rng.integers(-128, 128, size=(10, lanes))
    dut = baseline.MultiplyAdderTree(lanes, shape, 4 + 1 + 8 + lanes.bit_length() + 1)
    assert dut.latency == tree_latency(lanes)
    def bits(row):
        return int(sum(int(b) << k for k, b in enumerate(row)))
    cases = [[(dut.x, [int(v) for v in xs]), (dut.nonzero, bits(nz)), (dut.negative, bits(ng)),
              (dut.weight, [int(w) for w in ws])]
             for xs, nz, ng, ws in zip(x, nonzero, negative, weights, strict=True)]
    got = run_pipeline(dut, cases, [dut.partial, dut.carry])
    signed_x = np.where(nonzero != 0, np.where(negative != 0, -x, x), 0)
    assert [p for p, _ in got] == baseline.reference(signed_x, weights).tolist()
    assert all(c == 0 for _, c in got)


@pytest.mark.parametrize("lanes", [1, 3, 262])
def test_valid_out_exactly_latency_after_valid_in(lanes):
    # The MVU delays its control by `latency`: the sum must arrive exactly then.
    dut = SignSelectAdderTree(lanes, unsigned(4), _out_width(lanes, unsigned(4)))
    assert pulse_latency(dut, [(dut.x, [3] * lanes), (dut.nonzero, (1 << lanes) - 1)],
                         dut.partial) == (tree_latency(lanes), 3 * lanes)


class _Family:
    """A stand-in platform: all the trees read of one is its ``family``."""

    def __init__(self, family):
        self.family = family


def _partial_after_reset(family, tree_class=SignSelectAdderTree):
    """Fill a 4-lane tree's pipeline, pulse the reset one cycle, read ``partial``."""
    from amaranth.hdl import ClockDomain, Elaboratable, Fragment, Module
    from amaranth.sim import Simulator

    tree = tree_class(4, unsigned(3), 8)

    class Top(Elaboratable):
        def elaborate(self, platform):
            m = Module()
            m.domains.sync = self.cd = ClockDomain()
            m.submodules.tree = tree
            return m

    top = Top()
    sim = Simulator(Fragment.get(top, _Family(family) if family else None))
    sim.add_clock(1e-6)
    seen = {}

    async def bench(ctx):
        ctx.set(tree.x, [7, 7, 7, 7])
        ctx.set(tree.nonzero, 0b1111)
        if tree_class is not SignSelectAdderTree:
            ctx.set(tree.weight, [1, 1, 1, 1])
        ctx.set(tree.valid_in, 1)
        await ctx.tick().repeat(tree.latency + 1)
        seen["before"] = ctx.get(tree.partial) + ctx.get(tree.carry)
        ctx.set(top.cd.rst, 1)
        await ctx.tick()
        ctx.set(top.cd.rst, 0)
        seen["valid"] = ctx.get(tree.valid_out)
        seen["after"] = ctx.get(tree.partial)

    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize("tree_class", ["signselect", "multiply"])
def test_tree_data_registers_reset_less_on_ecp5_only(tree_class):
    from hdl.multiply_tree import MultiplyAdderTree
    cls = SignSelectAdderTree if tree_class == "signselect" else MultiplyAdderTree
    ecp5, ice40, plain = (_partial_after_reset(f, cls) for f in ("ecp5", "ice40", None))
    for seen in (ecp5, ice40, plain):
        assert seen["before"] == 28
        assert seen["valid"] == 0  # the valid bits keep their reset on every family
    # The reset does not reach the ECP5's tree data registers: the root keeps its sum.
    assert ecp5["after"] == 28
    assert ice40["after"] == 0 and plain["after"] == 0


def test_ecp5_tree_costs_one_lut_per_leaf_bit_and_no_widened_adders():
    """16 lanes of unsigned 4-bit x: 5-bit leaves (one LUT per bit, the sign bit
    doubling as the carry) and adders of 6, 7, 8 and 9 bits whose carry-in takes
    the leaves' carries (3, 4, 4 and 5 CCU2C each: 24 + 16 + 8 + 5)."""
    from amaranth.back import verilog

    from hdl.yosys_check import synth_stats

    tree = SignSelectAdderTree(16, unsigned(4), 11)
    counts = synth_stats(verilog.convert(tree, name="tree", emit_src=False), "ecp5-nodsp",
                         top="tree")
    assert counts.get("CCU2C", 0) == 53
    assert counts.get("$lut", 0) + counts.get("LUT4", 0) == 16 * 5
