"""The hardware generator: a QNet as a multiplier-free Amaranth accelerator.

Modules, one idea each (each primitive carries its NumPy reference; its
cycle/resource estimate is in the pure ``<name>_plan`` module beside it).
Planning (``*_plan``, :mod:`hdl.estimate`, :mod:`hdl.folding`) imports no
Amaranth and no component; components elaborate plans:

- :mod:`hdl.adder_tree` — registered sign-select adder tree (``(x ^ s) + s``).
- :mod:`hdl.barrel_shifter` — logarithmic shifter.
- :mod:`hdl.pow2` — power-of-two activation code: encoder and decoder.
- :mod:`hdl.requantize` — bias, shift, activation, saturation, pow2 code.
- :mod:`hdl.regroup` — lane-width converter between layers.
- :mod:`hdl.argmax` — argmax collector (lowest index on ties).
- :mod:`hdl.layer_plan` — folding, widths, memory images; input validation.
- :mod:`hdl.accelerator_plan` — the whole design as frozen data
  (:class:`~hdl.accelerator_plan.AcceleratorPlan`), with its estimates.
- :mod:`hdl.mvu` — the layer engine (PE x SIMD, double-buffered input).
- :mod:`hdl.accelerator` — the whole network as a dataflow pipeline, from its plan.
- :mod:`hdl.folding`, :mod:`hdl.estimate` — automatic folding and the estimates.
- :mod:`hdl.weight_load_plan`, :mod:`hdl.weight_load` — the weight-load address map and port.
- :mod:`hdl.export` — Verilog/RTLIL with the fixed top ``mulfree_accel``.
- :mod:`hdl.baseline`, :mod:`hdl.multiply_tree` — the int8 multiplier datapath
  (benchmarks only).
- :mod:`hdl.yosys_check` — the multiplier-free check and synthesis statistics.
- :mod:`hdl.simulate` — the Amaranth-simulator driver used by tests and benches.
"""
