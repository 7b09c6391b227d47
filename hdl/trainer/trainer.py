"""The hardware trainer: QTrain steps on a stream of labelled images, no multiplier.

One layer at a time, one PE x SIMD tile of shadow weights per cycle from block
RAM (:class:`amaranth.lib.memory.Memory`, laid out as :mod:`hdl.trainer.plan`
says). Per sample: the random words (the two ``mix`` rounds pipelined, a word
per cycle), the forward (weights sampled from the shadows on the fly; sums,
then one unit per cycle through shift, activation, saturation and
power-of-two code; masks kept), the output error and class, the backward
``W^T delta`` (the same samples: the bits are a function of the indices), and
the update as a read-modify-write of every tile. The class goes out before
the update. Every per-sample vector (random words, inputs, rounding, sums,
masks, errors, backward sums) is a memory with a PE- or SIMD-wide word per
row or column group: tiles read a word, the serial phases a lane.

Ports
-----
i : stream of ``n_inputs`` pixel beats, then one label beat.
evaluate : read with the label beat: 1 runs the forward only, with the
    deterministic weights (the exported QNet's), and leaves the state and the
    step as they are (the label is ignored).
o : stream of one class per sample (the forward before the update).
state_* : while ``idle``, read (``state_rdata`` one cycle after the address)
    and write whole memory words: ``state_sel`` is ``2k`` for layer ``k``'s
    shadows, ``2k + 1`` for its biases.
step_wdata, step_we, step : the step counter ``t`` (written while ``idle``).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .lanes import (
    clip,
    pow2_code,
    round_input,
    sample_weight,
    sign_select,
    update_bias,
    update_shadow,
)
from .mix import MIX_HALF, MIX_STEPS, mix_round
from .plan import MIX_LATENCY

__all__ = ["Trainer"]


def _pick(values, index):
    """``values[index]`` for a run-time index (a multiplexer; direct for one value)."""
    return values[0] if len(values) == 1 else Array(values)[index]


def _lane(word, lane, bits):
    return word[lane * bits:(lane + 1) * bits].as_signed()


def _compact(word, positions):
    """The bits of a 32-bit random word at ``positions`` (the ones the lanes read)."""
    return Cat(*[word[b] for b in positions])


def _expand(compact, positions):
    """A 32-bit word with the bits of ``compact`` back at ``positions``, zero elsewhere."""
    bits = [Const(0, 1)] * 32
    for n, b in enumerate(positions):
        bits[b] = compact[n]
    return Cat(*bits)


def _evaluation_word(plan, evaluating, word, row):
    """A row (``row``) or column random word, or while ``evaluating`` the constant
    whose XOR makes the stochastic weight sample the deterministic one.

    Ternary: ``rho < |S|`` with ``rho = W0 / 2`` is ``|S| > W0 / 2``; binary:
    ``rho < S + W0`` with ``rho = W0 - 1`` is ``S >= 0``. Row words give the
    constant, column words zero; only the sampled low bits are replaced (the
    others are read only by the backward and update, which an evaluation skips).
    """
    if plan.sampling != "stochastic":
        return word
    low = plan.w0_log2 + 1
    w0 = 1 << plan.w0_log2
    constant = (w0 // 2 if plan.weight_mode == "ternary" else w0 - 1) if row else 0
    return Cat(Mux(evaluating, Const(constant, low), word[:low]), word[low:])


def _spram_shadows(m, k, lp):
    """Layer ``k``'s shadows in ``SB_SPRAM256KA`` cells side by side (one port).

    Returns a read and a write port look-alike (``addr``, ``data``, ``en``):
    the cells take the write address while ``en`` is high, else the read
    address, so the two must not be used in the same cycle (the update
    issues its reads every other cycle).
    """
    from types import SimpleNamespace

    from amaranth.hdl import ClockSignal

    from hdl.spram import SPRAM256KA

    width = lp.shadow_word_bits
    read = SimpleNamespace(addr=Signal(range(max(2, lp.depth)), name=f"shadow{k}_raddr"),
                           data=Signal(width, name=f"shadow{k}_rdata"))
    write = SimpleNamespace(addr=Signal(range(max(2, lp.depth)), name=f"shadow{k}_waddr"),
                            data=Signal(width, name=f"shadow{k}_wdata"),
                            en=Signal(name=f"shadow{k}_we"))
    address = Signal(14, name=f"shadow{k}_addr")
    m.d.comb += address.eq(Mux(write.en, write.addr, read.addr))
    outputs = []
    for n in range(lp.spram_blocks):
        out = Signal(16, name=f"shadow{k}_spram{n}_out")
        m.submodules[f"shadow{k}_spram{n}"] = SPRAM256KA(
            address=address, datain=write.data[16 * n:16 * (n + 1)], maskwren=0b1111,
            wren=write.en, chipselect=1, clock=ClockSignal("sync"), standby=0, sleep=0,
            poweroff=1, dataout=out)
        outputs.append(out)
    m.d.comb += read.data.eq(Cat(*outputs)[:width])
    return read, write


def _arith_shift(value, shift):
    return value >> shift if shift >= 0 else value << -shift


class Trainer(wiring.Component):
    """The trainer of a :class:`~hdl.trainer.plan.TrainerPlan`.

    Parameters
    ----------
    plan : TrainerPlan
    """

    def __init__(self, plan):
        self.plan = plan
        layers = plan.layers
        self.word_bits = max(max(lp.shadow_word_bits, lp.bias_word_bits) for lp in layers)
        self.max_depth = max(max(lp.depth, lp.row_groups) for lp in layers)
        self.class_bits = max(1, (plan.n_classes - 1).bit_length())
        super().__init__({
            "i": In(stream.Signature(unsigned(max(plan.input_bits, self.class_bits)))),
            "evaluate": In(1),
            "o": Out(stream.Signature(unsigned(self.class_bits))),
            "state_sel": In(range(2 * len(layers))),
            "state_addr": In(range(self.max_depth)),
            "state_wdata": In(self.word_bits),
            "state_we": In(1),
            "state_rdata": Out(self.word_bits),
            "step_wdata": In(32),
            "step_we": In(1),
            "step": Out(32),
            "idle": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        layers = plan.layers
        n_layers = len(layers)

        def lane_memory(name, width, lanes, depth, transparent=False):
            """A memory of ``lanes`` x ``width``-bit words; its read and (per lane) write port."""
            memory = Memory(shape=unsigned(width * lanes), depth=depth, init=[])
            m.submodules[name] = memory
            write = memory.write_port(granularity=width)
            return memory.read_port(transparent_for=(write,) if transparent else ()), write

        # Per-sample vectors of each layer in memories of PE-wide words per row group
        # (sums, masks, deltas) or SIMD-wide words per column group (backward sums):
        # the tiles read a word per cycle, the serial phases a lane.
        sum_ports = [lane_memory(f"sums{k}", lp.bits["sum"], lp.pe, lp.row_groups, True)
                     for k, lp in enumerate(layers)]
        mask_ports = [lane_memory(f"masks{k}", 1, lp.pe, lp.row_groups)
                      for k, lp in enumerate(layers)]
        delta_ports = [lane_memory(f"deltas{k}", plan.delta_bits, lp.pe, lp.row_groups)
                       for k, lp in enumerate(layers)]
        grad_ports = [lane_memory(f"grads{k}", lp.bits["backward"], lp.simd, lp.column_groups,
                                  True) for k, lp in enumerate(layers)]
        accs = [[Signal(signed(lp.bits["sum"]), name=f"acc{k}_p{p}") for p in range(lp.pe)]
                for k, lp in enumerate(layers)]
        # Layer inputs (activations or pow2 codes) and their power-of-two rounding
        # (negative, nonzero, exponent) in memories of SIMD-wide words per column group.
        exp_bits = [max(1, lp.input_exponent_max.bit_length()) for lp in layers]
        act_bits = [lp.bits["input"] for lp in layers]
        round_bits = [2 + exp_bits[k] for k in range(n_layers)]
        input_ports = []
        for k, lp in enumerate(layers):
            ports_k = []
            for name, width in (("acts", act_bits[k]), ("rounded", round_bits[k])):
                memory = Memory(shape=unsigned(width * lp.simd), depth=lp.column_groups, init=[])
                m.submodules[f"{name}{k}"] = memory
                ports_k += [memory.read_port(), memory.write_port(granularity=width)]
            input_ports.append(ports_k)
        # Random words: rows u_j (j < n_out) and columns v_i (i < n_in) in block RAM, one
        # PE- or SIMD-wide word per row or column group, only the bits the lanes read;
        # u_{n_out}, u_{n_out + 1} and v_{n_in} (one each per layer) in registers.
        positions = [plan.random_bit_positions(lp) for lp in layers]
        row_extra = [[Signal(32, name=f"u{k}_{lp.n_out + j}") for j in range(2)]
                     for k, lp in enumerate(layers)]
        col_extra = [Signal(32, name=f"v{k}_{lp.n_in}") for k, lp in enumerate(layers)]
        random_ports = []
        for k, lp in enumerate(layers):
            width = len(positions[k])
            row_mem = Memory(shape=unsigned(width * lp.pe), depth=lp.row_groups, init=[])
            col_mem = Memory(shape=unsigned(width * lp.simd), depth=lp.column_groups, init=[])
            m.submodules[f"rows{k}"], m.submodules[f"cols{k}"] = row_mem, col_mem
            random_ports.append((row_mem.read_port(), row_mem.write_port(granularity=width),
                                 col_mem.read_port(), col_mem.write_port(granularity=width)))
        # The sample being run is an evaluation (forward only, deterministic weights).
        evaluating = Signal()
        key0 = Signal(32)
        key = Signal(32)
        step = Signal(32)
        label = Signal(self.class_bits)
        best = Signal(signed(layers[-1].bits["z"]))
        cls = Signal(self.class_bits)
        o_valid = Signal()
        o_class = Signal(self.class_bits)
        m.d.comb += [self.step.eq(step), self.o.valid.eq(o_valid),
                     self.o.payload.eq(o_class)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += o_valid.eq(0)

        # Memories; outside a sample the state port drives them.
        ports = []
        sel_d = Signal.like(self.state_sel)
        m.d.sync += sel_d.eq(self.state_sel)
        readback = []
        for k, lp in enumerate(layers):
            bias = Memory(shape=unsigned(lp.bias_word_bits), depth=lp.row_groups, init=[])
            m.submodules[f"bias{k}"] = bias
            if lp.spram:
                sr, sw = _spram_shadows(m, k, lp)
            else:
                shadow = Memory(shape=unsigned(lp.shadow_word_bits), depth=lp.depth, init=[])
                m.submodules[f"shadow{k}"] = shadow
                sr, sw = shadow.read_port(), shadow.write_port()
            br, bw = bias.read_port(), bias.write_port()
            ports.append((sr, sw, br, bw))
            for index, (read, write, width) in enumerate(((sr, sw, lp.shadow_word_bits),
                                                          (br, bw, lp.bias_word_bits))):
                m.d.comb += [read.addr.eq(self.state_addr), write.addr.eq(self.state_addr),
                             write.data.eq(self.state_wdata[:width]),
                             write.en.eq(self.idle & self.state_we
                                         & (self.state_sel == 2 * k + index))]
                readback.append(read.data)
        with m.Switch(sel_d):
            for index, data in enumerate(readback):
                with m.Case(index):
                    m.d.comb += self.state_rdata.eq(data)
        with m.If(self.idle & self.step_we):
            m.d.sync += step.eq(self.step_wdata)

        # Counters shared by the phases.
        pixel = Signal(range(plan.n_inputs + 1))
        # One mix unit, each of its two rounds in two pipeline stages (a round in
        # one cycle was the longest path): a row or column word per cycle, out
        # three cycles after its issue.
        mix_source, key_wait = Signal(32), Signal(range(MIX_LATENCY + 1))
        stages = [Signal(32, name=f"mix_stage{n}") for n in range(MIX_LATENCY)]
        value = mix_source
        for n, stage in enumerate(stages):
            steps = (0, MIX_HALF) if n % 2 == 0 else (MIX_HALF, MIX_STEPS)
            m.d.sync += stage.eq(mix_round(m, value, f"mix_{n}", steps))
            value = stage
        mix_out = mix_round(m, value, f"mix_{MIX_LATENCY}", (MIX_HALF, MIX_STEPS))
        max_words = max(max(lp.n_in + 1, lp.n_out + 2) for lp in layers)
        mix_index = Signal(range(max_words + 1))
        mix_group = Signal(range(max(max(lp.row_groups, lp.column_groups) for lp in layers) + 1))
        mix_lane = Signal(range(max(max(lp.pe, lp.simd) for lp in layers)))
        # Where each word in the pipeline goes: set at its issue, then one stage a
        # cycle; stored when it leaves (``MIX_LATENCY`` cycles after its issue).
        pending = [(Signal(name=f"pend{n}_valid"), Signal(name=f"pend{n}_column"),
                    Signal(range(n_layers), name=f"pend{n}_layer"),
                    Signal.like(mix_index, name=f"pend{n}_index"),
                    Signal.like(mix_group, name=f"pend{n}_group"),
                    Signal.like(mix_lane, name=f"pend{n}_lane")) for n in range(MIX_LATENCY)]
        for before, after in zip(pending, pending[1:], strict=False):
            m.d.sync += [a.eq(b) for a, b in zip(after, before, strict=True)]
        pend_valid, pend_column, pend_layer, pend_index, pend_group, pend_lane = pending[-1]
        m.d.sync += pending[0][0].eq(0)
        for k, lp in enumerate(layers):
            _, row_write, _, col_write = random_ports[k]
            with m.If(pend_valid & (pend_layer == k)):
                for column, port, count, lanes in ((0, row_write, lp.n_out, lp.pe),
                                                   (1, col_write, lp.n_in, lp.simd)):
                    with m.If((pend_column == column) & (pend_index < count)):
                        m.d.comb += [port.addr.eq(pend_group), port.en.eq(1 << pend_lane),
                                     port.data.eq(Cat(*[_compact(mix_out, positions[k])]
                                                      * lanes))]
                with m.If(~pend_column & (pend_index == lp.n_out)):
                    m.d.sync += row_extra[k][0].eq(mix_out)
                with m.If(~pend_column & (pend_index == lp.n_out + 1)):
                    m.d.sync += row_extra[k][1].eq(mix_out)
                with m.If(pend_column & (pend_index == lp.n_in)):
                    m.d.sync += col_extra[k].eq(mix_out)
        # Column word i of the serial phases: group and lane of ``index``.
        col_group = Signal(range(max(lp.column_groups for lp in layers) + 1))
        col_lane = Signal(range(max(lp.simd for lp in layers)))
        cols_walk = (col_group, col_lane)
        # Row j of the serial phases: group and lane.
        row_group = Signal(range(max(lp.row_groups for lp in layers) + 1))
        row_lane = Signal(range(max(lp.pe for lp in layers)))
        rows_walk = (row_group, row_lane)
        max_rg = max(lp.row_groups for lp in layers)
        max_cg = max(lp.column_groups for lp in layers)
        rg, prg = Signal(range(max_rg)), Signal(range(max_rg))
        cg, pcg = Signal(range(max_cg)), Signal(range(max_cg))
        addr, paddr = Signal(range(self.max_depth + 1)), Signal(range(self.max_depth + 1))
        issued, pvalid = Signal(), Signal()
        index = Signal(range(max(max(lp.n_in, lp.n_out) for lp in layers) + 1))

        def tile_loop(k, next_state, process, single_port=False):
            """Issue one tile address per cycle; process its word one cycle later.

            ``single_port``: issue every other cycle, so the processing cycle
            can write the word back through the same port (SPRAM).
            """
            lp = layers[k]
            sr, sw, br, bw = ports[k]
            row_read, _, col_read, _ = random_ports[k]
            with m.If(~issued & ~pvalid if single_port else ~issued):
                m.d.comb += [sr.addr.eq(addr), br.addr.eq(rg), row_read.addr.eq(rg),
                             col_read.addr.eq(cg), input_ports[k][0].addr.eq(cg),
                             input_ports[k][2].addr.eq(cg), delta_ports[k][0].addr.eq(rg),
                             grad_ports[k][0].addr.eq(cg)]
                m.d.sync += [pvalid.eq(1), prg.eq(rg), pcg.eq(cg), paddr.eq(addr),
                             addr.eq(addr + 1)]
                with m.If(cg == lp.column_groups - 1):
                    m.d.sync += cg.eq(0)
                    with m.If(rg == lp.row_groups - 1):
                        m.d.sync += [rg.eq(0), issued.eq(1)]
                    with m.Else():
                        m.d.sync += rg.eq(rg + 1)
                with m.Else():
                    m.d.sync += cg.eq(cg + 1)
            with m.Else():
                m.d.sync += pvalid.eq(0)
            with m.If(pvalid):
                process(lp, ports[k])
                with m.If(issued):
                    m.d.sync += [issued.eq(0), addr.eq(0)]
                    m.next = next_state

        def serial_loop(count, next_state):
            with m.If(index == count - 1):
                m.d.sync += index.eq(0)
                m.next = next_state
            with m.Else():
                m.d.sync += index.eq(index + 1)

        def write_lane(port, value, width, lanes, walk=cols_walk):
            """Write ``value`` at the walk's lane of its word of a ``lanes``-wide memory."""
            group, lane_index = walk
            lane = Signal(width)
            m.d.comb += [lane.eq(value), port.addr.eq(group), port.en.eq(1 << lane_index),
                         port.data.eq(Cat(*[lane] * lanes))]

        def advance(lanes, last, walk=cols_walk):
            group, lane_index = walk
            with m.If((lane_index == lanes - 1) | last):
                m.d.sync += [lane_index.eq(0), group.eq(Mux(last, 0, group + 1))]
            with m.Else():
                m.d.sync += lane_index.eq(lane_index + 1)

        def serial_walk(lanes, count, read_ports, walk=cols_walk):
            """Walk ``count`` elements one per cycle with ``index``, ``lanes`` per word.

            The memories are read one cycle ahead (the group of the next element;
            group 0 while not in the phase, so the first is ready on entry).
            Returns ``lane(port, width)``, the current element's lane of a port.
            """
            group, lane_index = walk
            ahead = Mux(lane_index == lanes - 1, group + 1, group)
            for port in read_ports:
                m.d.comb += port.addr.eq(ahead)
            advance(lanes, index == count - 1, walk)

            def lane(port, width):
                return _pick([port.data[n * width:(n + 1) * width] for n in range(lanes)],
                             lane_index)
            return lane

        def lane_signals(k, lp):
            """The values every lane of the tile being processed sees, selected once per layer."""
            sr, _, br, _ = ports[k]

            row_read, _, col_read, _ = random_ports[k]
            width = len(positions[k])

            lanes = {"u": [_evaluation_word(plan, evaluating, _expand(
                               row_read.data[p * width:(p + 1) * width], positions[k]), True)
                           for p in range(lp.pe)],
                     "delta": [_lane(delta_ports[k][0].data, p, plan.delta_bits)
                               for p in range(lp.pe)],
                     "grad": [_lane(grad_ports[k][0].data, s, lp.bits["backward"])
                              for s in range(lp.simd)],
                     "v": [_evaluation_word(plan, evaluating, _expand(
                               col_read.data[s * width:(s + 1) * width], positions[k]), False)
                           for s in range(lp.simd)],
                     "a": [_lane(input_ports[k][0].data, s, act_bits[k]) for s in range(lp.simd)]}
            rounded = [input_ports[k][2].data[s * round_bits[k]:(s + 1) * round_bits[k]]
                       for s in range(lp.simd)]
            lanes["neg"] = [r[0] for r in rounded]
            lanes["nz"] = [r[1] for r in rounded]
            lanes["exp"] = [r[2:] for r in rounded]
            lanes["shadow"] = [[_lane(sr.data, p * lp.simd + s, lp.shadow_bits)
                                for s in range(lp.simd)] for p in range(lp.pe)]
            lanes["bias"] = [_lane(br.data, p, lp.bias_bits) for p in range(lp.pe)]
            lanes["word"] = [[Signal(32, name=f"lane_r{k}_p{p}_s{s}") for s in range(lp.simd)]
                             for p in range(lp.pe)]
            lanes["plus"] = [[Signal(name=f"lane_plus{k}_p{p}_s{s}") for s in range(lp.simd)]
                             for p in range(lp.pe)]
            lanes["minus"] = [[Signal(name=f"lane_minus{k}_p{p}_s{s}") for s in range(lp.simd)]
                              for p in range(lp.pe)]
            for p in range(lp.pe):
                for s in range(lp.simd):
                    word = lanes["word"][p][s]
                    plus, minus = sample_weight(m, plan, lanes["shadow"][p][s], word)
                    m.d.comb += [word.eq(lanes["u"][p] ^ lanes["v"][s]),
                                 lanes["plus"][p][s].eq(plus), lanes["minus"][p][s].eq(minus)]
            return lanes

        tile_lanes = [lane_signals(k, lp) for k, lp in enumerate(layers)]

        m.d.comb += self.busy.eq(1)
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [self.busy.eq(0), self.idle.eq(pixel == 0), self.i.ready.eq(1)]
                with m.If(self.i.valid):
                    with m.If(pixel == plan.n_inputs):
                        m.d.sync += [label.eq(self.i.payload), pixel.eq(0),
                                     evaluating.eq(self.evaluate)]
                        # An evaluation needs no random words: its weights are
                        # the deterministic ones.
                        with m.If(self.evaluate):
                            m.next = "FWD_TILE_0"
                        with m.Else():
                            m.next = "MIX_KEY"
                    with m.Else():
                        write_lane(input_ports[0][1], self.i.payload[:plan.input_bits],
                                   act_bits[0], layers[0].simd)
                        advance(layers[0].simd, pixel == plan.n_inputs - 1)
                        m.d.sync += pixel.eq(pixel + 1)

            def key_state(source, register, following):
                """``MIX_LATENCY + 1`` cycles for a key (the next words depend on it)."""
                m.d.comb += mix_source.eq(source)
                m.d.sync += key_wait.eq(key_wait + 1)
                with m.If(key_wait == MIX_LATENCY):
                    m.d.sync += [register.eq(mix_out), key_wait.eq(0)]
                    m.next = following

            def word_state(k, column, count, lanes, following):
                """Issue a row or column word per cycle; stored ``MIX_LATENCY`` cycles later."""
                m.d.comb += mix_source.eq(key ^ Cat(Const(column, 1), mix_index))
                m.d.sync += [a.eq(b) for a, b in zip(pending[0], (
                    1, column, k, mix_index, mix_group, mix_lane), strict=True)]
                with m.If(mix_index == count - 1):
                    m.d.sync += [mix_index.eq(0), mix_group.eq(0), mix_lane.eq(0)]
                    m.next = following
                with m.Else():
                    m.d.sync += mix_index.eq(mix_index + 1)
                    with m.If(mix_lane == lanes - 1):
                        m.d.sync += [mix_lane.eq(0), mix_group.eq(mix_group + 1)]
                    with m.Else():
                        m.d.sync += mix_lane.eq(mix_lane + 1)

            with m.State("MIX_KEY"):
                key_state(step ^ plan.seed_mix, key0, "MIX_KEY_0")
            for k, lp in enumerate(layers):
                with m.State(f"MIX_KEY_{k}"):
                    key_state(key0 ^ k, key, f"MIX_ROW_{k}")
                with m.State(f"MIX_ROW_{k}"):
                    word_state(k, 0, lp.n_out + 2, lp.pe, f"MIX_COL_{k}")
                with m.State(f"MIX_COL_{k}"):
                    word_state(k, 1, lp.n_in + 1, lp.simd,
                               f"MIX_KEY_{k + 1}" if not lp.last else "MIX_DRAIN")
            with m.State("MIX_DRAIN"):
                # The last words are stored by the first forward cycle, as the
                # forward reads them.
                m.d.sync += key_wait.eq(key_wait + 1)
                with m.If(key_wait == MIX_LATENCY - 2):
                    m.d.sync += key_wait.eq(0)
                    m.next = "FWD_TILE_0"

            for k, lp in enumerate(layers):
                with m.State(f"FWD_TILE_{k}"):
                    def forward(lp, port, k=k):
                        lanes = tile_lanes[k]
                        lanes["partial"] = []
                        for p in range(lp.pe):
                            partial = 0
                            for s in range(lp.simd):
                                partial = partial + sign_select(
                                    lanes["plus"][p][s], lanes["minus"][p][s], lanes["a"][s])
                            lanes["partial"].append(partial)
                        # Sums accumulate over a row group's consecutive tiles in
                        # registers; the memory takes them at the last column group.
                        _, sum_write = sum_ports[k]
                        totals = []
                        for p in range(lp.pe):
                            total = Signal(signed(lp.bits["sum"]), name=f"total{k}_p{p}")
                            start = Mux(pcg == 0, lanes["bias"][p], accs[k][p])
                            m.d.comb += total.eq(start + lanes["partial"][p])
                            m.d.sync += accs[k][p].eq(total)
                            totals.append(total)
                        m.d.comb += [sum_write.addr.eq(prg), sum_write.data.eq(Cat(*totals)),
                                     sum_write.en.eq(Mux(pcg == lp.column_groups - 1, -1, 0))]
                    tile_loop(k, f"FWD_POST_{k}", forward)
                with m.State(f"FWD_POST_{k}"):
                    sum_read, _ = sum_ports[k]
                    lane = serial_walk(lp.pe, lp.n_out, [sum_read], rows_walk)
                    total = lane(sum_read, lp.bits["sum"]).as_signed()
                    out, mask, delta = self._forward_unit(m, k, lp, total, index, label,
                                                          best, cls, o_valid, o_class)
                    if lp.last:
                        write_lane(delta_ports[k][1], delta, plan.delta_bits, lp.pe, rows_walk)
                    else:
                        write_lane(mask_ports[k][1], mask, 1, lp.pe, rows_walk)
                        write_lane(input_ports[k + 1][1], out, act_bits[k + 1],
                                   layers[k + 1].simd)
                        advance(layers[k + 1].simd, index == lp.n_out - 1)
                    following = f"FWD_TILE_{k + 1}" if not lp.last else \
                        (f"BWD_TILE_{n_layers - 1}" if n_layers > 1 else "UPD_PRE_0")
                    serial_loop(lp.n_out, following)
                    if lp.last:
                        with m.If(evaluating & (index == lp.n_out - 1)):
                            m.next = "EVAL_DONE"

            for k in range(n_layers - 1, 0, -1):
                lp = layers[k]
                with m.State(f"BWD_TILE_{k}"):
                    def backward(lp, port, k=k):
                        lanes = tile_lanes[k]
                        sums_s = []
                        for s in range(lp.simd):
                            partial = 0
                            for p in range(lp.pe):
                                partial = partial + sign_select(
                                    lanes["plus"][p][s], lanes["minus"][p][s], lanes["delta"][p])
                            sums_s.append(Mux(prg == 0, 0, lanes["grad"][s]) + partial)
                        _, grad_write = grad_ports[k]
                        width = lp.bits["backward"]
                        words = []
                        for s, value in enumerate(sums_s):
                            word = Signal(width, name=f"grad{k}_s{s}")
                            m.d.comb += word.eq(value)
                            words.append(word)
                        m.d.comb += [grad_write.addr.eq(pcg), grad_write.data.eq(Cat(*words)),
                                     grad_write.en.eq(-1)]
                    tile_loop(k, f"BWD_POST_{k}", backward)
                with m.State(f"BWD_POST_{k}"):
                    r = lp.backward_shift
                    grad_read, _ = grad_ports[k]
                    lane = serial_walk(lp.simd, lp.n_in, [random_ports[k][2], grad_read])
                    word = row_extra[k][1] ^ _expand(lane(random_ports[k][2], len(positions[k])),
                                                     positions[k])
                    rho = word[:r] if r else 0
                    back = clip(m, (lane(grad_read, lp.bits["backward"]).as_signed() + rho) >> r,
                                -plan.delta_limit, plan.delta_limit)
                    # Layer k's inputs are layer k - 1's outputs, PE-wide words there.
                    below = layers[k - 1]
                    mask_read, _ = mask_ports[k - 1]
                    mask_lane = serial_walk(below.pe, below.n_out, [mask_read], rows_walk)
                    write_lane(delta_ports[k - 1][1], Mux(mask_lane(mask_read, 1), back, 0),
                               plan.delta_bits, below.pe, rows_walk)
                    serial_loop(lp.n_in, f"BWD_TILE_{k - 1}" if k > 1 else "UPD_PRE_0")

            for k, lp in enumerate(layers):
                with m.State(f"UPD_PRE_{k}"):
                    act_read, _, _, round_write = input_ports[k]
                    lane = serial_walk(lp.simd, lp.n_in, [random_ports[k][2], act_read])
                    word = row_extra[k][0] ^ _expand(lane(random_ports[k][2], len(positions[k])),
                                                     positions[k])
                    negative, nonzero, exponent = round_input(
                        m, plan, lane(act_read, act_bits[k]).as_signed(), word)
                    exponent_field = Signal(exp_bits[k], name=f"rexp{k}")
                    m.d.comb += exponent_field.eq(exponent)
                    write_lane(round_write, Cat(negative, nonzero, exponent_field),
                               round_bits[k], lp.simd)
                    serial_loop(lp.n_in, f"UPD_TILE_{k}")
                with m.State(f"UPD_TILE_{k}"):
                    def update(lp, port, k=k):
                        sr, sw, br, bw = port
                        lanes = tile_lanes[k]
                        new_word = Signal(lp.shadow_word_bits, name=f"upd_word{k}")
                        for p in range(lp.pe):
                            for s in range(lp.simd):
                                n = p * lp.simd + s
                                m.d.comb += new_word[n * lp.shadow_bits:(n + 1) * lp.shadow_bits] \
                                    .eq(update_shadow(m, plan, lp, lanes["shadow"][p][s],
                                                      lanes["delta"][p], lanes["neg"][s],
                                                      lanes["nz"][s], lanes["exp"][s],
                                                      lanes["word"][p][s]))
                        new_bias = Signal(lp.bias_word_bits, name=f"upd_bias{k}")
                        for p in range(lp.pe):
                            m.d.comb += new_bias[p * lp.bias_bits:(p + 1) * lp.bias_bits].eq(
                                update_bias(m, plan, lp, lanes["bias"][p], lanes["delta"][p],
                                            lanes["u"][p] ^ col_extra[k]))
                        m.d.comb += [sw.addr.eq(paddr), sw.data.eq(new_word), sw.en.eq(1),
                                     bw.addr.eq(prg), bw.data.eq(new_bias),
                                     bw.en.eq(pcg == 0)]
                    following = f"UPD_PRE_{k + 1}" if not lp.last else "DONE"
                    tile_loop(k, following, update, single_port=lp.spram)

            with m.State("DONE"):
                with m.If(~o_valid | self.o.ready):
                    m.d.sync += step.eq(step + 1)
                    m.next = "IDLE"
            with m.State("EVAL_DONE"):
                # No backward, no update, the step stays.
                with m.If(~o_valid | self.o.ready):
                    m.next = "IDLE"
        return m

    def _forward_unit(self, m, k, lp, total, index, label, best, cls, o_valid, o_class):
        """One unit per cycle: shift, activation, saturation, mask, code; or error and class.

        Returns ``(out, mask, delta)`` for the caller to store: the next layer's
        input and the mask (hidden layers), or the output error (last layer).
        """
        plan = self.plan
        z = Signal(signed(lp.bits["z"]), name=f"z{k}")
        threshold = Signal(range(max(lp.threshold) + 1), name=f"threshold{k}")
        if len(set(lp.shift)) == 1 and len(set(lp.threshold)) == 1:
            m.d.comb += [z.eq(_arith_shift(total, lp.shift[0])), threshold.eq(lp.threshold[0])]
        else:
            with m.Switch(index):
                for j in range(lp.n_out):
                    with m.Case(j):
                        m.d.comb += [z.eq(_arith_shift(total, lp.shift[j])),
                                     threshold.eq(lp.threshold[j])]
        if lp.last:
            is_label = index == label
            margin = Signal(signed(lp.bits["z"] + 2), name="margin")
            m.d.comb += margin.eq(Mux(is_label, plan.target - z, plan.target + z))
            margin = Mux(margin < 0, 0, margin)
            error = Mux(is_label, -margin, margin)
            delta = clip(m, error, -plan.delta_limit, plan.delta_limit)
            wins = (index == 0) | (z > best)
            winner = Mux(wins, index, cls)
            with m.If(wins):
                m.d.sync += [best.eq(z), cls.eq(index)]
            with m.If(index == lp.n_out - 1):
                m.d.sync += [o_valid.eq(1), o_class.eq(winner)]
            return None, None, delta
        if lp.activation == "relu":
            y = Mux(z > 0, z, 0)
        elif lp.activation == "trec":
            y = Mux(z > threshold, z, 0)
        elif lp.activation == "tlin":
            y = Mux((z > threshold) | (z < -threshold), z, 0)
        else:
            y = z
        lo, hi = lp.saturation
        y_sat = Signal(signed(max(lp.bits["z"], lp.out_bits + 1)), name=f"y{k}")
        m.d.comb += y_sat.eq(clip(m, y, lo, hi))
        mask = (y_sat == z) & ((y_sat != 0) | (lp.activation == "linear"))
        out = y_sat
        if lp.pow2:
            negative, nonzero, exponent = pow2_code(m, y_sat, lp.e_max)
            power = Const(1, unsigned(lp.e_max + 1)) << exponent
            out = Mux(nonzero, Mux(negative, -power, power), 0)
        return out, mask, None

