"""The record of a training run: one row per epoch, plus the final results."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import MulfreeError
from .output_files import write_json


@dataclass
class History:
    """Per-epoch figures of a training run.

    Members
    -------
    epoch, lr, train_loss, train_acc, val_acc, val_acc_shadow, seconds : list
        One entry per epoch. ``train_loss``/``train_acc`` are averages over
        the epoch's training batches (stochastic weights, dropout on);
        ``val_acc`` is the evaluation accuracy with the deterministic
        quantized weights, ``val_acc_shadow`` with the float shadow weights
        (None when not measured). ``lr`` is the rate of the epoch's first
        update (the rate decays update by update).
    best_epoch : int
        Epoch whose parameters were kept (best ``val_acc``), or -1.
    final : dict
        Figures measured after training (e.g. ``test_acc``, sparsity).
    """

    epoch: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    val_acc_shadow: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    best_epoch: int = -1
    final: dict = field(default_factory=dict)

    def append(self, **row):
        for key, value in row.items():
            getattr(self, key).append(value)

    @property
    def best_val_acc(self):
        return self.val_acc[self.best_epoch] if self.best_epoch >= 0 else float("nan")

    @property
    def longest_loss_rise(self):
        """The most consecutive epochs whose training loss rose over the epoch before.

        0 when the loss never rose: a stability figure (a run that diverges
        while the learning rate decays shows a long rise).
        """
        longest = run = 0
        for before, after in zip(self.train_loss[:-1], self.train_loss[1:], strict=True):
            run = run + 1 if after > before else 0
            longest = max(longest, run)
        return longest

    def to_dict(self):
        return asdict(self)

    def save(self, path):
        """Write the history as JSON (atomically: a failed write keeps the old file)."""
        write_json(path, self.to_dict(), indent=1)

    @classmethod
    def load(cls, path):
        """Read a history written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError) as error:
            raise MulfreeError(f"{path}: expected a training history JSON file ({error})") \
                from None
