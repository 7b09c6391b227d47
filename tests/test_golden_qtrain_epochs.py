"""QTrain epochs: the batched random words equal the per-step ones; order, counters, decay."""

import numpy as np
import pytest
from qtrain_states import random_state

from golden_model.qtrain import QTrainError, run_epoch, train_step
from golden_model.qtrain.epochs import epoch_order


def test_an_epoch_equals_its_steps_one_by_one_across_word_chunks():
    rng = np.random.default_rng(9)
    state = random_state(rng, decay_epochs=1, epoch=1)
    n = 300  # more than one chunk of precomputed words
    x = rng.integers(0, 1 << state.input.bits, (n, state.input.n_inputs))
    y = rng.integers(0, state.layers[-1].n_out, n)
    manual = state.copy()
    order = epoch_order(state.config.seed, state.epoch, n)
    losses = [train_step(manual, x[i], y[i])["loss"] for i in order]
    mean_loss, _ = run_epoch(state, x, y)
    assert mean_loss == np.mean(losses)
    assert (state.step, state.epoch) == (manual.step, manual.epoch + 1)
    for a, b in zip(state.layers, manual.layers, strict=True):
        np.testing.assert_array_equal(a.shadow, b.shadow)
        np.testing.assert_array_equal(a.bias, b.bias)


def test_epoch_order_is_a_seeded_permutation():
    a, b, c = epoch_order(1, 0, 50), epoch_order(1, 0, 50), epoch_order(1, 1, 50)
    np.testing.assert_array_equal(a, b)
    assert sorted(a) == list(range(50)) and np.any(a != c)


def test_data_outside_the_widths_is_refused_before_any_step():
    rng = np.random.default_rng(2)
    state = random_state(rng, input_bits=4)
    x = rng.integers(0, 16, (5, state.input.n_inputs))
    y = np.zeros(5, dtype=np.int64)
    step = state.step
    for bad_x, bad_y, message in ((x + 16, y, "pixels in"), (x, y + 9, "labels in"),
                                  (x[:, 1:], y, "shape")):
        with pytest.raises(QTrainError, match=message):
            run_epoch(state, bad_x, bad_y)
    assert (state.step, state.epoch) == (step, 0)
