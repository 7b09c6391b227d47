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

With ``plan.images = B > 1`` images in flight, each buffer half holds a
group of B images side by side (word ``f`` of a half is input fold ``f`` of
all B images), and each weight word read feeds B trees per PE lane, one per
image, so the weights are read once per group instead of once per image.
The images arrive one after another; a group closes when it holds B images,
or, when the compute loop is idle and no input has been written for
:data:`~hdl.mvu_plan.GROUP_WAIT` cycles, with the images it holds (so a
single image still gets its answer; images sent back to back fill whole
groups). At the end of each neuron fold the B results pass the PE
requantizers one image per cycle into a double-buffered output memory,
which is read out image after image in arrival order: the output stream is
the same as one image at a time. A group starts only when its output half
is free, so results are never lost under backpressure.

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
from hdl.mvu_plan import (
    GROUP_WAIT,
    fifo_depth,
    input_registered,
    output_buffer_depth,
    pipeline_latency,
    uses_lane_writes,
)
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

    def _write_words(self, m, source, buffer, write_half, write_addr, full, image_done, slot):
        """Regroup the beats into SIMD-wide words and write one word per transfer (into
        image ``slot``'s part of the word for images in flight).

        Returns (whether the write position is at an image's start, whether this cycle writes).
        """
        plan = self._plan
        m.submodules.regroup = regroup = Regroup(plan.element_width, plan.in_lanes, plan.simd,
                                                 plan.n_in)
        wiring.connect(m, source, regroup.i)
        if plan.images == 1:
            port = buffer.write_port()
            wrote = port.en
            data = regroup.o.payload
        else:
            port = buffer.write_port(granularity=plan.element_width * plan.simd)
            wrote = Signal()
            data = Cat(*([regroup.o.payload] * plan.images))
            for b in range(plan.images):
                m.d.comb += port.en[b].eq(wrote & (slot == b))
        m.d.comb += [
            regroup.o.ready.eq(~Mux(write_half, full[1], full[0])),
            port.addr.eq(Mux(write_half, write_addr + plan.input_folds, write_addr)),
            port.data.eq(data),
            wrote.eq(regroup.o.valid & regroup.o.ready),
        ]
        with m.If(wrote):
            m.d.comb += image_done.eq(write_addr == plan.input_folds - 1)
            with m.If(write_addr != plan.input_folds - 1):
                m.d.sync += write_addr.eq(write_addr + 1)
        return write_addr == 0, wrote

    def _write_lanes(self, m, source, buffer, write_half, write_addr, full, image_done, slot):
        """Write each beat in place into its lanes of the current word (of image
        ``slot``'s part of the word for images in flight).

        The lanes past the end of the vector are never written, so they keep
        the memory's initial zeros: that is the padding of the last word.
        Returns (whether the write position is at an image's start, whether this cycle writes).
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
            port.data.eq(Cat(*([source.payload] * (groups * plan.images)))),
        ]
        for b in range(plan.images):
            mine = accept if plan.images == 1 else accept & (slot == b)
            for g in range(groups):
                for k in range(lanes):
                    keep = 1 if k < tail else ~last_beat
                    m.d.comb += port.en[b * plan.simd + g * lanes + k].eq(mine & group[g] & keep)
        with m.If(accept):
            with m.If(last_beat):
                m.d.comb += image_done.eq(1)
                m.d.sync += [beat.eq(0), group.eq(1), last_beat.eq(beats == 1)]
            with m.Else():
                m.d.sync += [beat.eq(beat + 1), group.eq(group.rotate_left(1)),
                             last_beat.eq(beat == beats - 2)]
                with m.If(group[groups - 1]):
                    m.d.sync += write_addr.eq(write_addr + 1)
        return beat == 0, accept

    def elaborate(self, platform):
        m = Module()
        plan = self._plan
        pe, simd, ew = plan.pe, plan.simd, plan.element_width
        folds_in, folds_out = plan.input_folds, plan.neuron_folds
        images = plan.images

        # -- input: fill one half of the double buffer per image (per group) -------
        m.submodules.buffer = buffer = Memory(shape=unsigned(ew * simd * images),
                                              depth=2 * folds_in, init=[])
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
        slot = Signal(range(images))  # the image of the group being written
        read_half = Signal()
        if images == 1:
            with m.If(image_done):
                m.d.sync += [write_addr.eq(0), write_half.eq(~write_half)]
                m.d.comb += set_full.eq(Mux(write_half, 0b10, 0b01))
        else:
            group_images = [Signal(range(images + 1), name=f"group_images{h}") for h in (0, 1)]
            close = Signal()  # the half being written is handed to the compute loop
            closed_images = Signal(range(images + 1))
            flush = Signal()
            with m.If(image_done):
                m.d.sync += write_addr.eq(0)
                with m.If(slot == images - 1):
                    m.d.comb += [close.eq(1), closed_images.eq(images)]
                with m.Else():
                    m.d.sync += slot.eq(slot + 1)
            with m.Elif(flush):
                m.d.comb += [close.eq(1), closed_images.eq(slot)]
            with m.If(close):
                m.d.sync += [slot.eq(0), write_half.eq(~write_half)]
                m.d.comb += set_full.eq(Mux(write_half, 0b10, 0b01))
                with m.If(write_half):
                    m.d.sync += group_images[1].eq(closed_images)
                with m.Else():
                    m.d.sync += group_images[0].eq(closed_images)
        source = wiring.flipped(self.i)
        if input_registered(plan):
            # The first layer's pixels come from outside and fan out to every lane of
            # the buffer: a register keeps the two from adding up to one long path.
            m.submodules.input_register = register = StreamRegister(self.i.payload.shape())
            wiring.connect(m, source, register.i)
            source = register.o
        write = self._write_lanes if uses_lane_writes(plan) else self._write_words
        at_start, wrote = write(m, source, buffer, write_half, write_addr, full, image_done,
                                slot)
        m.d.sync += full.eq((full | set_full) & ~clear_full)
        if images > 1:
            # A partial group closes only at an image boundary, while the compute loop
            # waits for this very half, after GROUP_WAIT cycles without input.
            idle = Signal(range(GROUP_WAIT + 1))
            with m.If(wrote):
                m.d.sync += idle.eq(0)
            with m.Elif(idle != GROUP_WAIT):
                m.d.sync += idle.eq(idle + 1)
            m.d.comb += flush.eq((slot != 0) & at_start & ~wrote & (idle == GROUP_WAIT)
                                 & (read_half == write_half))

        # -- compute loop: issue (neuron fold, input fold) addresses --------------
        depth = fifo_depth(plan)
        reserved = Signal(range(depth + 1))  # results in flight plus results in the FIFO
        neuron_fold = Signal(range(folds_out))
        input_fold = Signal(range(folds_in))
        weight_addr = Signal(range(len(plan.weight_words)))
        issue = Signal()
        start = Signal()
        end_of_image = Signal()
        if images == 1:
            room = reserved < depth
        else:
            # Per output half: reserved by a group from its start until read out.
            out_busy, set_busy, clear_busy = Signal(2), Signal(2), Signal(2)
            out_images = [Signal(range(images + 1), name=f"out_images{h}") for h in (0, 1)]
            room = (neuron_fold != 0) | ~Mux(read_half, out_busy[1], out_busy[0])
            with m.If(start & (neuron_fold == 0)):
                m.d.comb += set_busy.eq(Mux(read_half, 0b10, 0b01))
                for h in (0, 1):
                    with m.If(read_half == h):
                        m.d.sync += out_images[h].eq(group_images[h])
            m.d.sync += out_busy.eq((out_busy | set_busy) & ~clear_busy)
        m.d.comb += [
            start.eq((input_fold == 0) & Mux(read_half, full[1], full[0]) & room
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
        fields = {"valid": 1, "first": 1, "last": 1, "neuron_fold": range(folds_out)}
        if images > 1:
            fields["half"] = 1
        ctrl_layout = data.StructLayout(fields)
        ctrl = Signal(ctrl_layout)
        m.d.sync += [
            ctrl.valid.eq(issue),
            ctrl.first.eq(input_fold == 0),
            ctrl.last.eq(input_fold == folds_in - 1),
            ctrl.neuron_fold.eq(neuron_fold),
        ]
        if images > 1:
            m.d.sync += ctrl.half.eq(read_half)

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
        # Image b of a group is elements [b*SIMD, (b+1)*SIMD) of the buffer word.
        in_value, in_nonzero, in_negative = [], [], []
        for i in range(images * simd):
            raw = in_word[i * ew:(i + 1) * ew]
            if plan.in_pow2:
                code = data.View(pow2_layout(plan.in_e_max), raw)
                decoder = Pow2Decoder(plan.in_e_max)
                m.submodules[_name("decode", images, *divmod(i, simd))] = decoder
                m.d.comb += decoder.code.eq(code)
                in_value.append(decoder.magnitude[:plan.leaf_shape.width])
                in_nonzero.append(code.nonzero)
                in_negative.append(code.sign)
            else:
                in_value.append(raw.as_signed() if plan.leaf_shape.signed else raw)
                in_nonzero.append(1)
                in_negative.append(0)

        trees = []  # tree of (image b, lane p) at b * PE + p
        for b in range(images):
            for p in range(pe):
                tree = _tree(plan)
                m.submodules[_name("tree", images, b, p)] = tree
                m.d.comb += tree.valid_in.eq(ctrl.valid)
                for s in range(simd):
                    bits = weight_read_data.word_select(p * simd + s, plan.weight_bits)
                    i = b * simd + s
                    m.d.comb += tree.x[s].eq(in_value[i])
                    if plan.datapath == "multiply":
                        m.d.comb += [tree.weight[s].eq(bits.as_signed()),
                                     tree.negative[s].eq(in_negative[i]),
                                     tree.nonzero[s].eq(in_nonzero[i])]
                    elif plan.weight_bits == 2:
                        m.d.comb += [tree.nonzero[s].eq(bits[0] & in_nonzero[i]),
                                     tree.negative[s].eq(bits[1] ^ in_negative[i])]
                    else:
                        m.d.comb += [tree.nonzero[s].eq(in_nonzero[i]),
                                     tree.negative[s].eq(bits[0] ^ in_negative[i])]
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
        for t, tree in enumerate(trees):
            acc = Signal(signed(plan.acc_width), name=_name("acc", images, *divmod(t, pe)))
            with m.If(ctrl_out.valid):
                m.d.sync += acc.eq(add_with_carry(Mux(ctrl_out.first, 0, acc), tree.partial,
                                                  tree.carry, plan.acc_width))
            accumulators.append(acc)
        unit_acc, unit_valid = accumulators[:pe], acc_done
        if images > 1:
            unit_acc, unit_valid, tag = self._serialize(m, ctrl_out, acc_done, accumulators,
                                                        params_r)

        # -- requantize and hand on -----------------------------------------------
        lane_width = sum(width for _, width in plan.param_fields.values())
        out_lane = output_lane_shape(plan)
        outputs = []
        units = []
        for p in range(pe):
            unit = Requantizer(plan.requantize)
            m.submodules[f"requantize{p}"] = unit
            base = p * lane_width
            m.d.comb += [unit.valid_in.eq(unit_valid), unit.acc.eq(unit_acc[p])]
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

        if images > 1:
            self._output_buffer(m, units[0].valid_out, Cat(*outputs), tag, out_images,
                                clear_busy)
            return m
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


    def _serialize(self, m, ctrl_out, acc_done, accumulators, params_r):
        """Hand a neuron fold's results of the B images to the PE requantizers, one
        image per cycle.

        The next fold's first word overwrites the accumulators a cycle after the
        fold ends, so images 1 .. B-1 wait in a shift chain; the parameter read
        keeps its word (read enable) until the next fold ends, at least B cycles
        later (``images <= input_folds``). Returns the requantizers' accumulator
        inputs, their valid, and each result's tag (output address, whether it
        ends the group, output half), delayed as the requantizer delays it.
        """
        plan = self._plan
        pe, images, folds_out = plan.pe, plan.images, plan.neuron_folds
        half_words = images * folds_out
        m.d.comb += params_r.en.eq(ctrl_out.valid & ctrl_out.last)
        done_fold = Signal(range(folds_out))
        done_half = Signal()
        m.d.sync += [done_fold.eq(ctrl_out.neuron_fold), done_half.eq(ctrl_out.half)]
        held = [[Signal(signed(plan.acc_width), name=f"held{b}_{p}") for p in range(pe)]
                for b in range(images - 1)]
        serial = Signal(range(images))  # results of this fold still to hand on
        next_addr = Signal(range(2 * half_words))
        group_end = Signal()
        half = Signal()
        base = Mux(done_half, half_words, 0) + done_fold  # image 0's result of this fold
        with m.If(acc_done):
            m.d.sync += [serial.eq(images - 1), next_addr.eq(base + folds_out),
                         group_end.eq(done_fold == folds_out - 1), half.eq(done_half)]
            m.d.sync += [held[b][p].eq(accumulators[(b + 1) * pe + p])
                         for b in range(images - 1) for p in range(pe)]
        with m.Elif(serial != 0):
            m.d.sync += [serial.eq(serial - 1), next_addr.eq(next_addr + folds_out)]
            m.d.sync += [held[b][p].eq(held[b + 1][p])
                         for b in range(images - 2) for p in range(pe)]
        tag_layout = data.StructLayout({"addr": range(2 * half_words), "end": 1, "half": 1})
        tag = Signal(tag_layout)
        m.d.comb += [tag.addr.eq(Mux(acc_done, base, next_addr)),
                     tag.end.eq(~acc_done & (serial == 1) & group_end),
                     tag.half.eq(Mux(acc_done, done_half, half))]
        for level in range(plan.requantize.latency):
            delayed = Signal(tag_layout, name=f"tag_d{level}")
            m.d.sync += delayed.eq(tag)
            tag = delayed
        unit_acc = [Mux(acc_done, accumulators[p], held[0][p]) for p in range(pe)]
        return unit_acc, acc_done | (serial != 0), tag

    def _output_buffer(self, m, wen, wdata, tag, out_images, clear_busy):
        """Write the requantized results of a group into their output half; read a
        written half out image after image, as many images as its group holds."""
        plan = self._plan
        images, folds_out = plan.images, plan.neuron_folds
        half_words = images * folds_out
        m.submodules.outputs = memory = Memory(shape=unsigned(len(wdata)),
                                               depth=output_buffer_depth(plan), init=[])
        port_w = memory.write_port()
        m.d.comb += [port_w.addr.eq(tag.addr), port_w.data.eq(wdata), port_w.en.eq(wen)]
        written, set_written, clear_written = Signal(2), Signal(2), Signal(2)
        with m.If(wen & tag.end):
            m.d.comb += set_written.eq(Mux(tag.half, 0b10, 0b01))
        m.d.sync += written.eq((written | set_written) & ~clear_written)

        port_r = memory.read_port()
        read_half = Signal()
        pointer = Signal(range(half_words))
        valid = Signal()  # the read port holds a beat not yet taken
        count = Mux(read_half, out_images[1], out_images[0])
        last = Cat(*[(pointer == k * folds_out - 1) & (count == k)
                     for k in range(1, images + 1)]).any()
        have = Mux(read_half, written[1], written[0])
        advance = Signal()
        m.d.comb += [
            advance.eq(~valid | self.o.ready),
            port_r.en.eq(advance),
            port_r.addr.eq(Mux(read_half, half_words, 0) + pointer),
            self.o.valid.eq(valid),
            self.o.payload.eq(port_r.data),
        ]
        with m.If(advance):
            m.d.sync += valid.eq(have)
            with m.If(have):
                with m.If(last):
                    m.d.sync += [pointer.eq(0), read_half.eq(~read_half)]
                    m.d.comb += [clear_written.eq(Mux(read_half, 0b10, 0b01)),
                                 clear_busy.eq(Mux(read_half, 0b10, 0b01))]
                with m.Else():
                    m.d.sync += pointer.eq(pointer + 1)

def _name(kind, images, b, p):
    """A per-lane submodule or signal name: ``tree3`` at one image, ``tree1_3`` for image 1."""
    return f"{kind}{p}" if images == 1 else f"{kind}{b}_{p}"


def _tree(plan):
    leaf = value_shape(plan.leaf_shape)
    if plan.datapath == "multiply":
        return MultiplyAdderTree(plan.simd, leaf, plan.acc_width + 1)
    return SignSelectAdderTree(plan.simd, leaf, plan.acc_width + 1)
