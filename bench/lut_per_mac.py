"""LUTs per MAC lane: the sign-select (ternary) datapath vs the int8 multiplier baseline.

For each activation width, one dense layer (64 inputs -> 16 neurons, ternary
weights) is built as an MVU at two lane counts (PE x SIMD) with both
datapaths and synthesized by Yosys for iCE40 and ECP5 without DSP blocks
(``synth_ice40``; ``synth_ecp5 -nodsp``), so that multipliers become logic.
Each design is elaborated for the family it is synthesized for (a stand-in
platform naming the family), so per-family choices such as the ECP5's
reset-less tree registers (:mod:`hdl.register_reset`) are measured as built.
Printed per design: LUT4s, LUTs per lane (total / lanes, which includes the
fixed control, accumulator and requantize cost), LUTs per stored weight, and
the multiplier cells found with DSPs allowed (must be none for the
sign-select datapath). The marginal LUTs per added lane (difference between
the two lane counts) is the cost of one MAC lane itself: with the default
foldings only SIMD changes, so the PE count (accumulators, requantizers)
stays fixed and the difference is the adder tree and its leaves.

A second table isolates the MAC lanes themselves: the adder tree with its
leaves (sign select, or an 8-bit signed multiplier) at 16 and 64 lanes, with
no memories, accumulator or control around it.

Usage: python bench/lut_per_mac.py [--bits 4 8] [--lanes 1x16 1x64] [--trees-only]
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from amaranth.back import verilog
from amaranth.hdl import Elaboratable, Module, unsigned

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golden_model.qnet import InputSpec, QLayer, QNet  # noqa: E402
from hdl.adder_tree import SignSelectAdderTree  # noqa: E402
from hdl.baseline import MultiplyAdderTree  # noqa: E402
from hdl.layer_plan import plan_layer  # noqa: E402
from hdl.mvu import MVU  # noqa: E402
from hdl.yosys_check import lut_count, multiplier_cells, synth_stats  # noqa: E402

N_IN, N_OUT = 64, 16


def layer_qnet(bits, seed=0):
    rng = np.random.default_rng(seed)
    first = QLayer(weights=rng.integers(-1, 2, size=(N_OUT, N_IN)),
                   bias=rng.integers(-50, 50, N_OUT), shift=rng.integers(2, 6, N_OUT),
                   activation="relu", out_bits=bits)
    last = QLayer(weights=rng.integers(-1, 2, size=(10, N_OUT)), bias=np.zeros(10, int),
                  shift=np.zeros(10, int), activation="linear")
    return QNet(input=InputSpec(N_IN, bits), layers=[first, last])


class FamilyPlatform:
    """A stand-in platform that names only its family: the design is elaborated for it
    (per-family choices such as :mod:`hdl.register_reset`) but no toolchain is run."""

    def __init__(self, family):
        self.family = family


#: Family -> (platform stand-in, Yosys flow without DSPs).
FAMILIES = {"ice40": (FamilyPlatform("ice40"), "ice40-nodsp"),
            "ecp5": (FamilyPlatform("ecp5"), "ecp5-nodsp")}


def mvu_verilog(qnet, pe, simd, datapath, family=None):
    plan = plan_layer(qnet, 0, pe, simd, simd, datapath)
    platform = FAMILIES[family][0] if family else None
    return verilog.convert(MVU(plan), name="mvu", emit_src=False, platform=platform)


class _PlainInputTree(Elaboratable):
    """The multiplier tree as the MVU builds it for plain (non-pow2) activations:
    the input-code bits are constants, so only ``x`` and ``weight`` are free."""

    def __init__(self, tree):
        self.tree = tree
        self.valid_in, self.x, self.weight = tree.valid_in, tree.x, tree.weight
        self.valid_out, self.partial = tree.valid_out, tree.partial

    def elaborate(self, platform):
        m = Module()
        m.submodules.tree = self.tree
        m.d.comb += [self.tree.nonzero.eq(-1), self.tree.negative.eq(0)]
        return m


def tree_verilog(lanes, bits, datapath, family=None):
    platform = FAMILIES[family][0] if family else None
    if datapath == "multiply":
        tree = _PlainInputTree(
            MultiplyAdderTree(lanes, unsigned(bits), bits + 9 + lanes.bit_length()))
        ports = [tree.valid_in, tree.x.as_value(), tree.weight.as_value(), tree.valid_out,
                 tree.partial]
        return verilog.convert(tree, name="tree", ports=ports, emit_src=False,
                               platform=platform)
    tree = SignSelectAdderTree(lanes, unsigned(bits), bits + 2 + lanes.bit_length())
    return verilog.convert(tree, name="tree", emit_src=False, platform=platform)


def tree_table(bits_list, sizes=(16, 64)):
    print("MAC lanes only: adder tree with its leaves, Yosys without DSPs")
    print(f"{'bits':>4} {'datapath':>10} {'lanes':>5} {'iCE40 LUT':>9} {'/lane':>6} "
          f"{'ECP5 LUT':>9} {'/lane':>6}")
    per_lane = {}
    for bits in bits_list:
        for datapath in ("signselect", "multiply"):
            for lanes in sizes:
                ice = lut_count(synth_stats(tree_verilog(lanes, bits, datapath, "ice40"),
                                            "ice40-nodsp", top="tree"), "ice40")
                ecp = lut_count(synth_stats(tree_verilog(lanes, bits, datapath, "ecp5"),
                                            "ecp5-nodsp", top="tree"), "ecp5")
                per_lane[bits, datapath, lanes] = (ice / lanes, ecp / lanes)
                print(f"{bits:>4} {datapath:>10} {lanes:>5} {ice:>9} {ice / lanes:>6.1f} "
                      f"{ecp:>9} {ecp / lanes:>6.1f}")
    print("ratio signselect/multiply, LUT per lane at", sizes[-1], "lanes (iCE40, ECP5):")
    for bits in bits_list:
        sel, mul = per_lane[bits, "signselect", sizes[-1]], per_lane[bits, "multiply", sizes[-1]]
        print(f"  {bits}-bit activations: {sel[0] / mul[0]:.3f}, {sel[1] / mul[1]:.3f}")
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--lanes", nargs=2, default=["1x16", "1x64"],
                        help="two PExSIMD foldings (small, large)")
    parser.add_argument("--trees-only", action="store_true",
                        help="print only the MAC-lane (adder tree) table")
    args = parser.parse_args(argv)
    tree_table(args.bits)
    if args.trees_only:
        return 0
    foldings = [tuple(int(v) for v in text.split("x")) for text in args.lanes]
    rows = []
    for bits in args.bits:
        qnet = layer_qnet(bits)
        for datapath in ("signselect", "multiply"):
            luts = {}
            for pe, simd in foldings:
                for family, (_, flow) in FAMILIES.items():
                    counts = synth_stats(mvu_verilog(qnet, pe, simd, datapath, family), flow,
                                         top="mvu")
                    luts[family, pe * simd] = lut_count(counts, family)
                dsp = multiplier_cells(synth_stats(mvu_verilog(qnet, pe, simd, datapath),
                                                   "ice40", top="mvu"), "ice40")
                lanes = pe * simd
                for family in ("ice40", "ecp5"):
                    rows.append((bits, datapath, family, f"{pe}x{simd}", lanes,
                                 luts[family, lanes], luts[family, lanes] / lanes,
                                 luts[family, lanes] / (N_IN * N_OUT), dsp))
            small, large = (pe * simd for pe, simd in foldings)
            for family in ("ice40", "ecp5"):
                marginal = (luts[family, large] - luts[family, small]) / (large - small)
                rows.append((bits, datapath, family, "marginal", large - small, None,
                             marginal, None, None))
    print(f"Dense layer {N_IN}->{N_OUT}, MVU only, Yosys without DSPs "
          "(synth_ice40; synth_ecp5 -nodsp up to LUT mapping, then abc -lut 4); "
          "LUT4 counts (ECP5: LUTs + 2 per CCU2C)")
    print(f"{'bits':>4} {'datapath':>10} {'family':>6} {'PExSIMD':>8} {'lanes':>5} "
          f"{'LUT':>6} {'LUT/lane':>8} {'LUT/weight':>10}  multipliers with DSPs allowed")
    for bits, datapath, family, fold, lanes, lut, per_lane, per_weight, dsp in rows:
        print(f"{bits:>4} {datapath:>10} {family:>6} {fold:>8} {lanes:>5} "
              f"{'' if lut is None else lut:>6} {per_lane:>8.1f} "
              f"{'' if per_weight is None else f'{per_weight:.3f}':>10}  "
              f"{'' if dsp is None else (dsp or 'none')}")
    print()
    print("ratio signselect/multiply, marginal LUT per lane:")
    marginal = {(b, d, f): v for b, d, f, fold, _, _, v, _, _ in rows if fold == "marginal"}
    for bits in args.bits:
        for family in ("ice40", "ecp5"):
            ratio = marginal[bits, "signselect", family] / marginal[bits, "multiply", family]
            print(f"  {bits}-bit activations, {family}: {ratio:.3f} "
                  f"({marginal[bits, 'signselect', family]:.1f} vs "
                  f"{marginal[bits, 'multiply', family]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
