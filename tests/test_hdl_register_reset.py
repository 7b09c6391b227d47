import pytest

from boards.registry import get_board
from hdl.register_reset import data_registers_reset_less, family_of, zero_by_mask


@pytest.mark.parametrize("board, family, reset_less", [("ulx3s-85f", "ecp5", True),
                                                       ("icebreaker", "ice40", False)])
def test_choice_follows_the_board_platform(board, family, reset_less):
    platform = get_board(board).make_platform()
    assert family_of(platform) == family == get_board(board).family
    assert data_registers_reset_less(platform) is reset_less
    assert zero_by_mask(platform) is reset_less   # both on the ECP5 only


def test_no_platform_keeps_the_resets():
    class Unnamed:
        family = property(lambda self: 3)

    assert family_of(None) is None and family_of(Unnamed()) is None
    assert not data_registers_reset_less(None)
    assert not data_registers_reset_less(object())
    assert not zero_by_mask(None) and not zero_by_mask(object())


def _tree_flip_flops(platform):
    """Flip-flop cells of the first adder tree of a small MVU (PE 2, SIMD 4) after
    ``proc; opt``, elaborated for ``platform``: ``$sdff`` has a synchronous reset."""
    from amaranth.back import rtlil
    from hdl_nets import random_qnet

    from hdl.layer_plan import plan_layer
    from hdl.mvu import MVU
    from hdl.yosys_check import cell_counts, run_yosys

    plan = plan_layer(random_qnet(1, sizes=(8, 4, 3), bits=3), 0, 2, 4, 4)
    design = rtlil.convert(MVU(plan), name="mvu", platform=platform)
    counts = cell_counts(run_yosys(design, "hierarchy -top mvu.tree0; proc; opt", top="mvu"))
    return {cell: n for cell, n in counts.items() if "dff" in cell}


def test_ecp5_mvu_tree_registers_have_no_reset_and_ice40_ones_do():
    ecp5 = _tree_flip_flops(get_board("ulx3s-85f").make_platform())
    ice40 = _tree_flip_flops(get_board("icebreaker").make_platform())
    # Four lanes, 13 data registers (inputs, leaves, nodes, carries): every one has a
    # reset on the iCE40; on the ECP5 none has, not even the leaves, whose zero for a
    # zero weight is a mask there (a per-lane reset, SRST = nonzero, before). A
    # platform-less export builds what the iCE40 builds.
    assert ecp5 == {"$dff": 13}
    assert ice40 == {"$sdff": 13} == _tree_flip_flops(None)
