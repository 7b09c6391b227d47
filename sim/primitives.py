"""The hardware primitives on Verilator/Icarus, against their NumPy references.

All primitives under test are instantiated side by side in one component
(:class:`PrimitiveBench`), so one Verilog build covers them all and one
simulation drives them in parallel: vector ``k`` goes into every primitive in
cycle ``k``, and each primitive's outputs are read ``latency`` cycles later.
The cocotb side (:mod:`sim.tb_vectors`) only applies and records integers;
packing, unpacking and the comparison with the references happen here, in
NumPy.

Cases
-----
Sign-select adder trees (unsigned pixels over 8 lanes, signed activations
over an odd 5 lanes), barrel shifters (arithmetic right, truncating left),
power-of-two encoders (exhaustive over 8-bit signed and unsigned inputs) and
requantize units (relu + pow2 with left shifts, trec, tlin, the output
layer's bare ``z``), each with random vectors plus the corners: all terms
negative at full scale, all positive, all weights zero, the most negative
input shifted by the most, saturation at both ends.

Members
-------
PrimitiveCase
    One primitive, its input vectors and how to check its outputs.
default_cases
    The cases above.
PrimitiveBench
    All cases' components in one, with ``<case>_<port>`` ports.
check_primitives
    Build, run on one simulator, compare; one result per case.
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.back import verilog
from amaranth.hdl import Module, Shape, signed, unsigned
from amaranth.lib import data, wiring

from golden_model.output_files import write_text
from golden_model.qnet import signed_bits, unsigned_bits
from hdl import adder_tree, barrel_shifter, pow2, requantize
from hdl.adder_tree import SignSelectAdderTree
from hdl.barrel_shifter import BarrelShifter
from hdl.pow2 import Pow2Encoder
from hdl.requantize import RequantizeConfig, Requantizer
from sim.runner import DEFAULT_BUILD_ROOT, run_cocotb

BENCH_TOP = "mulfree_primitives"


@dataclass
class PrimitiveCase:
    """One primitive under test.

    Members
    -------
    name : str
        Port prefix, and the name in the results.
    component : wiring.Component
    latency : int
        Cycles from an input vector to its outputs (0: combinational).
    inputs : dict of str to ndarray
        Per input port, one value per vector (signed values are fine; arrays
        for ``ArrayLayout`` ports have a trailing lane axis).
    expected : dict of str to ndarray
        Per checked quantity, the reference value per vector.
    derive : callable
        ``derive(outputs) -> dict`` like ``expected``, from the unpacked
        output ports (a dict of arrays, struct fields as nested dicts).
    """

    name: str
    component: object
    latency: int
    inputs: dict
    expected: dict
    derive: object

    @property
    def n_vectors(self):
        return len(next(iter(self.inputs.values())))

    @property
    def outputs(self):
        """Names of the component's output ports."""
        return [name for name, member in self.component.signature.members.items()
                if member.flow == wiring.Out]


def _pack(values, shape):
    """Python integers (the port's bit pattern) of per-vector values."""
    values = np.asarray(values, dtype=object)
    if isinstance(shape, data.ArrayLayout):
        elem = Shape.cast(shape.elem_shape).width
        packed = [0] * len(values)
        for lane in range(shape.length):
            lane_bits = _pack(values[:, lane], shape.elem_shape)
            packed = [p | (v << (lane * elem)) for p, v in zip(packed, lane_bits, strict=True)]
        return packed
    width = Shape.cast(shape).width
    mask = (1 << width) - 1
    return [int(v) & mask for v in values]


def _unpack(ints, shape):
    """Values of a port from its bit patterns: arrays, or dicts for structs."""
    ints = [int(v) for v in ints]
    if isinstance(shape, data.StructLayout):
        return {name: _unpack([(v >> f.offset) & ((1 << Shape.cast(f.shape).width) - 1)
                               for v in ints], f.shape) for name, f in shape}
    if isinstance(shape, data.ArrayLayout):
        elem = Shape.cast(shape.elem_shape).width
        lanes = [_unpack([(v >> (k * elem)) & ((1 << elem) - 1) for v in ints],
                         shape.elem_shape) for k in range(shape.length)]
        return np.stack(lanes, axis=-1)
    shape = Shape.cast(shape)
    out = np.array(ints, dtype=object)
    if shape.signed:
        out = np.where(out >= (1 << (shape.width - 1)), out - (1 << shape.width), out)
    return out.astype(np.int64)


class PrimitiveBench(wiring.Component):
    """Every case's component, with its ports renamed ``<case>_<port>``.

    Parameters
    ----------
    cases : list of PrimitiveCase
    """

    def __init__(self, cases):
        self._cases = list(cases)
        members = {}
        for case in self._cases:
            for name, member in case.component.signature.members.items():
                members[f"{case.name}_{name}"] = member
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for case in self._cases:
            m.submodules[case.name] = case.component
            for name, member in case.component.signature.members.items():
                outer, inner = getattr(self, f"{case.name}_{name}"), getattr(case.component, name)
                if member.flow == wiring.In:
                    m.d.comb += inner.eq(outer)
                else:
                    m.d.comb += outer.eq(inner)
        return m


def _bounds(shape):
    """Inclusive value range ``(lo, hi)`` of an Amaranth shape."""
    if shape.signed:
        return -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
    return 0, (1 << shape.width) - 1


def _with_corners(rng, n, corners, draw):
    """``n`` vectors: the corner rows first, then random rows from ``draw``."""
    corners = np.asarray(corners, dtype=np.int64)
    rest = draw(rng, n - len(corners))
    return np.concatenate([corners.reshape(len(corners), *rest.shape[1:]), rest])


def _tree_case(name, lanes, x_shape, rng, n):
    x_shape = Shape.cast(x_shape)
    lo, hi = _bounds(x_shape)
    bound = lanes * max(abs(lo), hi)
    tree = SignSelectAdderTree(lanes, x_shape, signed_bits(-bound, bound) + 1)
    full_lo, full_hi = np.full(lanes, lo), np.full(lanes, hi)
    ones, zeros = np.ones(lanes, dtype=np.int64), np.zeros(lanes, dtype=np.int64)
    # (x, nonzero, negative) corners: extremes with every sign, all-zero weights.
    corners = [(full_hi, ones, ones), (full_hi, ones, zeros), (full_lo, ones, ones),
               (full_lo, ones, zeros), (full_hi, zeros, ones), (zeros, ones, ones)]
    x = _with_corners(rng, n, [c[0] for c in corners],
                      lambda r, k: r.integers(lo, hi + 1, size=(k, lanes)))
    nonzero = _with_corners(rng, n, [c[1] for c in corners],
                            lambda r, k: r.integers(0, 2, size=(k, lanes)))
    negative = _with_corners(rng, n, [c[2] for c in corners],
                             lambda r, k: r.integers(0, 2, size=(k, lanes)))
    weights_bits = 1 << np.arange(lanes)
    return PrimitiveCase(
        name, tree, tree.latency,
        inputs={"valid_in": np.ones(n, dtype=np.int64), "x": x,
                "nonzero": nonzero @ weights_bits, "negative": negative @ weights_bits},
        expected={"sum": adder_tree.reference(x, nonzero, negative),
                  "valid_out": np.ones(n, dtype=np.int64)},
        derive=lambda out: {"sum": out["partial"] + out["carry"], "valid_out": out["valid_out"]})


def _shifter_case(name, shape, max_amount, direction, rng, n, out_width=None):
    shape = Shape.cast(shape)
    shifter = BarrelShifter(shape, max_amount, direction=direction, out_width=out_width)
    lo, hi = _bounds(shape)
    value = _with_corners(rng, n, [lo, hi, lo, hi, -1 if shape.signed else 1, 0],
                          lambda r, k: r.integers(lo, hi + 1, size=k))
    amount = _with_corners(rng, n, [max_amount, max_amount, 0, 0, max_amount, max_amount],
                           lambda r, k: r.integers(0, max_amount + 1, size=k))
    want = barrel_shifter.reference(value, amount, direction)
    width = shape.width if out_width is None else out_width
    # The hardware keeps ``width`` bits, with the input's signedness.
    want = want & ((1 << width) - 1)
    if shape.signed:
        want = np.where(want >= (1 << (width - 1)), want - (1 << width), want)
    return PrimitiveCase(name, shifter, 0, inputs={"i": value, "amount": amount},
                         expected={"o": want}, derive=lambda out: {"o": out["o"]})


def _pow2_case(name, shape, e_max):
    shape = Shape.cast(shape)
    encoder = Pow2Encoder(shape, e_max)
    lo, _ = _bounds(shape)
    y = np.arange(lo, lo + (1 << shape.width))
    nonzero, sign, exponent = pow2.reference_encode(y, e_max)
    return PrimitiveCase(
        name, encoder, 0, inputs={"y": y},
        expected={"nonzero": nonzero, "sign": sign, "exponent": exponent},
        # The exponent of a zero code is a don't-care; the reference says 0.
        derive=lambda out: {"nonzero": out["code"]["nonzero"], "sign": out["code"]["sign"],
                            "exponent": np.where(out["code"]["nonzero"] != 0,
                                                 out["code"]["exponent"], 0)})


def _requantize_case(name, activation, out_bits, pow2_code, e_max, rng, n, left_shift):
    acc = rng.integers(-3000, 3001, size=n)
    acc[:4] = [-3000, 3000, 0, -1]
    bias = rng.integers(-300, 301, size=n)
    shift = rng.integers(-3 if left_shift else 0, 8, size=n)
    threshold = (rng.integers(0, 40, size=n) if activation in ("trec", "tlin")
                 else np.zeros(n, dtype=np.int64))
    lead = max(0, -int(shift.min()))
    total = acc + bias
    z = requantize.reference(acc, bias, shift, threshold, None, out_bits)
    config = RequantizeConfig(
        acc_width=signed_bits(acc.min(), acc.max()), bias_width=signed_bits(bias.min(), bias.max()),
        threshold_width=unsigned_bits(threshold.max()),
        sum_width=signed_bits(total.min(), total.max()), lead=lead,
        max_amount=int((shift + lead).max()), z_width=signed_bits(z.min(), z.max()),
        activation=activation, out_bits=out_bits, pow2=pow2_code, e_max=e_max)
    unit = Requantizer(config)
    want = requantize.reference(acc, bias, shift, threshold, activation, out_bits, pow2_code,
                                e_max)
    inputs = {"valid_in": np.ones(n, dtype=np.int64), "acc": acc, "bias": bias,
              "amount": shift + lead, "threshold": threshold}
    if pow2_code and activation is not None:
        sign, exponent = want
        expected = {"sign": sign, "exponent": exponent}

        def derive(out):
            code = out["out"]
            return {"sign": np.where(code["nonzero"] != 0,
                                     np.where(code["sign"] != 0, -1, 1), 0),
                    "exponent": np.where(code["nonzero"] != 0, code["exponent"], 0)}
    else:
        expected = {"out": want}

        def derive(out):
            return {"out": out["out"]}
    expected["valid_out"] = np.ones(n, dtype=np.int64)
    return PrimitiveCase(name, unit, config.latency, inputs=inputs, expected=expected,
                         derive=lambda out: {**derive(out), "valid_out": out["valid_out"]})


def default_cases(n_vectors=256, seed=0):
    """The primitives and vectors that :func:`check_primitives` runs by default.

    Parameters
    ----------
    n_vectors : int
        Vectors per case (the pow2 encoders always take all 256 inputs).
    seed : int
    """
    rng = np.random.default_rng(seed)
    n = int(n_vectors)
    return [
        _tree_case("tree_u8", 8, unsigned(5), rng, n),
        _tree_case("tree_s5", 5, signed(6), rng, n),
        _shifter_case("shift_right", signed(12), 11, "right", rng, n),
        _shifter_case("shift_left", unsigned(6), 7, "left", rng, n, out_width=10),
        _pow2_case("pow2_signed", signed(8), 5),
        _pow2_case("pow2_unsigned", unsigned(8), 7),
        _requantize_case("rq_relu_pow2", "relu", 6, True, 5, rng, n, left_shift=True),
        _requantize_case("rq_trec", "trec", 4, False, 7, rng, n, left_shift=False),
        _requantize_case("rq_tlin", "tlin", 7, False, 7, rng, n, left_shift=True),
        _requantize_case("rq_logit", None, 8, False, 7, rng, n, left_shift=True),
    ]


@dataclass
class PrimitiveCheck:
    """Outcome of one case on one simulator.

    Members
    -------
    name, simulator : str
    vectors, mismatches : int
    first_mismatch : dict or None
        ``vector``, ``field``, ``input`` (the vector's inputs), ``expected``, ``got``.
    """

    name: str
    simulator: str
    vectors: int
    mismatches: int
    first_mismatch: dict | None = None


def _compare_case(case, samples, simulator):
    shapes = {name: member.shape for name, member in case.component.signature.members.items()}
    offset, n = case.latency, case.n_vectors
    outputs = {}
    for name in case.outputs:
        column = samples[f"{case.name}_{name}"][offset:offset + n]
        if len(column) < n:
            raise RuntimeError(f"{case.name}: only {len(column)} of {n} samples came back")
        outputs[name] = _unpack(column, shapes[name])
    got = case.derive(outputs)
    bad = np.zeros(n, dtype=bool)
    first = None
    for key, want in case.expected.items():
        wrong = np.asarray(got[key], dtype=np.int64) != np.asarray(want, dtype=np.int64)
        if wrong.any() and first is None:
            k = int(np.flatnonzero(wrong)[0])
            first = {"vector": k, "field": key,
                     "input": {p: np.asarray(v)[k].tolist() for p, v in case.inputs.items()},
                     "expected": int(np.asarray(want)[k]), "got": int(np.asarray(got[key])[k])}
        bad |= wrong
    return PrimitiveCheck(case.name, simulator, n, int(bad.sum()), first)


def check_primitives(simulator, cases=None, build_root=DEFAULT_BUILD_ROOT, waves=False):
    """Run every case on ``simulator`` and compare with the NumPy references.

    Parameters
    ----------
    simulator : {"verilator", "icarus"}
    cases : list of PrimitiveCase, optional
        Default :func:`default_cases`.
    build_root : Path
    waves : bool

    Returns
    -------
    run : CocotbRun
    checks : list of PrimitiveCheck
        Empty when the run was skipped or died before reporting.
    """
    cases = default_cases() if cases is None else list(cases)
    clocked = any(case.latency for case in cases)
    n_cycles = max(case.n_vectors + case.latency for case in cases)
    inputs, outputs = {}, []
    for case in cases:
        members = case.component.signature.members
        outputs += [f"{case.name}_{name}" for name in case.outputs]
        for name, values in case.inputs.items():
            inputs[f"{case.name}_{name}"] = _pack(values, members[name].shape)
    bench = PrimitiveBench(cases)
    source = verilog.convert(bench, name=BENCH_TOP, emit_src=False)
    build_root = Path(build_root).resolve()
    stimulus = build_root / "data" / f"primitives-{simulator}-{time.time_ns()}.json"
    write_text(stimulus, json.dumps({"inputs": inputs, "outputs": outputs,
                                    "cycles": n_cycles, "clocked": clocked}))
    try:
        run = run_cocotb(source, BENCH_TOP, "sim.tb_vectors", simulator, build_key="primitives",
                         extra_env={"MULFREE_TB_VECTORS": str(stimulus)}, waves=waves,
                         build_root=build_root, public_modules=[BENCH_TOP])
    finally:
        stimulus.unlink(missing_ok=True)
    samples_path = run.run_dir / "samples.json" if run.run_dir else None
    if samples_path is None or not samples_path.is_file():
        return run, []
    samples = json.loads(samples_path.read_text())
    return run, [_compare_case(case, samples, simulator) for case in cases]
