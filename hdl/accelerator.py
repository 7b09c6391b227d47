"""The whole QNet as a dataflow pipeline of MVUs, elaborated from its plan.

``pixels -> MVU 0 -> MVU 1 -> ... -> argmax -> class + logits``

Each MVU regroups its incoming beats into its SIMD width, double-buffers one
image while computing the previous one and hands on its results through an
output FIFO, so the layers run concurrently and the throughput is set by the
slowest stage (:attr:`Accelerator.cycles_per_image`).

Layers whose weights are ``ram`` or ``spram`` (:data:`hdl.layer_plan.WEIGHT_STORES`)
are not preloaded: the accelerator then has a ``wload`` port, through which
every slice of :class:`hdl.weight_load.LoadMap` is written, and a
``weights_ready`` input that holds the pipeline until the load is complete.
"""

from amaranth.hdl import Module, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hdl.accelerator_plan import plan_accelerator
from hdl.argmax import ArgmaxCollector, output_layout
from hdl.conv_layer import ConvLayer, ConvPlan
from hdl.errors import HardwareGenerationError
from hdl.max_pool import MaxPool
from hdl.mvu import MVU
from hdl.weight_load import wload_layout

__all__ = ["Accelerator"]


class Accelerator(wiring.Component):
    """Multiplier-free accelerator of a QNet.

    Parameters
    ----------
    qnet : QNet
    folding : None, "auto" or list of (pe, simd)
        None: PE = SIMD = 1 everywhere; ``"auto"``: chosen by
        :func:`hdl.folding.auto_folding` for ``target_cycles`` / ``lut_budget``;
        or one ``(pe, simd)`` per layer.
    in_lanes : int
        Pixels per input beat.
    target_cycles, lut_budget : int, optional
        Goals of the automatic folding (ignored otherwise).
    bram_budget : dict, optional
        ``family -> block RAMs`` the automatic folding may use.
    datapath : {"signselect", "multiply"}
        ``"multiply"`` builds the int8 multiplier baseline (benchmarks only).
    weight_store : None, str or list of str
        Where the weights live (:data:`hdl.layer_plan.WEIGHT_STORES`): None
        for all ``rom``, one store for every layer, or one per layer.
    images : int
        Images in flight per layer (see :func:`hdl.accelerator_plan.plan_accelerator`).
    plan : AcceleratorPlan, optional
        A plan made by :func:`hdl.accelerator_plan.plan_accelerator`, built
        as it is (the planning options are then not used); see :meth:`from_plan`.

    Members
    -------
    i : In(stream.Signature(ArrayLayout(unsigned(qnet.input.bits), in_lanes)))
        Pixels in order, ``ceil(n_inputs / in_lanes)`` beats per image; the
        padding lanes of the last beat are ignored. Reset restarts an image.
    o : Out(stream.Signature(StructLayout({"cls", "logits"})))
        One transfer per image: the argmax (lowest index on ties) and the logits.
    wload : In(wload_layout(load_map.address_width))
        Only with loadable layers: ``en``, ``addr`` and ``data`` of one 16-bit
        weight slice; always accepted, one per cycle.
    weights_ready : In(1)
        Only with loadable layers: no image starts while it is 0. Raise it
        after the whole load; writes while images are in flight corrupt them.

    Raises
    ------
    HardwareGenerationError
        Before elaboration, for a folding or layer the generator cannot build.
    """

    def __init__(self, qnet=None, folding=None, in_lanes=1, *, target_cycles=None,
                 lut_budget=None, bram_budget=None, datapath="signselect", weight_store=None,
                 plan=None, images=1):
        if plan is None and qnet is None:
            self._MustUse__silence = True
            raise HardwareGenerationError("qnet: expected a QNet (or plan=), got neither")
        if plan is None:
            try:
                plan = plan_accelerator(qnet, folding, in_lanes, target_cycles=target_cycles,
                                        lut_budget=lut_budget, bram_budget=bram_budget,
                                        datapath=datapath, weight_store=weight_store,
                                        images=images)
            except HardwareGenerationError:
                self._MustUse__silence = True  # rejected before elaboration: no "unused" warning
                raise
        elif qnet is not None and qnet is not plan.qnet:
            self._MustUse__silence = True
            raise HardwareGenerationError("plan: expected a plan of the given qnet, got another's")
        self._plan = plan
        self._load_map = plan.load_map
        members = {
            "i": In(stream.Signature(data.ArrayLayout(unsigned(plan.input_bits),
                                                      int(plan.in_lanes)))),
            "o": Out(stream.Signature(output_layout(plan.n_classes, plan.logit_width))),
        }
        if self._load_map.loadable:
            members["wload"] = In(wload_layout(self._load_map.address_width))
            members["weights_ready"] = In(1)
        super().__init__(members)

    @classmethod
    def from_plan(cls, plan):
        """The accelerator that elaborates ``plan``, an
        :class:`~hdl.accelerator_plan.AcceleratorPlan`."""
        return cls(plan=plan)

    @property
    def plan(self):
        """The :class:`~hdl.accelerator_plan.AcceleratorPlan` this accelerator elaborates."""
        return self._plan

    @property
    def qnet(self):
        return self._plan.qnet

    @property
    def folding(self):
        """The resolved folding: one ``(pe, simd)`` per layer."""
        return list(self._plan.folding)

    @property
    def weight_stores(self):
        """The resolved weight store of each layer."""
        return list(self._plan.weight_stores)

    @property
    def loadable(self):
        """Whether some weights must be written through ``wload`` before use."""
        return self._load_map.loadable

    @property
    def load_map(self):
        """The :class:`~hdl.weight_load.LoadMap` of the ``wload`` port."""
        return self._load_map

    @property
    def in_lanes(self):
        return int(self._plan.in_lanes)

    @property
    def plans(self):
        """The layers' :class:`~hdl.layer_plan.LayerPlan`."""
        return list(self._plan.layers)

    @property
    def cycles_per_image(self):
        """Steady-state initiation interval (estimate)."""
        return self._plan.cycles_per_image

    @property
    def latency_cycles(self):
        """Cycles from an image's first input beat to its output (estimate)."""
        return self._plan.latency_cycles

    def estimate(self):
        """Per-layer cycles, LUT, FF and memory bits, and totals, as a JSON-able dict."""
        return self._plan.report()

    def __repr__(self):
        return (f"Accelerator(<QNet {self.qnet.fingerprint()[:12]}>, "
                f"folding={list(self._plan.folding)!r}, in_lanes={self._plan.in_lanes})")

    def elaborate(self, platform):
        m = Module()
        upstream = wiring.flipped(self.i)
        load_map = self._load_map
        pools = dict(self._plan.pools)
        pooled = False  # whether upstream is a pool's (signed lanes for signed values)
        for plan in self._plan.layers:
            for k in sorted(pools):
                if k < plan.index:
                    upstream = self._stream_unit(m, f"pool{k}", MaxPool(pools.pop(k)), upstream)
                    pooled = True
            if plan.window is not None:
                conv = ConvLayer(ConvPlan(plan.window, plan), load_map.word_width)
                upstream = self._stream_unit(m, f"layer{plan.index}", conv, upstream)
                self._wire_load(m, conv, plan)
                pooled = False
                continue
            mvu = MVU(plan, load_map.word_width)
            m.submodules[f"layer{plan.index}"] = mvu
            self._wire_load(m, mvu, plan)
            # Layer k's input element is exactly layer k-1's output lane (the pixel for k = 0;
            # a flatten is the stream as it is; a pool's lanes are the same raw bits).
            if pooled:
                self._connect_raw(m, upstream, mvu.i)
            else:
                wiring.connect(m, upstream, mvu.i)
            upstream, pooled = mvu.o, False
        last = self._plan.layers[-1]
        m.submodules.argmax = collector = ArgmaxCollector(
            self._plan.n_classes, last.pe, self._plan.logit_width)
        wiring.connect(m, upstream, collector.i)
        wiring.connect(m, collector.o, wiring.flipped(self.o))
        return m

    def _wire_load(self, m, unit, plan):
        """Connect a loadable layer's ``wload`` / ``weights_ready`` (an MVU's or a
        convolution's) to the accelerator's load port; nothing for a ROM layer."""
        if not plan.loadable:
            return
        layer, slice_, word = self._split_load_address()
        m.d.comb += [
            # A slice past the layer's word writes nothing (its field is narrower).
            unit.wload.en.eq(self.wload.en & (layer == plan.index)
                             & (slice_ < plan.weight_slices)),
            unit.wload.slice.eq(slice_),
            unit.wload.word.eq(word),
            unit.wload.data.eq(self.wload.data),
            unit.weights_ready.eq(self.weights_ready),
        ]

    @staticmethod
    def _stream_unit(m, name, unit, upstream):
        """Add a window or pool unit after ``upstream``; return its output stream.

        The raw bits pass as they are: a signed lane is the same bits as the
        producer's unsigned raw lane."""
        m.submodules[name] = unit
        Accelerator._connect_raw(m, upstream, unit.i)
        return unit.o

    @staticmethod
    def _connect_raw(m, source, sink):
        """Connect two streams whose payloads have the same bits, maybe other layouts."""
        m.d.comb += [
            sink.valid.eq(source.valid),
            sink.payload.as_value().eq(source.payload.as_value()),
            source.ready.eq(sink.ready),
        ]

    def _split_load_address(self):
        """The (layer, slice, word) fields of ``wload.addr``."""
        load_map, addr = self._load_map, self.wload.addr
        word = addr[:load_map.word_width]
        slice_ = addr[load_map.word_width:load_map.word_width + load_map.slice_width]
        layer = addr[load_map.word_width + load_map.slice_width:]
        return layer, slice_, word
