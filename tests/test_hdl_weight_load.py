"""Loadable weight memories: the load map, and bit-exact inference after a load."""

import numpy as np
import pytest
from amaranth.back import rtlil
from hdl_nets import digits_images, random_qnet

from hdl.accelerator import Accelerator
from hdl.errors import HardwareGenerationError
from hdl.layer_plan import SPRAM_DEPTH, plan_layers, trit_decode_table
from hdl.simulate import simulate_accelerator
from hdl.weight_load import LoadMap, slice_values


def _qnet():
    return random_qnet(21, sizes=(64, 12, 9, 10), modes=["ternary", "binary", "ternary"])


def test_slices_reassemble_every_weight_word():
    qnet = _qnet()
    plans = plan_layers(qnet, [(3, 7), (4, 5), (2, 9)], 1, weight_store="ram")
    for plan in plans:
        values = slice_values(plan).astype(np.int64)
        assert values.shape == (plan.weight_slices, plan.weight_depth)
        words = (values << (16 * np.arange(plan.weight_slices))[:, None]).sum(axis=0)
        assert [int(w) for w in words] == plan.weight_words
    # Ternary layers pack five weights a byte; the binary one keeps a bit a weight.
    assert [p.weight_packing for p in plans] == ["base3", "plain", "base3"]
    assert plans[0].weight_word_bits == 8 * 5 and plans[0].weight_slices == 3   # 21 lanes
    assert plans[1].weight_word_bits == 20 and plans[1].weight_slices == 2
    assert plans[2].weight_word_bits == 8 * 4 and plans[2].weight_slices == 2   # 18 lanes


def test_decode_table_inverts_the_base3_packing():
    table = trit_decode_table()
    for byte in range(243):
        digits = [byte // 3 ** i % 3 for i in range(5)]
        codes = [table[byte] >> (2 * i) & 3 for i in range(5)]
        assert codes == [{0: 0b00, 1: 0b01, 2: 0b11}[d] for d in digits]
    assert table[243:] == [0] * 13
    qnet = _qnet()
    packed = plan_layers(qnet, [(3, 7), (4, 5), (2, 9)], 1, weight_store="ram")
    plain = plan_layers(qnet, [(3, 7), (4, 5), (2, 9)], 1)
    for k in (0, 2):
        for word, reference in zip(packed[k].weight_words, plain[k].weight_words, strict=True):
            decoded = 0
            for b in range(packed[k].packed_bytes):
                decoded |= table[word >> (8 * b) & 0xFF] << (10 * b)
            assert decoded == reference


def test_load_map_addresses_are_disjoint_fields():
    qnet = _qnet()
    plans = plan_layers(qnet, [(3, 7), (4, 5), (2, 9)], 1,
                        weight_store=["spram", "rom", "ram"])
    load_map = LoadMap(plans)
    assert load_map.layers == [0, 2]
    assert load_map.total_slices == sum(plans[k].weight_slices * plans[k].weight_depth
                                        for k in (0, 2))
    writes = load_map.writes()
    addresses = [a for a, _ in writes]
    assert len(set(addresses)) == len(addresses) == load_map.total_slices
    for address in addresses:
        layer, slice_, word = load_map.split(address)
        assert layer in (0, 2)
        assert slice_ < plans[layer].weight_slices and word < plans[layer].weight_depth
        assert load_map.address(layer, slice_, word) == address
    assert load_map.address_width == (load_map.layer_width + load_map.slice_width
                                      + load_map.word_width)


def test_rom_only_accelerator_has_no_load_port():
    acc = Accelerator(_qnet(), folding=[(3, 7), (4, 5), (2, 9)])
    assert not acc.loadable
    assert "wload" not in acc.signature.members
    assert acc.estimate()["totals"]["loadable_weight_bits"] == 0


@pytest.mark.parametrize("stores,folding", [
    ("ram", [(3, 7), (4, 5), (2, 9)]),
    (["ram", "rom", "ram"], [(1, 1), (9, 12), (10, 3)]),
])
def test_bit_exact_after_load_under_backpressure(stores, folding):
    qnet = _qnet()
    acc = Accelerator(qnet, folding=folding, in_lanes=2, weight_store=stores)
    assert acc.loadable
    images = digits_images(4, offset=3)
    result = simulate_accelerator(acc, images, in_gap=0.3, out_gap=0.3, seed=4)
    logits, classes = qnet.forward(images)
    assert np.array_equal(result.logits, logits)
    assert np.array_equal(result.classes, classes)
    assert result.extra_outputs == 0
    # Nothing was computed before the load: the first answer comes after every write.
    assert result.out_cycles[0] > acc.load_map.total_slices


@pytest.mark.parametrize("stores", ["spram", ["spram", "rom", "ram"]])
def test_spram_layers_are_bit_exact_in_amaranth_simulation(stores):
    """The SPRAM blocks elaborate to their model here; an Instance would read 0."""
    qnet = _qnet()
    acc = Accelerator(qnet, folding=[(3, 7), (4, 5), (2, 9)], in_lanes=2, weight_store=stores)
    assert acc.plans[0].spram_blocks == 3
    images = digits_images(5, offset=7)
    result = simulate_accelerator(acc, images, in_gap=0.2, out_gap=0.2, seed=5)
    logits, classes = qnet.forward(images)
    assert np.array_equal(result.logits, logits)
    assert np.array_equal(result.classes, classes)
    assert result.extra_outputs == 0


@pytest.mark.parametrize("stores", ["spram", ["spram", "rom", "rom", "rom", "ram"]])
def test_cnn_with_loaded_conv_weights_is_bit_exact_in_amaranth_simulation(stores):
    """A convolution's MVU reads its loaded weights once per window; the pool and flatten
    have none. A first image offered before the load waits for ``weights_ready``."""
    from qnet_conv_nets import digits_cnn

    qnet = digits_cnn(seed=4, stride=1, padding="same", pool=True)
    acc = Accelerator(qnet, folding=[(2, 9), (1, 1), (3, 12), (1, 1), (5, 4)],
                      weight_store=stores)
    assert acc.loadable and acc.plans[0].weight_store == "spram"
    images = digits_images(3, offset=11)
    result = simulate_accelerator(acc, images, in_gap=0.2, out_gap=0.2, seed=6)
    logits, classes = qnet.forward(images)
    assert np.array_equal(result.logits, logits)
    assert np.array_equal(result.classes, classes)
    assert result.extra_outputs == 0
    assert result.out_cycles[0] > acc.load_map.total_slices


def test_wrong_slice_changes_the_answer():
    """The loaded values are really used: one flipped weight slice shows in the logits."""
    qnet = _qnet()
    acc = Accelerator(qnet, folding=[(3, 7), (4, 5), (2, 9)], weight_store="ram")
    writes = acc.load_map.writes()
    layer2 = [i for i, (a, _) in enumerate(writes) if acc.load_map.split(a)[0] == 2]
    address, value = writes[layer2[0]]
    # Ten weights of -1 (two bytes of base-3 digits 22222 = 242), or else ten of +1.
    writes[layer2[0]] = (address, 0xF2F2 if value != 0xF2F2 else 0x7979)
    images = digits_images(6)
    result = simulate_accelerator(acc, images, weight_writes=writes)
    logits, _ = qnet.forward(images)
    assert not np.array_equal(result.logits, logits)


def test_later_writes_overwrite_and_past_the_end_writes_are_ignored():
    qnet = _qnet()
    acc = Accelerator(qnet, folding=[(3, 7), (4, 5), (2, 9)], weight_store="ram")
    load_map = acc.load_map
    writes = load_map.writes()
    # Garbage first, then the real load: the last write to an address wins.
    garbage = [(address, 0xFFFF) for address, _ in writes]
    # Words past a layer's depth and slices past its width decode to nothing.
    beyond = []
    for plan in acc.plans:
        k = plan.index
        if 2 ** load_map.word_width > plan.weight_depth:
            beyond.append((load_map.address(k, 0, plan.weight_depth), 0xF2F2))
        # Layer 2 has 2 slices, layer 0 has 3: slice 2 of layer 2 must not alias slice 0.
        for j in range(plan.weight_slices, 2 ** load_map.slice_width):
            beyond.append((load_map.address(k, j, 0), 0xF2F2))
    assert (load_map.address(2, 2, 0), 0xF2F2) in beyond
    images = digits_images(3, offset=20)
    result = simulate_accelerator(acc, images, weight_writes=garbage + writes + beyond)
    logits, _ = qnet.forward(images)
    assert np.array_equal(result.logits, logits)


def test_spram_layers_instantiate_blocks_and_count_them():
    qnet = random_qnet(22, sizes=(784, 40, 10), modes=["ternary", "ternary"])
    # Layer 0: 40 x 784 ternary at PE=1, SIMD=16: 32-bit words (2 slices), 31,360 deep
    # -> 2 banks of 16K words -> 4 blocks.
    acc = Accelerator(qnet, folding=[(1, 16), (10, 8)], weight_store=["spram", "rom"])
    plan = acc.plans[0]
    assert (plan.weight_slices, plan.weight_depth) == (2, 40 * 49)
    assert plan.spram_banks == 1 and plan.spram_blocks == 2
    deep = Accelerator(qnet, folding=[(1, 1), (10, 8)], weight_store=["spram", "rom"])
    assert deep.plans[0].weight_depth == 40 * 784 > SPRAM_DEPTH
    assert deep.plans[0].spram_banks == 2 and deep.plans[0].spram_blocks == 2
    totals = acc.estimate()["totals"]
    assert totals["spram_blocks"] == 2
    assert totals["loadable_weight_bits"] == plan.weight_memory_bits
    text = rtlil.convert(acc, name="top")
    assert text.count("cell \\SB_SPRAM256KA") == 2
    assert rtlil.convert(deep, name="top").count("cell \\SB_SPRAM256KA") == 2


def test_bad_weight_store_is_named():
    qnet = _qnet()
    with pytest.raises(HardwareGenerationError, match="layer 1: weight_store: expected one of"):
        Accelerator(qnet, weight_store=["ram", "flash", "rom"])
    with pytest.raises(HardwareGenerationError, match="weight_store: expected .* a list of 3"):
        Accelerator(qnet, weight_store=["ram"])
    with pytest.raises(HardwareGenerationError, match="'rom' for the multiplier baseline"):
        Accelerator(qnet, weight_store="ram", datapath="multiply")
