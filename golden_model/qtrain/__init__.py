"""QTrain: the integer, multiplier-free training step and its golden model.

The contract is ``docs/qtrain.md``.

Members
-------
QTrainConfig, QTrainLayer, QTrainState, QTrainError, init_state, state_from_qnet
    The state (:mod:`.state`).
train_step
    One sample (:mod:`.step`).
run_epoch, fit, accuracy
    Epochs over a dataset (:mod:`.epochs`).
compute_widths
    Worst-case bounds (:mod:`.widths`).
"""

from .epochs import accuracy, fit, run_epoch
from .state import (
    QTrainConfig,
    QTrainError,
    QTrainLayer,
    QTrainState,
    init_state,
    state_from_qnet,
)
from .step import train_step
from .widths import compute_widths

__all__ = ["QTrainConfig", "QTrainError", "QTrainLayer", "QTrainState", "init_state",
           "state_from_qnet", "train_step", "run_epoch", "fit", "accuracy", "compute_widths"]
