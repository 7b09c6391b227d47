"""Matrix-vector unit (MVU): one dense layer as a folded, pipelined engine.

Per cycle the MVU reads one word of SIMD inputs from its input buffer and
one word of PE x SIMD weights from its weight memory; each of the PE lanes
reduces its SIMD terms in a registered sign-select adder tree and adds the
result to its accumulator. After ``F = ceil(N/SIMD)`` cycles a neuron fold is
complete, goes through the requantize units (parameters from the parameter
memory) and is written, PE values in one beat, into the output FIFO. An
image takes ``ceil(M/PE) * F`` cycles of compute plus a fixed latency.

The input buffer holds two images (double buffering): the regrouped input
stream fills one half while the compute loop reads the other, so
consecutive images overlap. The compute loop starts a neuron fold only when
the output FIFO has room reserved for its result, so the pipeline behind
the memories never stalls and no result can be lost under backpressure.

Weights are a ROM initialised by the bitstream, or, for a loadable layer
(``plan.loadable``), a memory written slice by slice through ``wload``
(:mod:`hdl.weight_memory`); such a layer starts no image before
``weights_ready``, and its base-3 packed words pass a decode table first.

Padding of uneven folding: see :mod:`hdl.layer_plan`.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hdl.adder_tree import SignSelectAdderTree, add_with_carry
from hdl.layer_plan import SLICE_BITS, TRITS_PER_BYTE, trit_decode_table
from hdl.multiply_tree import MultiplyAdderTree
from hdl.mvu_plan import fifo_depth, input_registered, pipeline_latency, uses_lane_writes
from hdl.pow2 import Pow2Decoder, pow2_layout
from hdl.regroup import Regroup
from hdl.requantize import Requantizer
from hdl.stream_register import StreamRegister
from hdl.weight_memory import LoadableWeightMemory

__all__ = ["MVU", "fifo_depth", "pipeline_latency", "output_lane_shape", "uses_lane_writes",
           "wload_port_layout", "value_shape"]


def wload_port_layout(plan, word_width):
    """An MVU's weight-write port: ``en``, ``slice``, ``word`` (``word_width`` bits), ``data``."""
    return data.StructLayout({"en": 1, "slice": range(plan.weight_slices),
                              "word": unsigned(word_width), "data": unsigned(SLICE_BITS)})


def value_shape(shape):
    """The Amaranth shape of a planned :class:`~hdl.layer_plan.ValueShape`."""
    return signed(shape.width) if shape.signed else unsigned(shape.width)


def output_lane_shape(plan):
    """Shape of one output lane: the logit for the last layer, else the raw element bits."""
    return value_shape(plan.out_shape) if plan.last else unsigned(plan.out_element_width)


class MVU(wiring.Component):
    """A dense layer engine built from a :class:`~hdl.layer_plan.LayerPlan`.

    Parameters
    ----------
    plan : LayerPlan
        ``plan.datapath`` picks the tree: the sign-select one, or the
        multiplier baseline's (:class:`hdl.multiply_tree.MultiplyAdderTree`).
    load_word_width : int, optional
        Width of ``wload.word`` for a loadable layer (default: the layer's
        own address width).

    Members
    -------
    i : In(stream.Signature(ArrayLayout(unsigned(plan.element_width), plan.in_lanes)))
        The layer's input vector, ``in_lanes`` elements per beat.
    o : Out(stream.Signature(ArrayLayout(output_lane_shape(plan), plan.pe)))
        ``ceil(M/PE)`` beats per image; the padding lanes of the last beat are
        meaningless.
    wload : In(StructLayout({"en", "slice", "word", "data"}))
        Only for a loadable layer (``plan.loadable``): writes one 16-bit
        slice of a weight word (see :mod:`hdl.weight_memory`).
    weights_ready : In(1)
        Only for a loadable layer: images are started only while it is 1.
    """

    def __init__(self, plan, load_word_width=None):
        self._plan = plan
        members = {
            "i": In(stream.Signature(data.ArrayLayout(unsigned(plan.element_width),
                                                      plan.in_lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(output_lane_shape(plan), plan.pe))),
        }
        if plan.loadable:
            self._load_word_width = load_word_width or max(1, (plan.weight_depth - 1)
                                                           .bit_length())
            members["wload"] = In(wload_port_layout(plan, self._load_word_width))
            members["weights_ready"] = In(1)
        super().__init__(members)

    @property
    def plan(self):
        return self._plan

    def __repr__(self):
        return f"MVU(layer={self._plan.index}, pe={self._plan.pe}, simd={self._plan.simd})"

    def _write_words(self, m, source, buffer, write_half, write_addr, full, image_done):
        """Regroup the beats into SIMD-wide words and write one word per transfer."""
        plan = self._plan
        m.submodules.regroup = regroup = Regroup(plan.element_width, plan.in_lanes, plan.simd,
                                                 plan.n_in)
        wiring.connect(m, source, regroup.i)
        port = buffer.write_port()
        m.d.comb += [
            regroup.o.ready.eq(~Mux(write_half, full[1], full[0])),
            port.addr.eq(Mux(write_half, write_addr + plan.input_folds, write_addr)),
            port.data.eq(regroup.o.payload),
            port.en.eq(regroup.o.valid & regroup.o.ready),
        ]
        with m.If(port.en):
            m.d.comb += image_done.eq(write_addr == plan.input_folds - 1)
            with m.If(write_addr != plan.input_folds - 1):
                m.d.sync += write_addr.eq(write_addr + 1)

    def _write_lanes(self, m, source, buffer, write_half, write_addr, full, image_done):
        """Write each beat in place into its lanes of the current word.

        The lanes past the end of the vector are never written, so they keep
        the memory's initial zeros: that is the padding of the last word.
        """
        plan = self._plan
        lanes, groups = plan.in_lanes, plan.simd // plan.in_lanes
        beats = -(-plan.n_in // lanes)
        port = buffer.write_port(granularity=plan.element_width)
        # One-hot lane group: each lane's write enable is one LUT from flip-flops (a binary
        # group decoded per lane was the ECP5-85F's critical path at SIMD 262).
        group = Signal(groups, init=1)
        beat = Signal(range(beats))
        # A flag, not `beat == beats - 1`: the compare fanned out to every group bit was
        # the next critical path on the ECP5-85F.
        last_beat = Signal(init=int(beats == 1))  # the next beat is the vector's last
        accept = Signal()
        tail = plan.n_in - (beats - 1) * lanes  # elements of the last beat in the vector
        m.d.comb += [
            source.ready.eq(~Mux(write_half, full[1], full[0])),
            accept.eq(source.valid & source.ready),
            port.addr.eq(Mux(write_half, write_addr + plan.input_folds, write_addr)),
            port.data.eq(Cat(*([source.payload] * groups))),
        ]
        for g in range(groups):
            for k in range(lanes):
                keep = 1 if k < tail else ~last_beat
                m.d.comb += port.en[g * lanes + k].eq(accept & group[g] & keep)
        with m.If(accept):
            with m.If(last_beat):
                m.d.comb += image_done.eq(1)
                m.d.sync += [beat.eq(0), group.eq(1), last_beat.eq(beats == 1)]
            with m.Else():
                m.d.sync += [beat.eq(beat + 1), group.eq(group.rotate_left(1)),
                             last_beat.eq(beat == beats - 2)]
                with m.If(group[groups - 1]):
                    m.d.sync += write_addr.eq(write_addr + 1)

    def elaborate(self, platform):
        m = Module()
        plan = self._plan
        pe, simd, ew = plan.pe, plan.simd, plan.element_width
        folds_in, folds_out = plan.input_folds, plan.neuron_folds

        # -- input: fill one half of the double buffer per image --------------------
        m.submodules.buffer = buffer = Memory(shape=unsigned(ew * simd), depth=2 * folds_in,
                                              init=[])
        buffer_r = buffer.read_port()
        if plan.loadable:
            m.submodules.weights = weights = LoadableWeightMemory(plan, self._load_word_width)
            m.d.comb += [weights.wen.eq(self.wload.en), weights.wslice.eq(self.wload.slice),
                         weights.waddr.eq(self.wload.word), weights.wdata.eq(self.wload.data)]
            weight_read_addr, weight_read_data = weights.raddr, weights.rdata
            weights_ready = self.weights_ready
        else:
            m.submodules.weights = weights = Memory(
                shape=unsigned(plan.lanes * plan.weight_bits), depth=len(plan.weight_words),
                init=plan.weight_words)
            weights_r = weights.read_port()
            weight_read_addr, weight_read_data = weights_r.addr, weights_r.data
            weights_ready = 1
        m.submodules.params = params = Memory(
            shape=unsigned(plan.param_width), depth=len(plan.param_words),
            init=plan.param_words)
        params_r = params.read_port()

        full = Signal(2)  # per buffer half: holds a complete image not yet consumed
        set_full = Signal(2)
        clear_full = Signal(2)
        write_half = Signal()
        write_addr = Signal(range(folds_in))
        image_done = Signal()  # this cycle's write completes the image
        with m.If(image_done):
            m.d.sync += [write_addr.eq(0), write_half.eq(~write_half)]
            m.d.comb += set_full.eq(Mux(write_half, 0b10, 0b01))
        source = wiring.flipped(self.i)
        if input_registered(plan):
            # The first layer's pixels come from outside and fan out to every lane of
            # the buffer: a register keeps the two from adding up to one long path.
            m.submodules.input_register = register = StreamRegister(self.i.payload.shape())
            wiring.connect(m, source, register.i)
            source = register.o
        if uses_lane_writes(plan):
            self._write_lanes(m, source, buffer, write_half, write_addr, full, image_done)
        else:
            self._write_words(m, source, buffer, write_half, write_addr, full, image_done)
        m.d.sync += full.eq((full | set_full) & ~clear_full)

        # -- compute loop: issue (neuron fold, input fold) addresses --------------
        depth = fifo_depth(plan)
        reserved = Signal(range(depth + 1))  # results in flight plus results in the FIFO
        read_half = Signal()
        neuron_fold = Signal(range(folds_out))
        input_fold = Signal(range(folds_in))
        weight_addr = Signal(range(len(plan.weight_words)))
        issue = Signal()
        start = Signal()
        end_of_image = Signal()
        m.d.comb += [
            start.eq((input_fold == 0) & Mux(read_half, full[1], full[0]) & (reserved < depth)
                     & weights_ready),
            issue.eq(start | (input_fold != 0)),
            end_of_image.eq((neuron_fold == folds_out - 1) & (input_fold == folds_in - 1)),
            buffer_r.addr.eq(Mux(read_half, input_fold + folds_in, input_fold)),
            weight_read_addr.eq(weight_addr),
        ]
        with m.If(issue):
            m.d.sync += weight_addr.eq(Mux(end_of_image, 0, weight_addr + 1))
            with m.If(input_fold == folds_in - 1):
                m.d.sync += input_fold.eq(0)
                with m.If(neuron_fold == folds_out - 1):
                    m.d.sync += [neuron_fold.eq(0), read_half.eq(~read_half)]
                    m.d.comb += clear_full.eq(Mux(read_half, 0b10, 0b01))
                with m.Else():
                    m.d.sync += neuron_fold.eq(neuron_fold + 1)
            with m.Else():
                m.d.sync += input_fold.eq(input_fold + 1)

        # Control travels beside the data: memory read stage, then the tree.
        ctrl_layout = data.StructLayout({
            "valid": 1, "first": 1, "last": 1, "neuron_fold": range(folds_out)})
        ctrl = Signal(ctrl_layout)
        m.d.sync += [
            ctrl.valid.eq(issue),
            ctrl.first.eq(input_fold == 0),
            ctrl.last.eq(input_fold == folds_in - 1),
            ctrl.neuron_fold.eq(neuron_fold),
        ]

        # -- base-3 packed weights: one decode-table read per byte, one stage later
        in_word = buffer_r.data
        if plan.weight_packing == "base3":
            codes = []
            for b in range(plan.packed_bytes):
                table = Memory(shape=unsigned(2 * TRITS_PER_BYTE), depth=256,
                               init=trit_decode_table())
                m.submodules[f"weight_decode{b}"] = table
                port = table.read_port()
                m.d.comb += port.addr.eq(weight_read_data[8 * b:8 * b + 8])
                codes.append(port.data)
            weight_read_data = Cat(*codes)
            # The inputs and the control wait one cycle for the decoded weights.
            in_word = Signal.like(buffer_r.data, name="in_word_d")
            m.d.sync += in_word.eq(buffer_r.data)
            decoded_ctrl = Signal(ctrl_layout, name="ctrl_decoded")
            m.d.sync += decoded_ctrl.eq(ctrl)
            ctrl = decoded_ctrl

        # -- leaves: decode inputs and weights ------------------------------------
        words = [in_word[s * ew:(s + 1) * ew] for s in range(simd)]
        in_value, in_nonzero, in_negative = [], [], []
        for s, raw in enumerate(words):
            if plan.in_pow2:
                code = data.View(pow2_layout(plan.in_e_max), raw)
                decoder = Pow2Decoder(plan.in_e_max)
                m.submodules[f"decode{s}"] = decoder
                m.d.comb += decoder.code.eq(code)
                in_value.append(decoder.magnitude[:plan.leaf_shape.width])
                in_nonzero.append(code.nonzero)
                in_negative.append(code.sign)
            else:
                in_value.append(raw.as_signed() if plan.leaf_shape.signed else raw)
                in_nonzero.append(1)
                in_negative.append(0)

        trees = []
        for p in range(pe):
            tree = _tree(plan)
            m.submodules[f"tree{p}"] = tree
            m.d.comb += tree.valid_in.eq(ctrl.valid)
            for s in range(simd):
                bits = weight_read_data.word_select(p * simd + s, plan.weight_bits)
                m.d.comb += tree.x[s].eq(in_value[s])
                if plan.datapath == "multiply":
                    m.d.comb += [tree.weight[s].eq(bits.as_signed()),
                                 tree.negative[s].eq(in_negative[s]),
                                 tree.nonzero[s].eq(in_nonzero[s])]
                elif plan.weight_bits == 2:
                    m.d.comb += [tree.nonzero[s].eq(bits[0] & in_nonzero[s]),
                                 tree.negative[s].eq(bits[1] ^ in_negative[s])]
                else:
                    m.d.comb += [tree.nonzero[s].eq(in_nonzero[s]),
                                 tree.negative[s].eq(bits[0] ^ in_negative[s])]
            trees.append(tree)

        ctrl_out = ctrl
        for level in range(trees[0].latency):
            delayed = Signal(ctrl_layout, name=f"ctrl_d{level}")
            m.d.sync += delayed.eq(ctrl_out)
            ctrl_out = delayed

        # -- accumulators, then parameters for the finished fold ------------------
        acc_done = Signal()
        m.d.sync += acc_done.eq(ctrl_out.valid & ctrl_out.last)
        m.d.comb += params_r.addr.eq(ctrl_out.neuron_fold)
        accumulators = []
        for p, tree in enumerate(trees):
            acc = Signal(signed(plan.acc_width), name=f"acc{p}")
            with m.If(ctrl_out.valid):
                m.d.sync += acc.eq(add_with_carry(Mux(ctrl_out.first, 0, acc), tree.partial,
                                                  tree.carry, plan.acc_width))
            accumulators.append(acc)

        # -- requantize and hand on -----------------------------------------------
        lane_width = sum(width for _, width in plan.param_fields.values())
        out_lane = output_lane_shape(plan)
        outputs = []
        units = []
        for p, acc in enumerate(accumulators):
            unit = Requantizer(plan.requantize)
            m.submodules[f"requantize{p}"] = unit
            base = p * lane_width
            m.d.comb += [unit.valid_in.eq(acc_done), unit.acc.eq(acc)]
            for name, (offset, width) in plan.param_fields.items():
                field = params_r.data[base + offset:base + offset + width]
                if name == "bias":
                    field = field.as_signed()
                m.d.comb += getattr(unit, name).eq(field)
            result = Signal(out_lane, name=f"out{p}")
            # The requantizer's y fits the consumer's narrower element width exactly.
            m.d.comb += result.eq(Value.cast(unit.out)[:out_lane.width] if not plan.last
                                  else unit.out)
            outputs.append(result)
            units.append(unit)

        m.submodules.fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=pe * out_lane.width, depth=depth)
        m.d.comb += [
            out_fifo.w_data.eq(Cat(*outputs)),
            out_fifo.w_en.eq(units[0].valid_out),
            self.o.payload.eq(out_fifo.r_data),
            self.o.valid.eq(out_fifo.r_rdy),
            out_fifo.r_en.eq(self.o.ready),
        ]
        delivered = self.o.valid & self.o.ready
        m.d.sync += reserved.eq(reserved + start - delivered)
        return m


def _tree(plan):
    leaf = value_shape(plan.leaf_shape)
    if plan.datapath == "multiply":
        return MultiplyAdderTree(plan.simd, leaf, plan.acc_width + 1)
    return SignSelectAdderTree(plan.simd, leaf, plan.acc_width + 1)
