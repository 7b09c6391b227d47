"""The contract's random bits: reference, visiting order, uniformity, pairwise independence."""

import numpy as np
import pytest
from qtrain_reference import mix as reference_mix
from qtrain_reference import word as reference_word

from golden_model.qtrain.random_bits import field, layer_words, mix, words


def _chi2_bound(cells, z=5.0):
    """A loose upper quantile of chi-square with ``cells - 1`` degrees of freedom."""
    dof = cells - 1
    return dof + z * np.sqrt(2 * dof)


def test_mix_equals_the_python_reference_and_is_a_bijection_sample():
    values = [0, 1, 2, 0xFFFFFFFF, 0x80000000, 12345, 1 << 31 | 7]
    np.testing.assert_array_equal(mix(values), [reference_mix(v) for v in values])
    many = mix(np.arange(1 << 16))
    assert len(np.unique(many)) == 1 << 16


def test_words_equal_the_reference_for_every_row_and_column():
    seed, step, layer, n_out, n_in = 0xDEADBEEF, (1 << 33) + 5, 2, 6, 9
    rows, columns = layer_words(seed, step, layer, n_out, n_in)
    got = words(rows, columns)
    assert got.shape == (n_out + 2, n_in + 1)
    for j in range(n_out + 2):
        for i in range(n_in + 1):
            assert got[j, i] == reference_word(seed, step, layer, j, i)


def test_words_of_many_steps_at_once_equal_one_step_at_a_time():
    steps = np.array([0, 1, 7, 1 << 32, (1 << 32) + 1])
    rows, columns = layer_words(9, steps, 1, 4, 3)
    for position, step in enumerate(steps):
        one_rows, one_columns = layer_words(9, int(step), 1, 4, 3)
        np.testing.assert_array_equal(rows[position], one_rows)
        np.testing.assert_array_equal(columns[position], one_columns)


def _tiled(seed, step, layer, n_out, n_in, pe, simd, column_major):
    """Assemble R tile by tile, each tile from only its own row and column indices."""
    out = np.full((n_out, n_in), -1, dtype=np.int64)
    tiles = [(j, i) for j in range(0, n_out, pe) for i in range(0, n_in, simd)]
    if column_major:
        tiles.sort(key=lambda t: (t[1], t[0]))
    from golden_model.qtrain.random_bits import column_words, layer_key, row_words

    key = layer_key(seed, step, layer)
    for j, i in reversed(tiles) if column_major else tiles:
        rows = row_words(key, n_out)[j:j + pe]
        cols = column_words(key, n_in)[i:i + simd]
        out[j:j + pe, i:i + simd] = words(rows, cols)
    return out


@pytest.mark.parametrize("pe, simd", [(1, 1), (4, 8), (3, 5)])
def test_bits_do_not_depend_on_the_folding_or_the_visiting_order(pe, simd):
    a = _tiled(3, 11, 0, 12, 20, pe, simd, column_major=False)
    b = _tiled(3, 11, 0, 12, 20, 2, 7, column_major=True)
    assert a.min() >= 0
    np.testing.assert_array_equal(a, b)


def test_bits_and_bytes_are_uniform():
    rows, columns = layer_words(1, 42, 0, 256, 256)
    r = words(rows, columns).ravel()
    n = r.size
    ones = np.array([(r >> b & 1).sum() for b in range(32)])
    # Each bit is 1 with probability 1/2: within 5 standard deviations.
    assert np.all(np.abs(ones - n / 2) < 5 * np.sqrt(n / 4))
    for offset in (0, 8, 16, 24):
        counts = np.bincount(field(r, 8, offset), minlength=256)
        chi2 = ((counts - n / 256) ** 2 / (n / 256)).sum()
        assert chi2 < _chi2_bound(256)


@pytest.mark.parametrize("partner", [(0, 1), (1, 0), (1, 1), (5, 3)])
def test_pairs_of_words_are_independent_over_steps(partner):
    # Pairwise independence is over the generator's randomness: fix two
    # positions and draw both words at many steps. (Within one step, words of
    # one row share their row word by design.)
    steps = np.arange(65536)
    rows, columns = layer_words(5, steps, 3, 6, 4)
    a = rows[:, 0] ^ columns[:, 0]
    b = rows[:, partner[0]] ^ columns[:, partner[1]]
    a, b = a.astype(np.int64), b.astype(np.int64)
    for offset in (0, 16):
        joint = field(a, 4, offset) << 4 | field(b, 4, offset)
        counts = np.bincount(joint, minlength=256)
        expected = joint.size / 256
        assert ((counts - expected) ** 2 / expected).sum() < _chi2_bound(256)
    corr = np.corrcoef(field(a, 16, 16), field(b, 16, 16))[0, 1]
    assert abs(corr) < 5 / np.sqrt(a.size)


def test_the_same_position_at_consecutive_steps_is_independent():
    steps = np.arange(65537)
    rows, columns = layer_words(5, steps, 0, 2, 2)
    r = (rows[:, 1] ^ columns[:, 1]).astype(np.int64)
    joint = field(r[:-1], 4) << 4 | field(r[1:], 4)
    counts = np.bincount(joint, minlength=256)
    expected = joint.size / 256
    assert ((counts - expected) ** 2 / expected).sum() < _chi2_bound(256)


def test_layers_and_seeds_get_different_words():
    base = words(*layer_words(0, 0, 0, 8, 8))
    for other in (words(*layer_words(1, 0, 0, 8, 8)), words(*layer_words(0, 1, 0, 8, 8)),
                  words(*layer_words(0, 0, 1, 8, 8))):
        assert np.mean(base == other) < 0.05
