import pytest
from boards_qnets import make_qnet

from boards.precheck import ENGINE_COST, DoesNotFit, precheck
from boards.registry import get_board
from hdl.accelerator_plan import plan_accelerator


def _estimate(lut=100, ff=100, memory_bits=1000):
    return {"totals": {"lut": lut, "ff": ff, "memory_bits": memory_bits}}


def test_fits_returns_the_figures():
    needs = precheck(_estimate(), get_board("icebreaker"))
    assert needs["LUT"] == (100 + ENGINE_COST["ice40"]["lut"], 5280)
    assert needs["block RAM bits"] == (1000, 30 * 4096)


@pytest.mark.parametrize("estimate, resource", [
    (_estimate(lut=5280), "LUT"),
    (_estimate(ff=5100), "FF"),
    (_estimate(memory_bits=30 * 4096 + 1), "block RAM bits"),
])
def test_refuses_naming_the_resource(estimate, resource):
    with pytest.raises(DoesNotFit, match=f"icebreaker: the design needs about .* {resource} "
                                         f"but the iCE40UP5K has"):
        precheck(estimate, get_board("icebreaker"))


def test_a_large_ternary_network_does_not_fit_an_up5k_but_fits_an_85f():
    qnet = make_qnet(sizes=(784, 256, 256, 10), in_bits=8)
    estimate = plan_accelerator(qnet).report()
    with pytest.raises(DoesNotFit, match="block RAM bits"):
        precheck(estimate, get_board("icebreaker"))
    precheck(estimate, get_board("ulx3s-85f"))
