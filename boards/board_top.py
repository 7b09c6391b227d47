"""The accelerator behind a UART: the gateware half of :mod:`boards.protocol`.

::

    rx ─► UART RX ─► request parser ─► image memory ─► Accelerator ─► result
                          │                                              │
                          └──── answer (INFO / result / error) ◄─────────┘─► UART TX ─► tx

An ``INFER`` request's image is stored whole (and its checksum checked)
before the accelerator sees a pixel, so a damaged request never reaches the
network and the cycle count is the accelerator's own: from the cycle its
first pixel is offered to the cycle its answer is valid. Bytes that arrive
while such an answer is being computed or sent are dropped; the host waits
for each answer. :class:`boards.board_model.BoardModel` is the same engine
in Python.

``INFER_BATCH`` (protocol version 3) streams instead::

    rx ─► parser ─► image ring ─► tokens (SyncFIFO) ─► Accelerator ─► answer bytes
                                                                     (SyncFIFOBuffered)
              └── reply descriptors (SyncFIFO) ──► TX ◄─────────────────────┘

Each image goes to the accelerator as soon as its last byte is in (not
waiting for the rest of the batch or the checksum), one image in the engine
at a time, so its cycle count is its latency as for ``INFER``; its answer
bytes queue in a FIFO. At the request's checksum the parser queues a reply
descriptor (status and length) and is ready for the next request at once,
while the transmitter sends the reply from the answer FIFO (full duplex): a
host with two batches in flight keeps the request direction of the link
busy, which is the one that sets the rate. A damaged or cut-short batch has
its answers dropped from the FIFO and is answered ``BAD_CHECKSUM`` or
``TIMEOUT`` alone. The images live in a ring of block RAM slots (two, or
``max_batch`` with ``bench`` so that ``BENCH`` replays the whole last batch);
a slot is written again only two images (or a batch) later, so the engine
must take an image in less time than the link takes to bring one (the
engines are 5--300x faster than a 3 Mbaud UART).

An accelerator of ``in_lanes`` L takes L pixels a beat: the ring's words are
then L pixels wide, each arriving pixel written into its lane (a write port
of pixel granularity), every image starting on a word, and feeding reads a
word a beat, ``ceil(n_inputs / L)`` beats an image (the unused lanes of an
image's last word are whatever the ring holds; the accelerator drops them).

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
from amaranth.lib import fifo, wiring
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
        With the ``i``/``o`` streams of the Accelerator contract (``in_lanes``
        pixels a beat, 1 if it has no such attribute); default
        ``hdl.accelerator.Accelerator(qnet, folding=folding)``.
    folding : optional
        Passed to the default accelerator.
    weight_store : None, str or list of str
        Passed to the default accelerator (``ram``/``spram`` weights are
        loaded over the UART).
    n_leds : int
        LED 0 blinks on each answer; the others show the last class in binary.
    bench : bool
        Build ``BENCH`` (protocol version 3; ``INFER_BATCH`` too).
    max_batch : int
        Images per ``INFER_BATCH``. With 1 and no ``bench``, the version 2
        engine (no ``INFER_BATCH``), the smallest; otherwise version 3.

    Members
    -------
    rx : In(1)
    tx : Out(1)
    leds : Out(n_leds)
    """

    #: The version of a top with INFER_BATCH (``bench`` or ``max_batch`` > 1);
    #: otherwise the top speaks version 2.
    PROTOCOL_VERSION = 3
    #: Bits of the BENCH cycle counter (2**40 cycles: 3 hours at 100 MHz).
    BENCH_CYCLE_BITS = 40

    def __init__(self, qnet, *, divisor, clock_hz, timeout_cycles, accelerator=None,
                 folding=None, weight_store=None, n_leds=2, bench=False, max_batch=1):
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
        self._lanes = operator.index(getattr(accelerator, "in_lanes", 1))
        if self._lanes < 1:
            raise ValueError(f"the accelerator's in_lanes must be at least 1, not {self._lanes}")
        self._beats = self.image_words(self._layout, self._lanes)
        self._accelerator = accelerator
        self._loadable = bool(getattr(accelerator, "loadable", False))
        # INFO reports each QNet layer's folding and weight store (a pool's or
        # flatten's as PE = SIMD = 1 in ROM); an accelerator without plans (a test
        # stand-in) reports the default, like the model.
        plans = getattr(accelerator, "plans", None)
        self._layers = None if plans is None else p.layer_infos(plans, len(qnet.layers))
        self._n_leds = operator.index(n_leds)
        self._bench = bool(bench)
        self.max_batch = operator.index(max_batch)
        if not 1 <= self.max_batch <= self._layout.frame_batch:
            raise ValueError(f"max_batch must be 1 to {self._layout.frame_batch} (what a "
                             f"frame holds), not {max_batch}")
        self._batch = self._bench or self.max_batch > 1
        self.protocol_version = self.PROTOCOL_VERSION if self._batch else 2
        self._slots = self.image_slots(self.max_batch, self._bench)
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "leds": Out(max(1, self._n_leds)),
        })

    @staticmethod
    def image_slots(max_batch, bench):
        """Images the top's ring holds: an image is written in the slot after the
        last complete one, so two let one be fed while the next comes in; BENCH
        replays the last batch, so with it the ring holds a whole batch."""
        batch = bench or max_batch > 1
        return max(2, max_batch) if bench else (2 if batch else 1)

    @staticmethod
    def image_words(layout, in_lanes=1):
        """Ring words (accelerator beats) per image: ``in_lanes`` pixels a word, the last
        word's lanes past the image unused."""
        return -(-layout.n_inputs // in_lanes)

    @classmethod
    def memories(cls, layout, max_batch=1, bench=False, in_lanes=1):
        """``(width, depth)`` of the top's block memories: the image ring (a word of
        ``in_lanes`` pixels per beat) and, with ``INFER_BATCH``, the answer FIFO (one
        word less: its output register)."""
        shapes = [(layout.in_bits * in_lanes,
                   cls.image_slots(max_batch, bench) * cls.image_words(layout, in_lanes))]
        if bench or max_batch > 1:
            shapes.append((8, cls.answer_fifo_depth(layout, max_batch) - 1))
        return shapes

    @staticmethod
    def answer_fifo_depth(layout, max_batch):
        """Two batches of answers with logits (one being sent, the next being made)
        and one answer to spare."""
        full = layout.result_bytes(True)
        return 2 * max_batch * full + full + 1

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
                              version=self.protocol_version, max_batch=self.max_batch)

    def __repr__(self):
        return (f"BoardTop(qnet=<{self._qnet.fingerprint()[:12]}>, divisor={self._divisor}, "
                f"clock_hz={self._clock_hz}, timeout_cycles={self._timeout}, "
                f"bench={self._bench}, max_batch={self.max_batch}, in_lanes={self._lanes})")

    def elaborate(self, platform):
        m = Module()
        layout = self._layout
        acc = self._accelerator
        n_inputs = layout.n_inputs
        lanes, beats = self._lanes, self._beats
        ring = self._slots * beats             # image slots of words, back to back
        m.submodules.uart_rx = rx = UARTReceiver(self._divisor)
        m.submodules.uart_tx = tx = UARTTransmitter(self._divisor)
        m.submodules.accelerator = acc
        m.submodules.image = image = Memory(shape=unsigned(layout.in_bits * lanes), depth=ring,
                                            init=[])
        # A word holds one beat's pixels; each pixel is written into its lane alone.
        write = image.write_port(granularity=layout.in_bits) if lanes > 1 else image.write_port()
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
        # Two machines: the request side (state) and the transmitter (txs), so
        # that a batch's reply goes out while the next request comes in. The
        # request side waits in ANSWER while any other answer is sent.
        state = _OneHot(m, ["SYNC", "CMD", "LEN_LO", "LEN_HI", "HEADER", "VALIDATE",
                            "PAYLOAD", *(["LOAD_ADDR", "LOAD_DATA"] if self._loadable else []),
                            "CHECK", "DECIDE", "DISCARD", "WAIT", "RUN",
                            *(["BENCH"] if self._bench else []), "ANSWER"])
        txs = _OneHot(m, ["IDLE", *(["DROP"] if self._batch else []), "PREPARE", "SEND",
                          "SELECT", "OFFER"])

        # -- line idle timer: an open request is dropped after timeout cycles of silence
        timed_out = line_idle_timer(m, got, self._timeout)

        # -- request registers
        cmd = Signal(8)
        length = Signal(16)
        total = Signal(8)              # running checksum
        remaining = Signal(16)         # payload bytes still to come
        high_half = Signal()           # the next byte is a pixel's high byte
        low_byte = Signal(8)
        rx_status = Signal(8)          # the error code of a request being discarded
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
        is_infer = Signal()            # INFER or INFER_LOGITS
        # Without INFER_BATCH / BENCH their flags are constants and their logic goes away.
        is_batch = Signal() if self._batch else Const(0, 1)
        is_bench = Signal() if self._bench else Const(0, 1)
        run_ok = Signal()              # sum_ok for an INFER that may run: DECIDE's branch
        bench_ok = Signal()            # sum_ok for a BENCH that may run
        # -- BENCH and INFER_BATCH registers
        have_image = Signal()          # the image slots hold the images of an answered request
        flags_pending = Signal()       # the next payload byte is INFER_BATCH's flags
        batch_logits = Signal()
        replays = Signal(32)
        replays_zero = Signal()
        commands = p.COMMANDS if self._loadable else (p.CMD_INFO, p.CMD_INFER,
                                                      p.CMD_INFER_LOGITS)
        if self._batch:
            commands += (p.CMD_INFER_BATCH,)
            m.d.sync += is_batch.eq(cmd == p.CMD_INFER_BATCH)
        if self._bench:
            commands += (p.CMD_BENCH,)
            m.d.sync += [bench_ok.eq((byte == total) & is_bench & have_image & loaded
                                     & ~replays_zero),
                         replays_zero.eq(replays == 0),
                         is_bench.eq(cmd == p.CMD_BENCH)]
        m.d.sync += [is_info.eq(cmd == p.CMD_INFO), is_logits.eq(cmd == p.CMD_INFER_LOGITS),
                     is_load.eq(cmd == p.CMD_LOAD), is_load_done.eq(cmd == p.CMD_LOAD_DONE),
                     known.eq(Cat(*(cmd == c for c in commands)).any()),
                     length_zero.eq(length == 0), last_byte.eq(remaining == 1),
                     sum_ok.eq(byte == total), run_ok.eq((byte == total) & is_infer & loaded),
                     is_infer.eq((cmd == p.CMD_INFER) | (cmd == p.CMD_INFER_LOGITS))]
        with m.Switch(cmd):
            with m.Case(p.CMD_INFER, p.CMD_INFER_LOGITS):
                m.d.sync += length_ok.eq(length == layout.image_bytes)
            if self._batch:
                with m.Case(p.CMD_INFER_BATCH):
                    m.d.sync += length_ok.eq(_any([
                        length == p.BATCH_HEADER_BYTES + k * layout.image_bytes
                        for k in range(1, self.max_batch + 1)]))
            if self._bench:
                with m.Case(p.CMD_BENCH):
                    m.d.sync += length_ok.eq(length == 4)
            if self._loadable:
                with m.Case(p.CMD_LOAD):
                    m.d.sync += length_ok.eq((length >= p.MIN_LOAD_BYTES)
                                             & (length <= p.MAX_LOAD_BYTES) & ~length[0])
            with m.Default():
                m.d.sync += length_ok.eq(length == 0)

        # -- the image ring: each image in the slot after the last complete one
        pixel = Signal(range(ring))            # the next pixel's address (its word's)
        pixel_index = Signal(range(n_inputs))  # its place in the image
        pixel_last = Signal()                  # pixel_index == n_inputs - 1
        ring_end = Signal()                    # pixel == ring - 1
        # The next pixel's lane of its word, one-hot: the memory's lane write enables.
        lane = Signal(lanes, init=1) if lanes > 1 else None
        next_base = Signal(range(ring))        # where the next image goes
        held_start = Signal(range(ring))       # the first image of the last image request
        held_count = Signal(range(self.max_batch + 1))
        image_done = Signal()                  # an image's last pixel is written
        m.d.sync += [pixel_last.eq(pixel_index == n_inputs - 1), ring_end.eq(pixel == ring - 1)]
        after_pixel = Mux(ring_end, 0, pixel + 1)

        def pixel_written():
            if lanes == 1:
                m.d.sync += pixel.eq(after_pixel)
            else:
                # An image's last word moves on with its last pixel, whatever lanes are left.
                word_done = lane[-1] | pixel_last
                m.d.sync += lane.eq(Mux(word_done, 1, lane << 1))
                with m.If(word_done):
                    m.d.sync += pixel.eq(after_pixel)
            m.d.sync += pixel_index.eq(Mux(pixel_last, 0, pixel_index + 1))
            with m.If(pixel_last):
                m.d.comb += image_done.eq(1)
                m.d.sync += next_base.eq(after_pixel)

        def write_pixel(value):
            if lanes == 1:
                m.d.comb += [write.addr.eq(pixel), write.data.eq(value), write.en.eq(1)]
            else:
                # The pixel in every lane; the lane's write enable picks where it lands.
                pixel_bits = Value.cast(value)[:layout.in_bits]
                m.d.comb += [write.addr.eq(pixel), write.data.eq(pixel_bits.replicate(lanes)),
                             write.en.eq(lane)]
            pixel_written()

        # -- feeding the accelerator from the image ring
        feed_addr = Signal(range(ring))
        feed_index = Signal(range(beats))      # the beat's place in its image
        feed_last = feed_index == beats - 1
        feeding = Signal()                     # pixels of the image still to offer
        advance = ~acc.i.valid | acc.i.ready
        m.d.comb += [read.addr.eq(feed_addr), read.en.eq(advance),
                     acc.i.payload.as_value().eq(read.data)]

        def feed():
            with m.If(advance):
                m.d.sync += acc.i.valid.eq(feeding)
                with m.If(feeding):
                    m.d.sync += [feed_addr.eq(feed_addr + 1), feed_index.eq(feed_index + 1),
                                 feeding.eq(~feed_last)]

        def feed_from(address):
            m.d.sync += [feed_addr.eq(address), feed_index.eq(0), feeding.eq(1),
                         have_result.eq(0), counting.eq(0), cycles.eq(0)]

        # -- result
        result = Signal(acc.o.payload.shape())
        have_result = Signal()
        counting = Signal()
        cycles = Signal(32)
        result_cycles = Signal(32)

        def take_result():
            """Count the cycles from the first pixel offered to the answer and keep it."""
            with m.If(acc.i.valid):
                m.d.sync += counting.eq(1)
            with m.If((counting | acc.i.valid) & ~have_result):
                m.d.sync += cycles.eq(cycles + 1)
            m.d.comb += acc.o.ready.eq(~have_result)
            with m.If(acc.o.valid & ~have_result):
                m.d.sync += [result.eq(acc.o.payload), have_result.eq(1),
                             result_cycles.eq(cycles)]

        # -- answer bytes
        # "empty": an error, or a LOAD / LOAD_DONE acknowledgement
        kind_names = ["empty", "info", "result", "result_logits",
                      *(["bench"] if self._bench else []), *(["batch"] if self._batch else [])]
        kinds = {name: number for number, name in enumerate(kind_names)}
        kind = Signal(range(len(kinds)))
        is_kind = Signal(len(kinds))   # kind, one-hot, for the answer multiplexer
        bench = self._bench_registers(m, replays)
        frames = self._answer_frames(status, result, result_cycles, loaded, bench)
        longest = max(len(frame) for frame in frames.values())
        batch = self._batch_parts(m, frames) if self._batch else None
        if self._batch:
            frames["batch"] = [Const(p.RESPONSE_SYNC, 8), status, batch.length[:8],
                               batch.length[8:]]
        tx_index = Signal(range(max(longest, batch.longest if batch else 0) + 1))
        tx_sum = Signal(8)
        tx_data = Signal(8)
        tx_first = Signal()
        tx_last = Signal()
        parts, tx_first_next, tx_last_next = self._answer_mux(m, is_kind, kinds, frames,
                                                              tx_index, tx_sum, longest)
        answered = Signal()
        load = self._load_port(m, loaded) if self._loadable else None

        # Answers start in several states under exclusive conditions. Each
        # place raises its own flag, registered (and held until the
        # transmitter takes it), and PREPARE sets kind and status from an
        # AND-OR of the registered flags: neither the wide enables of the
        # answer registers nor their values chain through the decisions of
        # every state.
        starts = []                    # (flag, kind number, status value)

        def answer(kind_name, status_value, flag=None):
            """Choose the answer of this kind (under the current conditions, or
            ``flag``); the caller goes to ANSWER, once per source state, so
            ANSWER's enable is an OR of a few terms."""
            if flag is None:
                flag = Signal(name=f"answer{len(starts)}")
                m.d.comb += flag.eq(1)
            starts.append((flag, kinds[kind_name], Value.cast(status_value)))

        def start_answer(src, kind_name, status_value):
            """Set up the answer of this kind and go from ``src`` to ANSWER."""
            answer(kind_name, status_value, flag=state.go(src, "ANSWER"))

        # The request states that time out, as one flip-flop kept beside the
        # one-hot states: a timeout is then one AND, not an OR over them. A
        # batch cut short is answered through the transmitter's queue.
        receiving = Signal()
        timeout = Signal()
        batch_open = Signal() if self._batch else Const(0, 1)   # a batch is coming in
        m.d.comb += timeout.eq(receiving & timed_out & ~got)
        timeout_alone = Signal()
        m.d.comb += timeout_alone.eq(timeout & ~batch_open)
        answer("empty", p.STATUS_TIMEOUT, flag=timeout_alone)
        state.enter("ANSWER", timeout_alone)
        if self._batch:
            batch_timeout = Signal()
            m.d.comb += batch_timeout.eq(timeout & batch_open)
            state.enter("SYNC", batch_timeout)
            with m.If(batch_timeout):
                m.d.sync += batch_open.eq(0)
                batch.queue_reply(p.STATUS_TIMEOUT)
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
                m.d.sync += [length[8:].eq(byte), total.eq(total + byte), high_half.eq(0)]
                receiving_leave.append(state.go("LEN_HI", "HEADER"))
            or_timeout("LEN_HI")
        with m.If(state.HEADER):
            # One cycle for length_ok / length_zero to see the whole length.
            state.go("HEADER", "VALIDATE")
        with m.If(state.VALIDATE):
            # A bad header is answered only once the line is quiet, so the
            # rest of the request cannot be mistaken for a new one.
            with m.If(~known):
                m.d.sync += rx_status.eq(p.STATUS_BAD_COMMAND)
                state.go("VALIDATE", "DISCARD")
            with m.Elif(~length_ok):
                m.d.sync += rx_status.eq(p.STATUS_BAD_LENGTH)
                state.go("VALIDATE", "DISCARD")
            with m.Elif(length_zero):
                receiving_enter.append(state.go("VALIDATE", "CHECK"))
            with m.Else():
                m.d.sync += [remaining.eq(length), flags_pending.eq(is_batch)]
                with m.If(is_infer | is_batch):
                    # From the first pixel on the slots hold no answered images.
                    m.d.sync += [have_image.eq(0), pixel.eq(next_base), pixel_index.eq(0),
                                 held_start.eq(next_base)]
                    if lanes > 1:
                        m.d.sync += lane.eq(1)
                if self._batch:
                    with m.If(is_batch):
                        m.d.sync += batch_open.eq(1)
                        batch.start(loaded)
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
                        write_pixel(byte)
                    else:
                        with m.If(~high_half):
                            m.d.sync += low_byte.eq(byte)
                        with m.Else():
                            write_pixel(Cat(low_byte, byte))
                with m.If(last_byte):
                    state.go("PAYLOAD", "CHECK")
            or_timeout("PAYLOAD")
        if self._batch:
            with m.If(image_done & is_batch):
                batch.image_in(next_base, batch_logits)
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
                m.d.sync += [have_image.eq(1), held_count.eq(1)]
                state.go("DECIDE", "WAIT")
            if self._bench:
                with m.Elif(bench_ok):
                    self._bench_start(m, bench, replays)
                    state.go("DECIDE", "WAIT")
            if self._batch:
                with m.Elif(is_batch):
                    # The reply goes out from the transmitter's queue; the next
                    # request may come in at once.
                    m.d.sync += batch_open.eq(0)
                    batch.queue_reply(Mux(~sum_ok, p.STATUS_BAD_CHECKSUM,
                                          Mux(loaded, p.CMD_INFER_BATCH, p.STATUS_NOT_LOADED)))
                    with m.If(sum_ok & loaded):
                        m.d.sync += [have_image.eq(1), held_count.eq(batch.images)]
                    state.go("DECIDE", "SYNC")
            with m.Else():
                state.go("DECIDE", "ANSWER")
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
                start_answer("DISCARD", "empty", rx_status)
        # INFER and BENCH use the accelerator alone: they wait for a batch's images.
        batch_busy = batch.busy if self._batch else Const(0, 1)
        with m.If(state.WAIT):
            with m.If(~batch_busy):
                feed_from(held_start)
                if self._bench:
                    m.d.sync += bench.image.eq(0)
                    with m.If(is_bench):
                        state.go("WAIT", "BENCH")
                    with m.Else():
                        state.go("WAIT", "RUN")
                else:
                    state.go("WAIT", "RUN")
        with m.If(state.RUN):
            feed()
            take_result()
            with m.If(have_result & ~feeding & ~acc.i.valid):
                state.go("RUN", "ANSWER")
                with m.If(is_logits):
                    answer("result_logits", p.CMD_INFER_LOGITS)
                with m.Else():
                    answer("result", p.CMD_INFER)
        if self._bench:
            with m.If(state.BENCH):
                with m.If(self._bench_state(m, bench, feed_addr, feed_index, feeding, counting,
                                            advance, held_start, held_count, ring)):
                    state.go("BENCH", "ANSWER")
                    answer("bench", p.CMD_BENCH)
        if self._batch:
            engine_free = ~state.RUN & ~state.BENCH if self._bench else ~state.RUN
            batch.engine(engine_free, feed_from, feed, take_result, have_result, feeding,
                         frames["result_logits"][4:])
        with m.If(state.ANSWER):
            with m.If(answered & (~batch.from_queue if self._batch else Const(1, 1))):
                state.go("ANSWER", "SYNC")
        with m.If(_any(receiving_enter)):
            m.d.sync += receiving.eq(1)
        with m.Elif(_any(receiving_leave)):
            m.d.sync += receiving.eq(0)

        # -- the transmitter
        registered = []                # (registered flag, kind number, status value)
        take_start = Signal()          # PREPARE takes the request side's answer
        for k, (flag, number, value) in enumerate(starts):
            flag_r = Signal(name=f"start{k}")
            # As a condition, so a flag that Icarus still holds X reads as 0.
            with m.If(flag):
                m.d.sync += flag_r.eq(1)
            with m.Elif(take_start):
                m.d.sync += flag_r.eq(0)
            registered.append((flag_r, number, value))
        with m.If(txs.IDLE):
            if self._batch:
                # The queued replies are older than an answer the request side waits for.
                with m.If(batch.queued):
                    batch.take_reply()
                    with m.If(batch.queued_ok):
                        txs.go("IDLE", "PREPARE")
                    with m.Else():
                        txs.go("IDLE", "DROP")
                with m.Elif(state.ANSWER):
                    m.d.sync += batch.from_queue.eq(0)
                    txs.go("IDLE", "PREPARE")
            else:
                with m.If(state.ANSWER):
                    txs.go("IDLE", "PREPARE")
        if self._batch:
            with m.If(txs.DROP):
                with m.If(batch.drop()):
                    txs.go("DROP", "PREPARE")
        with m.If(txs.PREPARE):
            m.d.sync += [tx_index.eq(0), tx_sum.eq(0)]
            own = [
                kind.eq(_and_or((flag, Const(number, kind.shape()))
                                for flag, number, _ in registered)),
                is_kind.eq(Cat(_any([flag for flag, number, _ in registered if number == k])
                               for k in range(len(kinds)))),
                status.eq(_and_or((flag, value) for flag, _, value in registered))]
            if self._batch:
                reply_kind = Mux(batch.reply_ok, kinds["batch"], kinds["empty"])
                with m.If(batch.from_queue):
                    m.d.sync += [kind.eq(reply_kind),
                                 is_kind.eq(Const(1, len(kinds)) << reply_kind),
                                 status.eq(batch.reply_status)]
                with m.Else():
                    m.d.comb += take_start.eq(1)
                    m.d.sync += own
            else:
                m.d.comb += take_start.eq(1)
                m.d.sync += own
            txs.go("PREPARE", "SEND")
        if self._batch:
            # A batch reply's body bytes come from the answer FIFO as the engine makes them.
            body = is_kind[kinds["batch"]] & tx_index[2:].any() & (tx_index != batch.end)
            tx_pop = Signal()
        with m.If(txs.SEND):
            # The answer multiplexer is split over two registered stages (see
            # _answer_mux), so neither it nor the checksum adder is one long path.
            if self._batch:
                with m.If(~body | batch.answers.r_rdy):
                    m.d.sync += [part.eq(value) for part, value in parts.stage1]
                    txs.go("SEND", "SELECT")
            else:
                m.d.sync += [part.eq(value) for part, value in parts.stage1]
                txs.go("SEND", "SELECT")
        with m.If(txs.SELECT):
            if self._batch:
                m.d.sync += [tx_data.eq(Mux(body, batch.answers.r_data, parts.stage2)),
                             tx_last.eq(Mux(is_kind[kinds["batch"]], tx_index == batch.end,
                                            tx_last_next)),
                             tx_pop.eq(body)]
            else:
                m.d.sync += [tx_data.eq(parts.stage2), tx_last.eq(tx_last_next)]
            m.d.sync += tx_first.eq(tx_first_next)
            txs.go("SELECT", "OFFER")
        with m.If(txs.OFFER):
            m.d.comb += [tx.i.valid.eq(1), tx.i.payload.eq(tx_data)]
            with m.If(tx.i.ready):
                if self._batch:
                    m.d.comb += batch.answers.r_en.eq(tx_pop)
                m.d.sync += tx_index.eq(tx_index + 1)
                with m.If(~tx_first):
                    m.d.sync += tx_sum.eq(tx_sum + tx_data)
                with m.If(tx_last):
                    m.d.comb += answered.eq(1)
                    txs.go("OFFER", "IDLE")
                with m.Else():
                    txs.go("OFFER", "SEND")
        state.done()
        txs.done()

        self._leds(m, answered, kind == kinds["empty"], result)
        return m

    def _batch_parts(self, m, frames):
        """The FIFOs and registers of INFER_BATCH, with the methods the states call.

        ``tokens`` (a SyncFIFO of slot address and logits flag) queues the
        images that are in; ``answers`` (a SyncFIFOBuffered of bytes, in block
        RAM) the answer bytes the engine made; ``replies`` (a SyncFIFO of
        status and length) the replies the transmitter owes.
        """
        layout = self._layout
        ring = self._slots * self._beats
        short, full = layout.result_bytes(False), layout.result_bytes(True)
        depth = self.answer_fifo_depth(layout, self.max_batch)
        b = SimpleNamespace(
            tokens=fifo.SyncFIFO(width=len(Signal(range(ring))) + 1, depth=self._slots),
            answers=fifo.SyncFIFOBuffered(width=8, depth=depth),
            replies=fifo.SyncFIFO(width=24, depth=2),
            images=Signal(range(self.max_batch + 1)),   # of the request coming in
            reply_length=Signal(16),                    # its answers' bytes so far
            feed=Signal(),                              # its images go to the engine
            length=Signal(16),                          # of the reply being sent
            end=Signal(17),                             # its checksum's index
            reply_status=Signal(8),
            reply_ok=Signal(),
            from_queue=Signal(),                        # the transmitter sends a queued reply
            longest=4 + self.max_batch * full,
            active=Signal(), serial=Signal(), logits=Signal(),
            position=Signal(range(full)), byte=Signal(8), byte_valid=Signal(),
            room=Signal())
        m.submodules.batch_tokens = b.tokens
        m.submodules.batch_answers = b.answers
        m.submodules.batch_replies = b.replies
        b.busy = b.tokens.r_rdy | b.active | b.serial | b.byte_valid
        b.queued = b.replies.r_rdy
        b.queued_ok = b.replies.r_data[:8] == p.CMD_INFER_BATCH

        def start(loaded):
            m.d.sync += [b.images.eq(0), b.reply_length.eq(0), b.feed.eq(loaded)]

        def image_in(address, logits):
            with m.If(b.feed):
                m.d.comb += [b.tokens.w_en.eq(1), b.tokens.w_data.eq(Cat(address, logits))]
                m.d.sync += [b.images.eq(b.images + 1),
                             b.reply_length.eq(b.reply_length + Mux(logits, full, short))]

        def queue_reply(status_value):
            m.d.comb += [b.replies.w_en.eq(1), b.replies.w_data.eq(Cat(
                Value.cast(status_value)[:8], b.reply_length))]

        def take_reply():
            data = b.replies.r_data
            m.d.comb += b.replies.r_en.eq(1)
            m.d.sync += [b.reply_status.eq(data[:8]), b.length.eq(data[8:]),
                         b.end.eq(data[8:] + 4), b.reply_ok.eq(b.queued_ok),
                         b.from_queue.eq(1)]

        def drop():
            """Drop a damaged batch's answers as they come; returns the flag that all are."""
            done = b.length == 0
            with m.If(~done & b.answers.r_rdy):
                m.d.comb += b.answers.r_en.eq(1)
                m.d.sync += b.length.eq(b.length - 1)
            return done

        # There is room for an answer when an image is taken (the flag lags a cycle).
        m.d.sync += b.room.eq(b.answers.level + full + 1 <= depth)

        def engine(free, feed_from, feed, take_result, have_result, feeding, answer_bytes):
            """One image at a time: feed it, wait for its answer, write the answer's
            bytes to the FIFO (a byte a cycle, registered after the multiplexer)."""
            acc = self._accelerator
            with m.If(free & b.tokens.r_rdy & ~b.active & ~b.serial & ~b.byte_valid
                      & b.room):
                m.d.comb += b.tokens.r_en.eq(1)
                feed_from(b.tokens.r_data[:-1])
                m.d.sync += [b.logits.eq(b.tokens.r_data[-1]), b.active.eq(1)]
            with m.If(b.active):
                feed()
                take_result()
                with m.If(have_result & ~feeding & ~acc.i.valid):
                    m.d.sync += [b.active.eq(0), b.serial.eq(1), b.position.eq(0)]
            m.d.sync += b.byte_valid.eq(0)
            with m.If(b.serial):
                m.d.sync += [b.byte.eq(_select(b.position, answer_bytes)), b.byte_valid.eq(1),
                             b.position.eq(b.position + 1)]
                with m.If(b.position == Mux(b.logits, full - 1, short - 1)):
                    m.d.sync += b.serial.eq(0)
            m.d.comb += [b.answers.w_en.eq(b.byte_valid), b.answers.w_data.eq(b.byte)]

        b.start, b.image_in, b.queue_reply = start, image_in, queue_reply
        b.take_reply, b.drop, b.engine = take_reply, drop, engine
        return b

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
            image=Signal(range(self.max_batch)),   # the held image being fed
            image_last=Signal(),           # image == held_count - 1
            in_flight=Signal(8),           # images started and not yet answered
            stopped=Signal(),              # the last answer came: the cycle count is final
            cycles=Signal(self.BENCH_CYCLE_BITS),
            checksum=Signal(32),
            position=Signal(range(n_bytes)),   # the answer byte being checksummed
            byte=Signal(8),                    # that byte, registered
            byte_valid=Signal(),
            n_bytes=n_bytes)
        # to_feed changes once per image of at least 2 beats: the flag is current.
        m.d.sync += bench.last_image.eq(bench.to_feed == 1)
        return bench

    @staticmethod
    def _bench_start(m, bench, replays):
        m.d.sync += [bench.to_feed.eq(replays), bench.in_flight.eq(0), bench.stopped.eq(0),
                     bench.position.eq(0), bench.byte_valid.eq(0)]

    def _bench_state(self, m, bench, feed_addr, feed_index, feeding, counting, advance,
                     held_start, held_count, ring):
        """BENCH: the held images fed in turn again and again at the accelerator's pace, every
        answer checksummed (``h = 31 h + byte``) a byte a cycle from the accelerator's
        output, which holds it until taken (the byte is registered before the adders:
        the byte multiplexer and the 32-bit sum in one cycle missed 30 MHz on the
        UP5K); returns the flag that it is done."""
        acc = self._accelerator
        beats = self._beats
        last_image = bench.to_feed == 1 if beats < 2 else bench.last_image
        # The held image changes once per image of at least 2 beats: the flag is current.
        m.d.sync += bench.image_last.eq(bench.image == held_count - 1)
        image_last = bench.image == held_count - 1 if beats < 2 else bench.image_last
        started = Signal()             # an image's last pixel is scheduled this cycle
        with m.If(advance):
            m.d.sync += acc.i.valid.eq(feeding)
            with m.If(feeding):
                with m.If(feed_index == beats - 1):
                    m.d.comb += started.eq(1)
                    m.d.sync += [feed_index.eq(0), bench.to_feed.eq(bench.to_feed - 1),
                                 feeding.eq(~last_image)]
                    # The held images are back to back in the ring from held_start.
                    with m.If(image_last):
                        m.d.sync += [feed_addr.eq(held_start), bench.image.eq(0)]
                    with m.Else():
                        m.d.sync += [feed_addr.eq(Mux(feed_addr == ring - 1, 0, feed_addr + 1)),
                                     bench.image.eq(bench.image + 1)]
                with m.Else():
                    m.d.sync += [feed_addr.eq(feed_addr + 1), feed_index.eq(feed_index + 1)]
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
