import numpy as np
import pytest
from amaranth.hdl import Fragment, signed, unsigned
from amaranth.lib import data

from sim.primitives import _pack, _unpack, check_primitives, default_cases


def test_pack_unpack_round_trip_signed_arrays_and_structs():
    layout = data.ArrayLayout(signed(5), 3)
    values = np.array([[-16, 15, -1], [0, 1, -2]])
    assert np.array_equal(_unpack(_pack(values, layout), layout), values)
    assert _pack(np.array([[1, 2, 3]]), data.ArrayLayout(unsigned(4), 3)) == [0x321]
    struct = data.StructLayout({"nonzero": unsigned(1), "sign": unsigned(1),
                                "exponent": unsigned(3)})
    fields = _unpack([0b10110, 0b00001], struct)
    assert fields["nonzero"].tolist() == [0, 1]
    assert fields["sign"].tolist() == [1, 0]
    assert fields["exponent"].tolist() == [5, 0]


def test_default_cases_cover_every_primitive_with_corners():
    cases = {case.name: case for case in default_cases(n_vectors=32)}
    assert set(cases) == {"tree_u8", "tree_s5", "shift_right", "shift_left", "pow2_signed",
                          "pow2_unsigned", "rq_relu_pow2", "rq_trec", "rq_tlin", "rq_logit"}
    tree = cases["tree_u8"]
    # First corner: every lane at full scale and negative.
    assert tree.expected["sum"][0] == -8 * 31 and tree.expected["sum"][1] == 8 * 31
    assert tree.expected["sum"][4] == 0            # all weights zero
    assert cases["shift_right"].expected["o"][0] == -1   # most negative >> 11
    assert cases["pow2_signed"].n_vectors == 256     # exhaustive
    for case in cases.values():
        # Each component elaborates on its own (and is thereby used).
        assert Fragment.get(case.component, None) is not None


@pytest.fixture(scope="module", params=["icarus", "verilator"])
def primitive_run(request, tmp_path_factory):
    run, checks = check_primitives(request.param)
    if run.skipped:
        pytest.skip(run.reason)
    return run, checks


@pytest.mark.slow
def test_every_primitive_matches_numpy(primitive_run):
    run, checks = primitive_run
    assert run.status == "passed", run.reason + run.log_tail()
    assert len(checks) == 10
    for check in checks:
        assert check.vectors >= 256
        assert check.mismatches == 0, (check.name, check.first_mismatch)


@pytest.mark.slow
def test_a_wrong_reference_is_reported_with_its_vector(primitive_run):
    run, _ = primitive_run
    # Same design (the build is reused), one expected value off by one.
    cases = default_cases()
    shifter = next(c for c in cases if c.name == "shift_right")
    shifter.expected["o"] = shifter.expected["o"].copy()
    shifter.expected["o"][7] += 1
    _, checks = check_primitives(run.simulator, cases=cases)
    bad = {c.name: c for c in checks if c.mismatches}
    assert list(bad) == ["shift_right"] and bad["shift_right"].mismatches == 1
    first = bad["shift_right"].first_mismatch
    assert first["vector"] == 7 and first["field"] == "o"
    assert first["got"] == first["expected"] - 1
    assert set(first["input"]) == {"i", "amount"}
