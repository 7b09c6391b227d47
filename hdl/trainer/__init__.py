"""The multiplier-free hardware trainer: QTrain (``docs/qtrain.md``) on the chip.

- :mod:`hdl.trainer.plan` — the trainer's plan (pure data, no Amaranth):
  memories tiled PE x SIMD, widths, cycles per sample, memory word packing.
- :mod:`hdl.trainer.mix` — the contract's ``mix`` round as shifts, xors and adds.
- :mod:`hdl.trainer.lanes` — per-lane datapath: weight sampling, sign-select,
  input rounding, the shadow and bias update.
- :mod:`hdl.trainer.trainer` — the :class:`~hdl.trainer.trainer.Trainer` component.
"""
