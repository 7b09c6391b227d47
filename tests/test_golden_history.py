"""Training history: rows, best epoch, JSON round trip, bad file."""

import pytest

from golden_model.errors import MulfreeError
from golden_model.history import History


def test_rows_best_and_round_trip(tmp_path):
    h = History()
    h.append(epoch=0, lr=0.1, train_loss=2.0, train_acc=0.5, val_acc=0.6, val_acc_shadow=None,
             seconds=1.0)
    h.append(epoch=1, lr=0.01, train_loss=1.0, train_acc=0.7, val_acc=0.8, val_acc_shadow=0.81,
             seconds=1.0)
    h.best_epoch = 1
    h.final["test_acc"] = 0.79
    assert h.best_val_acc == 0.8
    h.save(tmp_path / "h.json")
    assert History.load(tmp_path / "h.json") == h


def test_bad_file(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(MulfreeError, match="bad.json"):
        History.load(tmp_path / "bad.json")
    assert History().best_val_acc != History().best_val_acc  # nan before any epoch


def test_longest_loss_rise_counts_consecutive_rising_epochs():
    h = History(train_loss=[2.0, 1.0, 1.1, 1.2, 0.9, 1.0, 0.8, 0.8])
    assert h.longest_loss_rise == 2  # 1.0 -> 1.1 -> 1.2; equal losses are not a rise
    assert History(train_loss=[3.0, 2.0, 1.0]).longest_loss_rise == 0
    assert History().longest_loss_rise == 0 and History(train_loss=[1.0]).longest_loss_rise == 0
