"""QTrain learns digits from a random init: >= 95 % test accuracy with the ``learn`` defaults.

The defaults were tuned on the validation split only. About 5 s of CPU per run.
"""

import pytest

from golden_model.history import History
from mulfree.cli import main


@pytest.mark.parametrize("mode", [[], ["--deterministic"]], ids=["stochastic", "deterministic"])
def test_digits_64_64_10_reaches_95_percent_from_a_random_init(tmp_path, mode):
    out = tmp_path / "learn.qtrain.npz"
    assert main(["learn", "--dataset", "digits", "--arch", "64-64-10", "--epochs", "20",
                 "--seed", "0", "--quiet", "--out", str(out), *mode]) == 0
    history = History.load(tmp_path / "learn.history.json")
    assert history.final["test_acc"] >= 0.95
    assert history.train_acc[-1] > history.train_acc[0]
