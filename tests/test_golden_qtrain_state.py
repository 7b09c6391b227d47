"""QTrain state: seeded init, validation, decay, and import from a QNet."""

import numpy as np
import pytest
from qtrain_states import random_state

from golden_model.qtrain import QTrainConfig, QTrainError, init_state, state_from_qnet


def _config(**changes):
    base = dict(eta=(2, 4), eta_bias=(4, 4), backward_shift=(0, 4), seed=3)
    base.update(changes)
    return QTrainConfig(**base)


def test_init_is_seeded_and_in_range():
    a = init_state([64, 16, 10], 5, _config(), shift=(1, 2))
    b = init_state([64, 16, 10], 5, _config(), shift=(1, 2))
    c = init_state([64, 16, 10], 5, _config(seed=4), shift=(1, 2))
    np.testing.assert_array_equal(a.layers[0].shadow, b.layers[0].shadow)
    assert np.any(a.layers[0].shadow != c.layers[0].shadow)
    assert np.abs(a.layers[0].shadow).max() <= 1024
    assert a.layers[-1].activation == "linear" and not a.layers[-1].pow2


@pytest.mark.parametrize("changes, message", [
    (dict(eta=(2,)), "config.eta: expected 2 integers"),
    (dict(eta=(2, 17)), "config.eta[1]"),
    (dict(sampling="maybe"), "config.sampling"),
    (dict(weight_mode="quaternary"), "config.weight_mode"),
    (dict(target=1 << 20), "config.target"),
    (dict(seed=-1), "config.seed"),
])
def test_bad_configs_are_named(changes, message):
    with pytest.raises(QTrainError, match=message.replace("[", r"\[").replace("]", r"\]")):
        init_state([4, 3, 2], 4, _config(**changes), shift=0)


def test_decay_grows_every_shift_by_one_per_period_up_to_16():
    state = init_state([4, 3, 2], 4, _config(eta=(2, 15), decay_epochs=3), shift=0)
    assert state.eta(0) == (2, 4)
    state.epoch = 7
    assert state.eta(0) == (4, 6) and state.eta(1) == (16, 6)


def test_state_from_qnet_exports_the_same_qnet():
    rng = np.random.default_rng(6)
    for mode in ("ternary", "binary"):
        qnet = random_state(rng, weight_mode=mode, sampling="deterministic").to_qnet()
        config = QTrainConfig(weight_mode=mode, bias_log2=12, eta=(1,) * 3,
                              eta_bias=(1,) * 3, backward_shift=(0, 1, 1))
        state = state_from_qnet(qnet, config)
        assert state.to_qnet().fingerprint() == qnet.fingerprint()


def test_state_from_qnet_refuses_other_modes_and_large_biases():
    rng = np.random.default_rng(7)
    qnet = random_state(rng, weight_mode="ternary").to_qnet()
    config = dict(eta=(1,) * 3, eta_bias=(1,) * 3, backward_shift=(0, 1, 1))
    with pytest.raises(QTrainError, match="weight mode"):
        state_from_qnet(qnet, QTrainConfig(weight_mode="binary", **config))
    qnet.layers[0].bias[0] = 5000
    with pytest.raises(QTrainError, match="raise bias_log2"):
        state_from_qnet(qnet, QTrainConfig(bias_log2=12, **config))
