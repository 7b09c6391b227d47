"""The accelerator behind a UART: the gateware half of :mod:`boards.protocol`.

::

    rx ─► UART RX ─► request parser ─► image memory ─► Accelerator ─► result
                          │                                              │
                          └──── answer (INFO / result / error) ◄─────────┘─► UART TX ─► tx

A request's image is stored whole (and its checksum checked) before the
accelerator sees a pixel, so a damaged request never reaches the network
and the cycle count is the accelerator's own: from the cycle its first pixel
is offered to the cycle its answer is valid. Bytes that arrive while an
answer is being computed or sent are dropped; the host waits for each answer.
:class:`boards.board_model.BoardModel` is the same engine in Python.

With an accelerator whose weights are loadable (``accelerator.loadable``),
``LOAD`` slices go straight to its ``wload`` port as their second byte
arrives (registered, one write per slice, no buffer), and a loaded flag,
cleared by every accepted ``LOAD`` header and set by ``LOAD_DONE``, drives
``weights_ready`` and gates ``INFER``. Without loadable weights ``LOAD`` and
``LOAD_DONE`` are unknown commands and the flag reads 1.

Members
-------
BoardTop
    The serial engine and the accelerator; ports ``rx``, ``tx``, ``leds``.
"""

import operator
from types import SimpleNamespace

from amaranth import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from boards import protocol as p
from boards.uart import UARTReceiver, UARTTransmitter, line_idle_timer


def _extend(value, width):
    """``value`` widened to ``width`` bits by its own signedness."""
    value = Value.cast(value)
    extra = width - len(value)
    if extra <= 0:
        return value[:width]
    fill = value[-1] if value.shape().signed else Const(0, 1)
    return Cat(value, fill.replicate(extra))


def _and_or(pairs):
    """OR of each value gated by its 1-bit flag: a multiplexer for exclusive flags."""
    pairs = list(pairs)
    width = max(len(Value.cast(value)) for _, value in pairs)
    result = Const(0, width)
    for flag, value in pairs:
        result = result | (flag.replicate(width) & _extend(value, width))
    return result


def _select(index, values, default=None):
    """``values[index]`` (``default`` past the end) as a tree of ``Mux``.

    Written as expressions rather than a ``Switch`` in a comb process: in the
    generated Verilog a comb process whose inputs never change stays X under
    Icarus, where a continuous assignment does not.
    """
    values = [Value.cast(v) for v in values]
    default = values[-1] if default is None else Value.cast(default)
    width = max(len(v) for v in [*values, default])
    level = [_extend(v, width) for v in values]
    level += [_extend(default, width)] * ((1 << len(index)) - len(level))
    for bit in index:
        level = [Mux(bit, level[k + 1], level[k]) for k in range(0, len(level), 2)]
    return level[0]


def _le_bytes(value, n):
    """The ``n`` little-endian bytes of a (sign-extended) value."""
    return [value[8 * k:8 * k + 8] for k in range(n)]


class _OneHot:
    """One-hot state flip-flops (``Module.FSM`` encodes states in binary).

    Each state is a flip-flop attribute, set at reset for the first name; a
    state decode is then one flip-flop instead of a compare of the state
    register. ``go(src, dst)`` marks a transition under the current ``m.If``
    conditions, which must imply ``src`` (call it inside ``m.If(state.SRC)``);
    :meth:`done` then builds each state's next value as an AND-OR of its
    transitions, which are mutually exclusive, rather than the priority chain
    of separate ``m.If`` blocks that all assign it.
    """

    def __init__(self, m, names):
        self._m = m
        self._names = list(names)
        self._moves = []
        self._done = False
        for index, name in enumerate(self._names):
            setattr(self, name, Signal(init=index == 0, name=f"state_{name.lower()}"))

    def go(self, src, dst):
        """Leave ``src`` for ``dst`` on the next edge."""
        assert not self._done, "transition marked after done()"
        move = Signal(name=f"go_{src.lower()}_{dst.lower()}")
        self._m.d.comb += move.eq(1)
        self._moves.append((src, dst, move))
        return move

    def leave(self, src, condition=None):
        """Leave ``src`` (under the current conditions, or ``condition``) for a
        state entered through :meth:`enter`."""
        assert not self._done, "transition marked after done()"
        move = Signal(name=f"leave_{src.lower()}")
        if condition is None:
            self._m.d.comb += move.eq(1)
        else:
            self._m.d.comb += move.eq(condition)
        self._moves.append((src, None, move))
        return move

    def enter(self, dst, condition):
        """Enter ``dst`` when ``condition`` (its source states leave through :meth:`leave`)."""
        assert not self._done, "transition marked after done()"
        self._moves.append((None, dst, condition))

    def done(self):
        """Drive the state flip-flops from the transitions marked so far."""
        self._done = True
        for name in self._names:
            leave = [move for src, dst, move in self._moves if src == name]
            enter = [move for src, dst, move in self._moves if dst == name]
            bit = getattr(self, name)
            # The same as bit & ~leave | enter, written as conditions: Icarus
            # leaves a comb process X until one of its inputs changes, and an
            # X condition holds the flip-flop where an X operand would spread.
            with self._m.If(_any(enter)):
                self._m.d.sync += bit.eq(1)
            with self._m.Elif(_any(leave)):
                self._m.d.sync += bit.eq(0)


def _any(values):
    """OR of 1-bit values (0 for none)."""
    return Cat(*values).any() if values else Const(0, 1)


class BoardTop(wiring.Component):
    """Serial protocol engine around an accelerator.

    Parameters
    ----------
    qnet : QNet
        The network; its fingerprint and shape are reported by ``INFO``.
    divisor : int
        UART clock cycles per bit.
    clock_hz : int
        Clock frequency reported by ``INFO``.
    timeout_cycles : int
        Idle cycles after which an open request is dropped.
    accelerator : wiring.Component, optional
        With the ``i``/``o`` streams of the Accelerator contract; default
        ``hdl.accelerator.Accelerator(qnet, folding=folding)``.
    folding : optional
        Passed to the default accelerator.
    weight_store : None, str or list of str
        Passed to the default accelerator (``ram``/``spram`` weights are
        loaded over the UART).
    n_leds : int
        LED 0 blinks on each answer; the others show the last class in binary.
    bench : bool
        Build ``BENCH`` and ``INFER_BATCH`` (protocol version 3); False (the
        default) gives the version 2 engine, about 700 iCE40 LUTs smaller.

    Members
    -------
    rx : In(1)
    tx : Out(1)
    leds : Out(n_leds)
    """

    #: INFER_BATCH of one image and BENCH: the engine holds one image, and
    #: answers nothing while a request comes in, so a host sends one at a time.
    #: Without BENCH (``bench=False``) the top speaks version 2.
    PROTOCOL_VERSION = 3
    MAX_BATCH = 1
    #: Bits of the BENCH cycle counter (2**40 cycles: 3 hours at 100 MHz).
    BENCH_CYCLE_BITS = 40

    def __init__(self, qnet, *, divisor, clock_hz, timeout_cycles, accelerator=None,
                 folding=None, weight_store=None, n_leds=2, bench=False):
        self._qnet = qnet
        self._layout = p.Layout.of(qnet)
        self._layout.check()
        self._divisor = operator.index(divisor)
        self._clock_hz = int(clock_hz)
        self._timeout = operator.index(timeout_cycles)
        if self._timeout < 2:
            raise ValueError(f"timeout_cycles must be at least 2, not {timeout_cycles}")
        if accelerator is None:
            from hdl.accelerator import Accelerator
            accelerator = Accelerator(qnet, folding=folding, weight_store=weight_store)
        lanes = getattr(accelerator, "in_lanes", 1)
        if lanes != 1:
            raise ValueError(f"the board top feeds one pixel per beat; the accelerator takes "
                             f"{lanes} (build it with in_lanes=1)")
        self._accelerator = accelerator
        self._loadable = bool(getattr(accelerator, "loadable", False))
        # INFO reports each QNet layer's folding and weight store (a pool's or
        # flatten's as PE = SIMD = 1 in ROM); an accelerator without plans (a test
        # stand-in) reports the default, like the model.
        plans = getattr(accelerator, "plans", None)
        self._layers = None if plans is None else p.layer_infos(plans, len(qnet.layers))
        self._n_leds = operator.index(n_leds)
        self._bench = bool(bench)
        self.protocol_version = self.PROTOCOL_VERSION if self._bench else 2
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "leds": Out(max(1, self._n_leds)),
        })

    @property
    def accelerator(self):
        return self._accelerator

    @property
    def layout(self):
        return self._layout

    @property
    def loadable(self):
        """Whether the bitstream needs its weights loaded over the UART."""
        return self._loadable

    @property
    def info(self):
        """What ``INFO`` answers (with the loaded flag clear)."""
        return p.BoardInfo.of(self._qnet, self._clock_hz, self._layers, loaded=False,
                              version=self.protocol_version, max_batch=self.MAX_BATCH)

    def __repr__(self):
        return (f"BoardTop(qnet=<{self._qnet.fingerprint()[:12]}>, divisor={self._divisor}, "
                f"clock_hz={self._clock_hz}, timeout_cycles={self._timeout})")

    def elaborate(self, platform):
        m = Module()
        layout = self._layout
        acc = self._accelerator
        m.submodules.uart_rx = rx = UARTReceiver(self._divisor)
        m.submodules.uart_tx = tx = UARTTransmitter(self._divisor)
        m.submodules.accelerator = acc
        m.submodules.image = image = Memory(shape=unsigned(layout.in_bits),
                                            depth=layout.n_inputs, init=[])
        write = image.write_port()
        read = image.read_port()
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), rx.o.ready.eq(1)]

        got = rx.o.valid
        byte = rx.o.payload

        # Timing: the engine runs at the accelerator's clock, so its control
        # must stay within a few LUT levels. The states are one-hot, and every
        # decision that would otherwise chain a wide compare into a state
        # decode is taken from a flag registered the cycle before. Most of
        # those flags compare registers that only change when a byte arrives,
        # and bytes are at least ~40 cycles apart, so a flag registered every
        # cycle is current whenever it is used; where the byte itself is
        # compared (the checksum) or a register was written the cycle before
        # (the length), a wait state gives the flag its cycle.
        state = _OneHot(m, ["SYNC", "CMD", "LEN_LO", "LEN_HI", "HEADER", "VALIDATE",
                            "PAYLOAD", *(["LOAD_ADDR", "LOAD_DATA"] if self._loadable else []),
                            "CHECK", "DECIDE", "DISCARD", "RUN",
                            *(["BENCH"] if self._bench else []), "PREPARE", "SEND",
                            "SELECT", "OFFER"])

        # -- line idle timer: an open request is dropped after timeout cycles of silence
        timed_out = line_idle_timer(m, got, self._timeout)

        # -- request registers
        cmd = Signal(8)
        length = Signal(16)
        total = Signal(8)              # running checksum
        remaining = Signal(16)         # payload bytes still to come
        high_half = Signal()           # the next byte is a pixel's high byte
        pixel = Signal(range(layout.n_inputs + 1))
        low_byte = Signal(8)
        status = Signal(8)             # answer status: the command or an error code

        loaded = Signal() if self._loadable else Const(1, 1)
        # -- flags registered every cycle (see above for why they are current)
        is_info = Signal()
        is_logits = Signal()
        is_load = Signal()
        is_load_done = Signal()
        known = Signal()
        length_ok = Signal()
        length_zero = Signal()
        last_byte = Signal()           # remaining == 1
        sum_ok = Signal()              # the received byte equals the checksum
        is_infer = Signal()            # INFER, INFER_LOGITS or INFER_BATCH
        # Without BENCH the version 3 flags are constants and their logic goes away.
        is_batch = Signal() if self._bench else Const(0, 1)
        is_bench = Signal() if self._bench else Const(0, 1)
        run_ok = Signal()              # sum_ok for an INFER that may run: DECIDE's branch
        bench_ok = Signal()            # sum_ok for a BENCH that may run
        # -- BENCH and INFER_BATCH registers
        have_image = Signal()          # the image memory holds an image that was answered
        flags_pending = Signal()       # the next payload byte is INFER_BATCH's flags
        batch_logits = Signal()
        replays = Signal(32)
        replays_zero = Signal()
        commands = p.COMMANDS if self._loadable else (p.CMD_INFO, p.CMD_INFER,
                                                      p.CMD_INFER_LOGITS)
        if self._bench:
            commands += p.BATCH_COMMANDS
            m.d.sync += [bench_ok.eq((byte == total) & is_bench & have_image & loaded
                                     & ~replays_zero),
                         replays_zero.eq(replays == 0),
                         is_batch.eq(cmd == p.CMD_INFER_BATCH),
                         is_bench.eq(cmd == p.CMD_BENCH)]
        m.d.sync += [is_info.eq(cmd == p.CMD_INFO), is_logits.eq(cmd == p.CMD_INFER_LOGITS),
                     is_load.eq(cmd == p.CMD_LOAD), is_load_done.eq(cmd == p.CMD_LOAD_DONE),
                     known.eq(Cat(*(cmd == c for c in commands)).any()),
                     length_zero.eq(length == 0), last_byte.eq(remaining == 1),
                     sum_ok.eq(byte == total), run_ok.eq((byte == total) & is_infer & loaded),
                     is_infer.eq((cmd == p.CMD_INFER) | (cmd == p.CMD_INFER_LOGITS)
                                 | (is_batch & (cmd == p.CMD_INFER_BATCH)))]
        with m.Switch(cmd):
            with m.Case(p.CMD_INFER, p.CMD_INFER_LOGITS):
                m.d.sync += length_ok.eq(length == layout.image_bytes)
            with m.Case(p.CMD_INFER_BATCH):
                m.d.sync += length_ok.eq(length == p.BATCH_HEADER_BYTES + layout.image_bytes)
            with m.Case(p.CMD_BENCH):
                m.d.sync += length_ok.eq(length == 4)
            if self._loadable:
                with m.Case(p.CMD_LOAD):
                    m.d.sync += length_ok.eq((length >= p.MIN_LOAD_BYTES)
                                             & (length <= p.MAX_LOAD_BYTES) & ~length[0])
            with m.Default():
                m.d.sync += length_ok.eq(length == 0)

        # -- feeding the accelerator from the image memory
        feed_addr = Signal(range(layout.n_inputs + 1))
        feeding = Signal()             # feed_addr < n_inputs, kept beside the counter
        advance = ~acc.i.valid | acc.i.ready
        m.d.comb += [read.addr.eq(feed_addr), read.en.eq(advance),
                     acc.i.payload.as_value().eq(read.data)]

        # -- result
        result = Signal(acc.o.payload.shape())
        have_result = Signal()
        counting = Signal()
        cycles = Signal(32)
        result_cycles = Signal(32)

        # -- answer bytes
        # "empty": an error, or a LOAD / LOAD_DONE acknowledgement
        kinds = {"empty": 0, "info": 1, "result": 2, "result_logits": 3,
                 **({"bench": 4} if self._bench else {})}
        kind = Signal(range(len(kinds)))
        is_kind = Signal(len(kinds))   # kind, one-hot, for the answer multiplexer
        bench = self._bench_registers(m, replays)
        frames = self._answer_frames(status, result, result_cycles, loaded, bench)
        longest = max(len(frame) for frame in frames.values())
        tx_index = Signal(range(longest + 1))
        tx_sum = Signal(8)
        tx_data = Signal(8)
        tx_first = Signal()
        tx_last = Signal()
        parts, tx_first_next, tx_last_next = self._answer_mux(m, is_kind, kinds, frames,
                                                              tx_index, tx_sum, longest)
        answered = Signal()
        load = self._load_port(m, loaded) if self._loadable else None

        # Answers start in several states under exclusive conditions. Each
        # place raises its own flag, registered, and PREPARE sets kind and
        # status from an AND-OR of the registered flags: neither the wide
        # enables of the answer registers nor their values chain through the
        # decisions of every state.
        starts = []                    # (flag, kind number, status value)

        def answer(kind_name, status_value, flag=None):
            """Choose the answer of this kind (under the current conditions, or
            ``flag``); the caller goes to PREPARE, once per source state, so
            PREPARE's enable is an OR of a few terms."""
            if flag is None:
                flag = Signal(name=f"answer{len(starts)}")
                m.d.comb += flag.eq(1)
            starts.append((flag, kinds[kind_name], Value.cast(status_value)))

        def start_answer(src, kind_name, status_value):
            """Set up the answer of this kind and go from ``src`` to PREPARE."""
            answer(kind_name, status_value, flag=state.go(src, "PREPARE"))

        # The request states that time out, as one flip-flop kept beside the
        # one-hot states: a timeout is then one AND, not an OR over them.
        receiving = Signal()
        timeout = Signal()
        m.d.comb += timeout.eq(receiving & timed_out & ~got)
        answer("empty", p.STATUS_TIMEOUT, flag=timeout)
        state.enter("PREPARE", timeout)
        receiving_enter = []
        receiving_leave = [timeout]

        def or_timeout(src):
            with m.Elif(timed_out):
                state.leave(src)

        with m.If(state.SYNC):
            with m.If(got & (byte == p.REQUEST_SYNC)):
                receiving_enter.append(state.go("SYNC", "CMD"))
        with m.If(state.CMD):
            with m.If(got):
                m.d.sync += [cmd.eq(byte), total.eq(byte)]
                state.go("CMD", "LEN_LO")
            or_timeout("CMD")
        with m.If(state.LEN_LO):
            with m.If(got):
                m.d.sync += [length[:8].eq(byte), total.eq(total + byte)]
                state.go("LEN_LO", "LEN_HI")
            or_timeout("LEN_LO")
        with m.If(state.LEN_HI):
            with m.If(got):
                m.d.sync += [length[8:].eq(byte), total.eq(total + byte),
                             high_half.eq(0), pixel.eq(0)]
                receiving_leave.append(state.go("LEN_HI", "HEADER"))
            or_timeout("LEN_HI")
        with m.If(state.HEADER):
            # One cycle for length_ok / length_zero to see the whole length.
            state.go("HEADER", "VALIDATE")
        with m.If(state.VALIDATE):
            # A bad header is answered only once the line is quiet, so the
            # rest of the request cannot be mistaken for a new one.
            with m.If(~known):
                m.d.sync += status.eq(p.STATUS_BAD_COMMAND)
                state.go("VALIDATE", "DISCARD")
            with m.Elif(~length_ok):
                m.d.sync += status.eq(p.STATUS_BAD_LENGTH)
                state.go("VALIDATE", "DISCARD")
            with m.Elif(length_zero):
                receiving_enter.append(state.go("VALIDATE", "CHECK"))
            with m.Else():
                m.d.sync += [remaining.eq(length), flags_pending.eq(is_batch)]
                with m.If(is_infer):
                    # From the first pixel on the memory holds no answered image.
                    m.d.sync += have_image.eq(0)
                if self._loadable:
                    with m.If(is_load):
                        # From the first slice on the memory may change.
                        m.d.sync += [loaded.eq(0), load.addr_count.eq(0)]
                        receiving_enter.append(state.go("VALIDATE", "LOAD_ADDR"))
                    with m.Else():
                        receiving_enter.append(state.go("VALIDATE", "PAYLOAD"))
                else:
                    receiving_enter.append(state.go("VALIDATE", "PAYLOAD"))
        with m.If(state.PAYLOAD):
            with m.If(got):
                m.d.sync += [remaining.eq(remaining - 1), total.eq(total + byte)]
                with m.If(flags_pending):
                    m.d.sync += [batch_logits.eq(byte & p.BATCH_FLAG_LOGITS),
                                 flags_pending.eq(0)]
                with m.Elif(is_bench):
                    m.d.sync += replays.eq(Cat(replays[8:], byte))
                with m.Else():
                    m.d.sync += high_half.eq(~high_half)
                    if layout.pixel_bytes == 1:
                        m.d.comb += [write.addr.eq(pixel), write.data.eq(byte),
                                     write.en.eq(1)]
                        m.d.sync += pixel.eq(pixel + 1)
                    else:
                        with m.If(~high_half):
                            m.d.sync += low_byte.eq(byte)
                        with m.Else():
                            m.d.comb += [write.addr.eq(pixel),
                                         write.data.eq(Cat(low_byte, byte)), write.en.eq(1)]
                            m.d.sync += pixel.eq(pixel + 1)
                with m.If(last_byte):
                    state.go("PAYLOAD", "CHECK")
            or_timeout("PAYLOAD")
        if self._loadable:
            self._load_states(m, state, got, byte, last_byte, total, remaining, high_half,
                              low_byte, load, or_timeout)
        with m.If(state.CHECK):
            with m.If(got):
                # sum_ok compares this byte with the checksum on this edge.
                receiving_leave.append(state.go("CHECK", "DECIDE"))
            or_timeout("CHECK")
        with m.If(state.DECIDE):
            m.d.sync += [bench.cycles.eq(0), bench.checksum.eq(0)]
            with m.If(run_ok):
                m.d.sync += [feed_addr.eq(0), feeding.eq(1), have_result.eq(0),
                             counting.eq(0), cycles.eq(0), have_image.eq(1)]
                state.go("DECIDE", "RUN")
            if self._bench:
                with m.Elif(bench_ok):
                    m.d.sync += [feed_addr.eq(0), feeding.eq(1), counting.eq(0)]
                    self._bench_start(m, bench, replays)
                    state.go("DECIDE", "BENCH")
            with m.Else():
                state.go("DECIDE", "PREPARE")
                with m.If(~sum_ok):
                    answer("empty", p.STATUS_BAD_CHECKSUM)
                with m.Elif(is_info):
                    answer("info", p.CMD_INFO)
                if self._bench:
                    with m.Elif(is_bench & ~have_image):
                        answer("empty", p.STATUS_NO_IMAGES)
                    with m.Elif(is_bench & loaded):       # zero replays: zero counts
                        answer("bench", p.CMD_BENCH)
                if self._loadable:
                    with m.Elif(is_load):
                        answer("empty", Mux(load.bad, p.STATUS_BAD_ADDRESS, p.CMD_LOAD))
                    with m.Elif(is_load_done):
                        m.d.sync += loaded.eq(1)
                        answer("empty", p.CMD_LOAD_DONE)
                    with m.Else():     # INFER before the weights are loaded
                        answer("empty", p.STATUS_NOT_LOADED)
        with m.If(state.DISCARD):
            with m.If(timed_out):
                start_answer("DISCARD", "empty", status)
        with m.If(state.RUN):
            with m.If(advance):
                m.d.sync += acc.i.valid.eq(feeding)
                with m.If(feeding):
                    m.d.sync += [feed_addr.eq(feed_addr + 1),
                                 feeding.eq(feed_addr != layout.n_inputs - 1)]
            with m.If(acc.i.valid):
                m.d.sync += counting.eq(1)
            with m.If((counting | acc.i.valid) & ~have_result):
                m.d.sync += cycles.eq(cycles + 1)
            m.d.comb += acc.o.ready.eq(~have_result)
            with m.If(acc.o.valid & ~have_result):
                m.d.sync += [result.eq(acc.o.payload), have_result.eq(1),
                             result_cycles.eq(cycles)]
            with m.If(have_result & ~feeding & ~acc.i.valid):
                state.go("RUN", "PREPARE")
                with m.If(is_logits | (is_batch & batch_logits)):
                    answer("result_logits", Mux(is_batch, p.CMD_INFER_BATCH,
                                                p.CMD_INFER_LOGITS))
                with m.Else():
                    answer("result", Mux(is_batch, p.CMD_INFER_BATCH, p.CMD_INFER))
        if self._bench:
            with m.If(state.BENCH):
                with m.If(self._bench_state(m, bench, feed_addr, feeding, counting, advance)):
                    state.go("BENCH", "PREPARE")
                    answer("bench", p.CMD_BENCH)
        with m.If(state.SEND):
            # The answer multiplexer is split over two registered stages (see
            # _answer_mux), so neither it nor the checksum adder is one long path.
            m.d.sync += [part.eq(value) for part, value in parts.stage1]
            state.go("SEND", "SELECT")
        with m.If(state.SELECT):
            m.d.sync += [tx_data.eq(parts.stage2), tx_first.eq(tx_first_next),
                         tx_last.eq(tx_last_next)]
            state.go("SELECT", "OFFER")
        with m.If(state.OFFER):
            m.d.comb += [tx.i.valid.eq(1), tx.i.payload.eq(tx_data)]
            with m.If(tx.i.ready):
                m.d.sync += tx_index.eq(tx_index + 1)
                with m.If(~tx_first):
                    m.d.sync += tx_sum.eq(tx_sum + tx_data)
                with m.If(tx_last):
                    m.d.comb += answered.eq(1)
                    state.go("OFFER", "SYNC")
                with m.Else():
                    state.go("OFFER", "SEND")
        with m.If(_any(receiving_enter)):
            m.d.sync += receiving.eq(1)
        with m.Elif(_any(receiving_leave)):
            m.d.sync += receiving.eq(0)

        registered = []                # (registered flag, kind number, status value)
        for k, (flag, number, value) in enumerate(starts):
            flag_r = Signal(name=f"start{k}")
            # As a condition, so a flag that Icarus still holds X reads as 0.
            with m.If(flag):
                m.d.sync += flag_r.eq(1)
            with m.Else():
                m.d.sync += flag_r.eq(0)
            registered.append((flag_r, number, value))
        with m.If(state.PREPARE):
            m.d.sync += [
                tx_index.eq(0), tx_sum.eq(0),
                kind.eq(_and_or((flag, Const(number, kind.shape()))
                                for flag, number, _ in registered)),
                is_kind.eq(Cat(_any([flag for flag, number, _ in registered if number == k])
                               for k in range(len(kinds)))),
                status.eq(_and_or((flag, value) for flag, _, value in registered))]
            state.go("PREPARE", "SEND")
        state.done()

        self._leds(m, answered, kind == kinds["empty"], result)
        return m

    def _answer_mux(self, m, is_kind, kinds, frames, tx_index, tx_sum, longest):
        """The answer byte at ``tx_index`` as two registered multiplexer stages.

        Stage 1 registers, for every group of eight indices, the byte its low
        index bits select (an AND-OR over the one-hot answer kind ``is_kind``);
        stage 2 picks a group by the high bits. Indices at or past a frame's
        end give the checksum. Returns ``(parts, first, last)``:
        ``parts.stage1`` the (register, value) pairs, ``parts.stage2`` the
        selected byte, and the first / last byte flags of ``tx_index``.
        """
        group = 8
        n_groups = (longest + 1 + group - 1) // group
        registers = [Signal(8, name=f"tx_part{h}") for h in range(n_groups)]
        values = []
        low = tx_index[:3]
        for h in range(n_groups):
            by_kind = []
            for name, number in kinds.items():
                frame = frames[name]
                entries = [frame[group * h + k] if group * h + k < len(frame) else tx_sum
                           for k in range(group)]
                by_kind.append((is_kind[number], _select(low, entries)))
            values.append(_and_or(by_kind))
        selected = _select(tx_index[3:], registers, tx_sum)
        frame_len = _and_or((is_kind[number], Const(len(frames[name]), range(longest + 1)))
                            for name, number in kinds.items())
        parts = SimpleNamespace(stage1=list(zip(registers, values, strict=True)),
                                stage2=selected)
        return parts, tx_index == 0, tx_index == frame_len

    def _load_port(self, m, loaded):
        """Registers of the LOAD parser and the accelerator's ``wload`` / ``weights_ready``."""
        acc = self._accelerator
        width = acc.load_map.address_width
        load = SimpleNamespace(
            width=width,
            addr_count=Signal(2),          # address bytes received
            start=Signal(24),              # the first three address bytes
            pointer=Signal(width + 1),     # next slice's address; the top bit: past the end
            bad=Signal(),                  # a slice fell past the address space
            en=Signal(), addr=Signal(width), data=Signal(16))
        # The write is registered: the accelerator's address decode and slice
        # enables then start from flip-flops, not from the receiver's byte.
        m.d.sync += load.en.eq(0)
        m.d.comb += [acc.wload.en.eq(load.en), acc.wload.addr.eq(load.addr),
                     acc.wload.data.eq(load.data), acc.weights_ready.eq(loaded)]
        return load

    def _load_states(self, m, state, got, byte, last_byte, total, remaining, high_half,
                     low_byte, load, or_timeout):
        """LOAD_ADDR (four address bytes) and LOAD_DATA (slice byte pairs)."""
        width = load.width
        with m.If(state.LOAD_ADDR):
            with m.If(got):
                m.d.sync += [remaining.eq(remaining - 1), total.eq(total + byte),
                             load.start.eq(Cat(load.start[8:], byte)),
                             load.addr_count.eq(load.addr_count + 1)]
                with m.If(load.addr_count == 3):
                    address = Cat(load.start, byte)
                    beyond = address[width:].any() if width < 32 else Const(0, 1)
                    m.d.sync += [load.pointer.eq(address[:width]), load.bad.eq(beyond),
                                 high_half.eq(0)]
                    state.go("LOAD_ADDR", "LOAD_DATA")
            or_timeout("LOAD_ADDR")
        with m.If(state.LOAD_DATA):
            with m.If(got):
                m.d.sync += [remaining.eq(remaining - 1), total.eq(total + byte),
                             high_half.eq(~high_half)]
                with m.If(~high_half):
                    m.d.sync += low_byte.eq(byte)
                with m.Else():
                    bad = load.bad | load.pointer[width]
                    m.d.sync += [load.en.eq(~bad), load.addr.eq(load.pointer[:width]),
                                 load.data.eq(Cat(low_byte, byte)), load.bad.eq(bad),
                                 load.pointer.eq(load.pointer + 1)]
                with m.If(last_byte):
                    state.go("LOAD_DATA", "CHECK")
            or_timeout("LOAD_DATA")

    def _answer_bytes(self, result):
        """The bytes ``BENCH`` checksums of one result: class (u16), then the logits."""
        layout = self._layout
        out = _le_bytes(_extend(result.cls, 16), 2)
        for c in range(layout.n_classes):
            out += _le_bytes(_extend(result.logits[c], 8 * layout.logit_bytes),
                             layout.logit_bytes)
        return out

    def _bench_registers(self, m, replays):
        """The BENCH counters; a flag that compares one is registered every cycle."""
        n_bytes = len(self._answer_bytes(self._accelerator.o.payload))
        bench = SimpleNamespace(
            count=replays,
            to_feed=Signal(32),            # images still to start
            last_image=Signal(),           # to_feed == 1
            in_flight=Signal(8),           # images started and not yet answered
            stopped=Signal(),              # the last answer came: the cycle count is final
            cycles=Signal(self.BENCH_CYCLE_BITS),
            checksum=Signal(32),
            position=Signal(range(n_bytes)),   # the answer byte being checksummed
            byte=Signal(8),                    # that byte, registered
            byte_valid=Signal(),
            n_bytes=n_bytes)
        # to_feed changes once per image of at least 2 pixels: the flag is current.
        m.d.sync += bench.last_image.eq(bench.to_feed == 1)
        return bench

    @staticmethod
    def _bench_start(m, bench, replays):
        m.d.sync += [bench.to_feed.eq(replays), bench.in_flight.eq(0), bench.stopped.eq(0),
                     bench.position.eq(0), bench.byte_valid.eq(0)]

    def _bench_state(self, m, bench, feed_addr, feeding, counting, advance):
        """BENCH: the held image fed again and again at the accelerator's pace, every
        answer checksummed (``h = 31 h + byte``) a byte a cycle from the accelerator's
        output, which holds it until taken (the byte is registered before the adders:
        the byte multiplexer and the 32-bit sum in one cycle missed 30 MHz on the
        UP5K); returns the flag that it is done."""
        acc = self._accelerator
        n_inputs = self._layout.n_inputs
        last_image = bench.to_feed == 1 if n_inputs < 2 else bench.last_image
        started = Signal()             # an image's last pixel is scheduled this cycle
        with m.If(advance):
            m.d.sync += acc.i.valid.eq(feeding)
            with m.If(feeding):
                with m.If(feed_addr == n_inputs - 1):
                    m.d.comb += started.eq(1)
                    m.d.sync += [feed_addr.eq(0), bench.to_feed.eq(bench.to_feed - 1),
                                 feeding.eq(~last_image)]
                with m.Else():
                    m.d.sync += feed_addr.eq(feed_addr + 1)
        last_byte = bench.position == bench.n_bytes - 1
        taken = Signal()
        m.d.comb += [taken.eq(acc.o.valid & last_byte), acc.o.ready.eq(last_byte)]
        m.d.sync += bench.byte_valid.eq(acc.o.valid)
        with m.If(acc.o.valid):
            m.d.sync += [bench.byte.eq(_select(bench.position,
                                               self._answer_bytes(acc.o.payload))),
                         bench.position.eq(Mux(last_byte, 0, bench.position + 1))]
        with m.If(bench.byte_valid):
            h = bench.checksum
            m.d.sync += h.eq((h << 5) - h + bench.byte)
        with m.If(started & ~taken):
            m.d.sync += bench.in_flight.eq(bench.in_flight + 1)
        with m.Elif(taken & ~started):
            m.d.sync += bench.in_flight.eq(bench.in_flight - 1)
        with m.If(acc.i.valid):
            m.d.sync += counting.eq(1)
        # Cycles from the first pixel offered to the last answer valid, as INFER counts.
        last_answer = acc.o.valid & ~feeding & (bench.in_flight == 1) & (bench.position == 0)
        with m.If(last_answer):
            m.d.sync += bench.stopped.eq(1)
        with m.If((counting | acc.i.valid) & ~bench.stopped & ~last_answer):
            m.d.sync += bench.cycles.eq(bench.cycles + 1)
        done = Signal()
        m.d.comb += done.eq(~feeding & ~acc.i.valid & (bench.in_flight == 0)
                            & ~bench.byte_valid)
        return done

    def _answer_frames(self, status, result, result_cycles, loaded, bench):
        """Per answer kind, its bytes before the checksum (Values, LSB first)."""
        layout = self._layout
        info = [Const(b, 8) for b in self.info.encode()]
        if self._loadable:
            # bit 0 (FLAG_NEEDS_LOAD) always, bit 1 (FLAG_LOADED) the live flag
            info[p.INFO_FLAGS_OFFSET] = Cat(Const(1, 1), loaded, Const(0, 6))

        def header(n):
            return [Const(p.RESPONSE_SYNC, 8), status, Const(n & 0xFF, 8), Const(n >> 8, 8)]

        body = (_le_bytes(_extend(result.cls, 16), 2)
                + _le_bytes(result_cycles, 4))
        logit_bytes = []
        for c in range(layout.n_classes):
            logit_bytes += _le_bytes(_extend(result.logits[c], 8 * layout.logit_bytes),
                                     layout.logit_bytes)
        bench_body = (_le_bytes(bench.count, 4) + _le_bytes(_extend(bench.cycles, 64), 8)
                      + _le_bytes(bench.checksum, 4))
        assert len(bench_body) == p.BENCH_ANSWER_BYTES
        return {
            "empty": header(0),
            "info": header(len(info)) + info,
            **({"bench": header(len(bench_body)) + bench_body} if self._bench else {}),
            "result": header(len(body)) + body,
            "result_logits": header(len(body) + len(logit_bytes)) + body + logit_bytes,
        }

    def _leds(self, m, answered, was_error, result):
        # Activity: toggles on each answer (a long timed pulse would cost a wide
        # counter on the critical path for no information the toggle lacks).
        activity = Signal()
        with m.If(answered):
            m.d.sync += activity.eq(~activity)
        m.d.comb += self.leds[0].eq(activity)
        last_class = Signal(16)
        with m.If(answered & ~was_error):
            m.d.sync += last_class.eq(result.cls)
        if self._n_leds > 1:
            m.d.comb += self.leds[1:].eq(last_class)
