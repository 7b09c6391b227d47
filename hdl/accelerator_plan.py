"""The plan of a whole accelerator: everything decided before any hardware is built.

``QNet + folding (or a goal for the automatic folding) + weight stores ->
AcceleratorPlan``: per-layer geometry, widths and memory images
(:class:`~hdl.layer_plan.LayerPlan`), the weight-load address map, and the
cycle, latency and resource estimates (:mod:`hdl.estimate`).
:class:`~hdl.accelerator.Accelerator` elaborates a plan; automatic folding,
the board pre-check, memory planning, reports and benches need only the
plan. Planning imports no Amaranth, so none of it imports a component.
"""

from dataclasses import dataclass, field

from golden_model.qnet import QFlatten, QMaxPool2D
from hdl.estimate import accelerator_estimate, layer_memories
from hdl.folding import resolve_folding
from hdl.layer_plan import plan_layers, resolve_weight_stores
from hdl.max_pool_plan import plan_pools
from hdl.supported import check_supported
from hdl.weight_load_plan import LoadMap

__all__ = ["AcceleratorPlan", "plan_accelerator", "plan_pools"]


@dataclass(frozen=True)
class AcceleratorPlan:
    """A planned accelerator (pure data; build it with ``Accelerator.from_plan``).

    Members
    -------
    qnet : QNet
        The network the plan is of.
    folding : tuple of (int, int)
        The resolved ``(pe, simd)`` of each layer.
    weight_stores : tuple of str
        Where each layer's weights live (:data:`hdl.layer_plan.WEIGHT_STORES`).
    in_lanes : int
        Pixels per input beat.
    datapath : str
        ``"signselect"``, or ``"multiply"`` for the int8 baseline.
    layers : tuple of LayerPlan
        One per dense or convolution layer (``LayerPlan.index`` is its QNet
        layer); a convolution's carries its sliding ``window``.
    estimate : dict
        :func:`hdl.estimate.accelerator_estimate` of ``layers``.
    pools : tuple of (int, PoolGeometry)
        The max-pool units, by QNet layer. A flatten is the stream itself.
    images : int
        Images in flight of every layer (:attr:`hdl.layer_plan.LayerPlan.images`).
    """

    qnet: object = field(repr=False)
    folding: tuple
    weight_stores: tuple
    in_lanes: int
    datapath: str
    layers: tuple = field(repr=False)
    estimate: dict = field(repr=False, compare=False)
    pools: tuple = field(default=(), repr=False)
    images: int = 1

    @property
    def n_classes(self):
        return self.qnet.n_classes

    @property
    def input_bits(self):
        """Bits of one pixel of the input stream."""
        return self.qnet.input.bits

    @property
    def logit_width(self):
        """Bits of one logit of the output (the last layer's ``z``)."""
        return self.qnet.widths[-1].z_bits

    @property
    def memories(self):
        """Per layer, its memories (:class:`~hdl.estimate.PlannedMemory`: name, kind
        ``logic``/``block_ram``/``spram``, width, depth, block RAMs per family)."""
        return tuple(layer_memories(layer) for layer in self.layers)

    @property
    def load_map(self):
        """The :class:`~hdl.weight_load_plan.LoadMap` of the loadable layers."""
        return LoadMap(self.layers)

    @property
    def loadable(self):
        """Whether some weights must be written through ``wload`` before use."""
        return any(layer.loadable for layer in self.layers)

    @property
    def cycles_per_image(self):
        """Steady-state initiation interval (estimate)."""
        return self.estimate["cycles_per_image"]

    @property
    def latency_cycles(self):
        """Cycles from an image's first input beat to its output (estimate)."""
        return self.estimate["latency_cycles"]

    def report(self):
        """The estimate with the folding, input lanes, weight stores and QNet fingerprint,
        as a JSON-able dict (what ``mulfree generate`` writes)."""
        report = dict(self.estimate)
        report["folding"] = [list(pair) for pair in self.folding]
        report["in_lanes"] = int(self.in_lanes)
        report["weight_store"] = list(self.weight_stores)
        if self.images > 1:  # a one-image report stays as it was
            report["images"] = int(self.images)
        report["fingerprint"] = self.qnet.fingerprint()
        return report


def plan_accelerator(qnet, folding=None, in_lanes=1, *, target_cycles=None, lut_budget=None,
                     bram_budget=None, datapath="signselect", weight_store=None, images=1):
    """Plan the accelerator of ``qnet``.

    Parameters
    ----------
    qnet : QNet
    folding : None, "auto" or list of (pe, simd)
        None: PE = SIMD = 1 everywhere; ``"auto"``: chosen by
        :func:`hdl.folding.auto_folding` for ``target_cycles`` / ``lut_budget``
        / ``bram_budget``; or one ``(pe, simd)`` per layer.
    in_lanes : int
        Pixels per input beat.
    target_cycles, lut_budget : int, optional
        Goals of the automatic folding (ignored otherwise).
    bram_budget : dict, optional
        ``family -> block RAMs`` the automatic folding may use.
    datapath : {"signselect", "multiply"}
    weight_store : None, str or list of str
        None for all ``rom``, one store for every layer, or one per layer.
    images : int
        Images in flight (1 to :data:`hdl.layer_plan.MAX_IMAGES`): every weight
        word read serves a group of this many images, which cuts the weight
        reads per image by as much and multiplies the trees and accumulators.
        ``"auto"`` folding is chosen for one image at a time.

    Returns
    -------
    AcceleratorPlan

    Raises
    ------
    HardwareGenerationError
        For a QNet, folding or layer the generator cannot build.
    """
    check_supported(qnet, "qnet", maps=True)
    # A max-pool or flatten has no weights: whatever store it was given, it is 'rom'.
    stores = ["rom" if isinstance(layer, QMaxPool2D | QFlatten) else store
              for layer, store in zip(qnet.layers, resolve_weight_stores(qnet, weight_store),
                                      strict=True)]
    resolved = resolve_folding(qnet, folding, in_lanes=in_lanes, target_cycles=target_cycles,
                               lut_budget=lut_budget, bram_budget=bram_budget,
                               datapath=datapath, weight_store=stores)
    layers = plan_layers(qnet, resolved, in_lanes, datapath, stores, images)
    pools = plan_pools(qnet, layers)
    return AcceleratorPlan(
        qnet=qnet, folding=tuple(resolved), weight_stores=tuple(stores), in_lanes=in_lanes,
        datapath=datapath, layers=tuple(layers),
        estimate=accelerator_estimate(layers, qnet.n_classes, pools), pools=tuple(pools),
        images=int(images))

