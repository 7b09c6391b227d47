"""The ``wload`` port of an accelerator with loadable weights.

The address space it writes (layer, slice and word fields) is planned in
:mod:`hdl.weight_load_plan`, re-exported here.

Members
-------
LoadMap
    The address fields and the slice values of a planned accelerator.
wload_layout
    Payload layout of the ``wload`` port.
"""

from amaranth.hdl import unsigned
from amaranth.lib import data

from hdl.layer_plan import SLICE_BITS
from hdl.weight_load_plan import LoadMap, LoadRegion, slice_values

__all__ = ["LoadMap", "LoadRegion", "wload_layout", "slice_values"]


def wload_layout(address_width):
    """``en`` (write this cycle), ``addr`` (see the module docstring), ``data`` (a slice)."""
    return data.StructLayout({"en": 1, "addr": unsigned(address_width),
                              "data": unsigned(SLICE_BITS)})
