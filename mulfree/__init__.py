"""mulfree: multiplier-free neural-network accelerators for open FPGAs.

The work is split over four packages (see ``docs/architecture.md``):
``golden_model`` (training, quantization, the QNet), ``hdl`` (Amaranth
generator), ``sim`` (cocotb verification) and ``boards`` (bitstreams and the
host driver). This package holds only the command line that drives them.
"""

__version__ = "0.1.0"
