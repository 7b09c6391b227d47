"""Verilog and RTLIL of a trainer, with a fixed top name and no source locations."""

from amaranth.back import rtlil, verilog

from .trainer import Trainer

__all__ = ["TRAINER_TOP", "trainer_verilog", "trainer_rtlil"]

TRAINER_TOP = "mulfree_trainer"


def trainer_verilog(plan, name=TRAINER_TOP):
    """Verilog text of the :class:`~hdl.trainer.trainer.Trainer` of ``plan``."""
    return verilog.convert(Trainer(plan), name=name, emit_src=False)


def trainer_rtlil(plan, name=TRAINER_TOP):
    """RTLIL text of the :class:`~hdl.trainer.trainer.Trainer` of ``plan``."""
    return rtlil.convert(Trainer(plan), name=name, emit_src=False)
