"""The hardware generator: a QNet as a multiplier-free Amaranth accelerator.

Modules, one idea each (each primitive carries its NumPy reference and its
cycle/resource estimate):

- :mod:`hdl.adder_tree` — registered sign-select adder tree (``(x ^ s) + s``).
- :mod:`hdl.barrel_shifter` — logarithmic shifter.
- :mod:`hdl.pow2` — power-of-two activation code: encoder and decoder.
- :mod:`hdl.requantize` — bias, shift, activation, saturation, pow2 code.
- :mod:`hdl.regroup` — lane-width converter between layers.
- :mod:`hdl.argmax` — argmax collector (lowest index on ties).
- :mod:`hdl.layer_plan` — folding, widths, memory images; input validation.
- :mod:`hdl.mvu` — the layer engine (PE x SIMD, double-buffered input).
- :mod:`hdl.accelerator` — the whole network as a dataflow pipeline.
- :mod:`hdl.folding`, :mod:`hdl.estimate` — automatic folding and the estimates.
- :mod:`hdl.export` — Verilog/RTLIL with the fixed top ``mulfree_accel``.
- :mod:`hdl.baseline` — the int8 multiplier datapath (benchmarks only).
- :mod:`hdl.yosys_check` — the multiplier-free check and synthesis statistics.
- :mod:`hdl.simulate` — the Amaranth-simulator driver used by tests and benches.
"""
