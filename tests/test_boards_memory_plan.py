"""Weight stores per board: block RAM when the weights fit, else the largest layers in SPRAM."""

import pytest
from boards_qnets import make_qnet

from boards.memory_plan import (
    SPRAM_CYCLE_SLACK,
    block_ram_budget,
    bram_bits_needed,
    plan_memory,
    spram_folding,
)
from boards.precheck import DoesNotFit, precheck
from boards.registry import get_board
from golden_model.errors import MulfreeError
from hdl.accelerator_plan import plan_accelerator
from hdl.cmd_generate import parse_weight_store
from hdl.folding import auto_folding
from hdl.layer_plan import SPRAM_DEPTH, plan_layers


def _blocks(layer, pe, simd):
    """SPRAM blocks and cycles of a ternary layer: five weights a byte, 16 bits a block."""
    slices = -(-8 * -(-pe * simd // 5) // 16)
    depth = -(-layer.n_out // pe) * -(-layer.n_in // simd)
    return slices * -(-depth // SPRAM_DEPTH), depth


@pytest.mark.parametrize("blocks", [1, 2, 3])
def test_spram_folding_is_the_fastest_that_the_blocks_feed(blocks):
    layer = make_qnet(sizes=(100, 24, 4)).layers[0]
    pe, simd = spram_folding(layer, blocks, 2)
    used, cycles = _blocks(layer, pe, simd)
    assert used <= blocks
    fastest = min_cycles(layer, blocks)
    # Brute force: no folding the blocks can feed is more than the slack faster, and
    # none within the slack has fewer PEs.
    for p in range(1, 25):
        for s in range(1, 101):
            other_used, other_cycles = _blocks(layer, p, s)
            if other_used <= blocks:
                assert other_cycles * (1 + SPRAM_CYCLE_SLACK) >= cycles
                if p < pe:
                    assert other_cycles > fastest * (1 + SPRAM_CYCLE_SLACK)
    assert pe * simd <= 10 * blocks


def min_cycles(layer, blocks):
    return min(_blocks(layer, p, s)[1] for p in range(1, layer.n_out + 1)
               for s in range(1, 10 * blocks + 1) if _blocks(layer, p, s)[0] <= blocks)


def test_deep_layers_stack_banks_and_too_deep_ones_do_not_fit():
    layer = make_qnet(sizes=(784, 64, 4)).layers[0]   # 50,176 weights
    assert spram_folding(layer, 4, 2) is not None
    pe, simd = spram_folding(layer, 1, 2)            # one block: at most 10 lanes, 16K deep
    assert _blocks(layer, pe, simd)[0] == 1 and pe * simd <= 10
    # PE 2, SIMD 5 takes 32 x 157 = 5,024 cycles; PE 1, SIMD 10 is within 1 % with one PE.
    assert (pe, simd) == (1, 10) and _blocks(layer, pe, simd)[1] == 64 * 79
    huge = make_qnet(sizes=(784, 512, 4)).layers[0]   # 401,408 weights > 1 block's 163,840
    assert spram_folding(huge, 1, 2) is None


def test_up5k_puts_the_784_256_256_10_weights_in_spram_and_fits():
    qnet = make_qnet(sizes=(784, 256, 256, 10), in_bits=8)
    board = get_board("icebreaker")
    plan = plan_memory(qnet, board, "auto", lut_budget=3000)
    assert plan.weight_store == ["spram", "spram", "rom"]
    assert "layer(s) 0, 1 in SPRAM" in plan.reason
    planned = plan_accelerator(qnet, folding=plan.folding, weight_store=plan.weight_store)
    estimate = planned.report()
    assert estimate["totals"]["spram_blocks"] == 4
    assert bram_bits_needed(estimate) <= 30 * 4096
    needs = precheck(estimate, board)
    assert needs["SPRAM blocks"] == (4, 4)
    # The SPRAM layers are the bottleneck: at most 30 lanes on 3 blocks, 10 on 1.
    plans = planned.layers
    assert [p.weight_packing for p in plans] == ["base3", "base3", "plain"]
    assert plans[0].lanes <= 30 and plans[1].lanes <= 10
    assert plans[0].weight_slices == 3 and plans[1].weight_slices == 1
    assert estimate["cycles_per_image"] == max(p.compute_cycles for p in plans[:2])
    # 266,240 weights at 40 a cycle need at least 6,656 cycles.
    assert 6656 <= estimate["cycles_per_image"] < 6800


def test_weights_that_fit_block_ram_stay_there():
    qnet = make_qnet(sizes=(64, 32, 10), in_bits=5)
    plan = plan_memory(qnet, get_board("icebreaker"), "auto")
    assert plan.weight_store == ["rom", "rom"]
    assert plan.folding == auto_folding(qnet, bram_budget={"ice40": 29})
    ecp5 = plan_memory(make_qnet(sizes=(784, 256, 256, 10), in_bits=8),
                       get_board("ulx3s-85f"), None)
    assert ecp5.weight_store == ["rom"] * 3 and "fit block RAM" in ecp5.reason


def test_a_folding_the_sprams_cannot_feed_is_refused_naming_spram():
    qnet = make_qnet(sizes=(784, 256, 256, 10), in_bits=8)
    board = get_board("icebreaker")
    plan = plan_memory(qnet, board, None)     # PE = SIMD = 1 everywhere: far too deep
    estimate = plan_accelerator(qnet, folding=plan.folding,
                                weight_store=plan.weight_store).report()
    with pytest.raises(DoesNotFit, match="SPRAM blocks but the iCE40UP5K has 4"):
        precheck(estimate, board)


def test_ram_weights_count_as_block_ram():
    qnet = make_qnet(sizes=(64, 32, 10), in_bits=5)
    plans = plan_layers(qnet, [(2, 8), (2, 4)], weight_store=["ram", "rom"])
    estimate = plan_accelerator(qnet, folding=[(2, 8), (2, 4)],
                                weight_store=["ram", "rom"]).report()
    assert bram_bits_needed(estimate) == (estimate["totals"]["memory_bits"]
                                          + plans[0].weight_memory_bits)


def test_parse_weight_store():
    assert parse_weight_store("auto", allow_auto=True) == "auto"
    assert parse_weight_store("spram") == "spram"
    assert parse_weight_store("spram,rom") == ["spram", "rom"]
    with pytest.raises(MulfreeError, match="--weight-store: expected 'auto' or rom, ram, spram"):
        parse_weight_store("spram,flash", allow_auto=True)
    with pytest.raises(MulfreeError, match="--weight-store: expected rom, ram, spram"):
        parse_weight_store("auto")


def test_auto_folding_keeps_a_digits_network_within_the_up5k_block_rams():
    """Wide folding of 64-128-128-10 makes shallow, wide memories that take more blocks
    than their bits suggest (bench/boards.py's digits net at (1,16),(1,26),(1,2): 31
    blocks estimated and 31 after synth_ice40, against 59,161 bits = 15 blocks)."""
    qnet = make_qnet(sizes=(64, 128, 128, 10), in_bits=5, out_bits=8)
    wide = plan_accelerator(qnet, folding=[(1, 16), (1, 26), (1, 2)]).report()
    assert wide["totals"]["block_rams"]["ice40"] > 30
    assert wide["totals"]["memory_bits"] < 20 * 4096
    board = get_board("icebreaker")
    assert block_ram_budget(qnet, board) == 29          # the board top's image takes one
    plan = plan_memory(qnet, board, "auto", lut_budget=3000)
    assert plan.weight_store == ["rom"] * 3
    chosen = plan_accelerator(qnet, folding=plan.folding).report()
    assert chosen["totals"]["block_rams"]["ice40"] <= 29


def test_up5k_moves_the_dense_weights_of_a_cnn_that_does_not_fit_block_ram_to_spram():
    """c16k3-p2-c32k3-p2-128-10 on 28x28: 1568 x 128 dense weights (401 kbit) cannot
    stay in block RAM; pools and flatten have no weights and stay 'rom'."""
    from boards_qnets import make_cnn

    qnet = make_cnn()
    board = get_board("icebreaker")
    plan = plan_memory(qnet, board, "auto")
    # Only the dense layer moves, on two of the four SPRAMs: on all four its 40 lanes'
    # decode tables took 8 more block RAMs, and conv2 had to move too (45,472 cycles).
    assert plan.weight_store == ["rom"] * 5 + ["spram", "rom"]
    assert "layer(s) 5 in SPRAM: all in block RAM would need 436,745 bits in 116 blocks" \
        in plan.reason
    planned = plan_accelerator(qnet, folding=plan.folding, weight_store=plan.weight_store)
    estimate = planned.report()
    assert bram_bits_needed(estimate) <= 30 * 4096
    assert precheck(estimate, board)["SPRAM blocks"] == (2, 4)
    by_index = {p.index: p for p in planned.layers}
    assert by_index[5].weight_packing == "base3" and by_index[5].lanes == 20
    assert estimate["cycles_per_image"] == 37_632 < 45_472
    # A LUT budget is kept when some SPRAM choice keeps it.
    small = plan_memory(qnet, board, "auto", lut_budget=2000)
    assert plan_accelerator(qnet, small.folding, weight_store=small.weight_store) \
        .report()["totals"]["lut"] <= 2000


def test_up5k_moves_a_large_convolution_to_spram_with_a_pe_that_divides_its_channels():
    from boards_qnets import make_cnn

    qnet = make_cnn(image_shape=(12, 12, 1), convs=((16, False), (128, True)), dense=(10,))
    board = get_board("icebreaker")
    plan = plan_memory(qnet, board, "auto")
    assert plan.weight_store[1] == "spram"             # 128 x 144 conv weights, the largest
    planned = plan_accelerator(qnet, folding=plan.folding, weight_store=plan.weight_store)
    conv = {p.index: p for p in planned.layers}[1]
    assert conv.window is not None and conv.weight_packing == "base3"
    assert 128 % conv.pe == 0
    assert precheck(planned.report(), board)["SPRAM blocks"][0] <= 4
    # Alone on one block, the convolution's fastest folding keeps PE a divisor of 128.
    pe, simd = spram_folding(qnet.layers[1], 1, 2)
    assert 128 % pe == 0 and pe * simd <= 10
