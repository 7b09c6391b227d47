"""Verilog and RTLIL of an accelerator, with a fixed top name and stable ports.

The top module is ``mulfree_accel`` with ports ``clk``, ``rst``,
``i__valid``, ``i__ready``, ``i__payload`` (lane ``k`` at bits
``[k*B_in, (k+1)*B_in)``), ``o__valid``, ``o__ready`` and ``o__payload``
(the class in the low bits, then logit ``c`` at offset
``class_width + c*z_bits``, two's complement). Source locations are left
out, so the output depends only on the QNet and the options.
"""

from amaranth.back import rtlil, verilog

from hdl.accelerator import Accelerator

__all__ = ["generate_verilog", "generate_rtlil", "TOP_NAME", "build_accelerator"]

TOP_NAME = "mulfree_accel"


def build_accelerator(qnet, folding=None, in_lanes=1, **options):
    """The :class:`~hdl.accelerator.Accelerator` that the generators convert."""
    return Accelerator(qnet, folding=folding, in_lanes=in_lanes, **options)


def generate_verilog(qnet, folding=None, in_lanes=1, name=TOP_NAME, **options):
    """Verilog text of the accelerator of ``qnet``.

    Parameters
    ----------
    qnet : QNet
    folding, in_lanes, **options
        As for :class:`~hdl.accelerator.Accelerator`.
    name : str
        Top module name (``mulfree_accel`` unless told).

    Returns
    -------
    str
    """
    accelerator = build_accelerator(qnet, folding, in_lanes, **options)
    return verilog.convert(accelerator, name=name, emit_src=False)


def generate_rtlil(qnet, folding=None, in_lanes=1, name=TOP_NAME, **options):
    """RTLIL text of the accelerator of ``qnet`` (see :func:`generate_verilog`)."""
    accelerator = build_accelerator(qnet, folding, in_lanes, **options)
    return rtlil.convert(accelerator, name=name, emit_src=False)
