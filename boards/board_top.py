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
from boards.uart import UARTReceiver, UARTTransmitter


def _extend(value, width):
    """``value`` widened to ``width`` bits by its own signedness."""
    value = Value.cast(value)
    extra = width - len(value)
    if extra <= 0:
        return value[:width]
    fill = value[-1] if value.shape().signed else Const(0, 1)
    return Cat(value, fill.replicate(extra))


def _le_bytes(value, n):
    """The ``n`` little-endian bytes of a (sign-extended) value."""
    return [value[8 * k:8 * k + 8] for k in range(n)]


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

    Members
    -------
    rx : In(1)
    tx : Out(1)
    leds : Out(n_leds)
    """

    def __init__(self, qnet, *, divisor, clock_hz, timeout_cycles, accelerator=None,
                 folding=None, weight_store=None, n_leds=2):
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
        # INFO reports each layer's folding and weight store; an accelerator
        # without plans (a test stand-in) reports the default, like the model.
        plans = getattr(accelerator, "plans", None)
        self._layers = None if plans is None else p.layer_infos(plans)
        self._n_leds = operator.index(n_leds)
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
        return p.BoardInfo.of(self._qnet, self._clock_hz, self._layers, loaded=False)

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

        # -- line idle timer: an open request is dropped after timeout cycles of silence
        idle = Signal(range(self._timeout + 1))
        timed_out = Signal()
        with m.If(got):
            m.d.sync += idle.eq(0)
        with m.Elif(~timed_out):
            m.d.sync += idle.eq(idle + 1)
        m.d.comb += timed_out.eq(idle == self._timeout)

        # -- request registers
        cmd = Signal(8)
        length = Signal(16)
        total = Signal(8)              # running checksum
        remaining = Signal(16)         # payload bytes still to come
        high_half = Signal()           # the next byte is a pixel's high byte
        pixel = Signal(range(layout.n_inputs + 1))
        low_byte = Signal(8)
        status = Signal(8)             # answer status: the command or an error code

        # -- feeding the accelerator from the image memory
        feed_addr = Signal(range(layout.n_inputs + 1))
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
        kinds = {"empty": 0, "info": 1, "result": 2, "result_logits": 3}
        kind = Signal(range(len(kinds)))
        loaded = Signal() if self._loadable else Const(1, 1)
        frames = self._answer_frames(status, result, result_cycles, loaded)
        longest = max(len(frame) for frame in frames.values())
        tx_index = Signal(range(longest + 1))
        frame_len = Signal(range(longest + 1))
        tx_sum = Signal(8)
        tx_byte = Signal(8)
        tx_data = Signal(8)
        tx_first = Signal()
        tx_last = Signal()
        with m.Switch(kind):
            for name, number in kinds.items():
                with m.Case(number):
                    m.d.comb += frame_len.eq(len(frames[name]))
                    with m.Switch(tx_index):
                        for index, value in enumerate(frames[name]):
                            with m.Case(index):
                                m.d.comb += tx_byte.eq(value)
                        with m.Default():
                            m.d.comb += tx_byte.eq(tx_sum)

        length_ok = Signal()
        with m.Switch(cmd):
            with m.Case(p.CMD_INFER, p.CMD_INFER_LOGITS):
                m.d.comb += length_ok.eq(length == layout.image_bytes)
            if self._loadable:
                with m.Case(p.CMD_LOAD):
                    m.d.comb += length_ok.eq((length >= p.MIN_LOAD_BYTES)
                                             & (length <= p.MAX_LOAD_BYTES) & ~length[0])
            with m.Default():
                m.d.comb += length_ok.eq(length == 0)
        commands = p.COMMANDS if self._loadable else (p.CMD_INFO, p.CMD_INFER,
                                                      p.CMD_INFER_LOGITS)
        known = Signal()
        m.d.comb += known.eq(Cat(*(cmd == c for c in commands)).any())
        answered = Signal()
        load = self._load_port(m, loaded) if self._loadable else None

        def start_answer(kind_name, status_value):
            """Set up the answer of this kind and go to SEND."""
            m.d.sync += [kind.eq(kinds[kind_name]), status.eq(status_value),
                         tx_index.eq(0), tx_sum.eq(0)]
            m.next = "SEND"

        with m.FSM():
            with m.State("SYNC"):
                with m.If(got & (byte == p.REQUEST_SYNC)):
                    m.next = "CMD"
            with m.State("CMD"):
                with m.If(got):
                    m.d.sync += [cmd.eq(byte), total.eq(byte)]
                    m.next = "LEN_LO"
                with m.Elif(timed_out):
                    start_answer("empty", p.STATUS_TIMEOUT)
            with m.State("LEN_LO"):
                with m.If(got):
                    m.d.sync += [length[:8].eq(byte), total.eq(total + byte)]
                    m.next = "LEN_HI"
                with m.Elif(timed_out):
                    start_answer("empty", p.STATUS_TIMEOUT)
            with m.State("LEN_HI"):
                with m.If(got):
                    m.d.sync += [length[8:].eq(byte), total.eq(total + byte),
                                 high_half.eq(0), pixel.eq(0)]
                    m.next = "VALIDATE"
                with m.Elif(timed_out):
                    start_answer("empty", p.STATUS_TIMEOUT)
            with m.State("VALIDATE"):
                # A bad header is answered only once the line is quiet, so the
                # rest of the request cannot be mistaken for a new one.
                with m.If(~known):
                    m.d.sync += status.eq(p.STATUS_BAD_COMMAND)
                    m.next = "DISCARD"
                with m.Elif(~length_ok):
                    m.d.sync += status.eq(p.STATUS_BAD_LENGTH)
                    m.next = "DISCARD"
                with m.Elif(length == 0):
                    m.next = "CHECK"
                with m.Else():
                    m.d.sync += remaining.eq(length)
                    m.next = "PAYLOAD"
                    if self._loadable:
                        with m.If(cmd == p.CMD_LOAD):
                            # From the first slice on the memory may change.
                            m.d.sync += [loaded.eq(0), load.addr_count.eq(0)]
                            m.next = "LOAD_ADDR"
            with m.State("PAYLOAD"):
                with m.If(got):
                    m.d.sync += [remaining.eq(remaining - 1), total.eq(total + byte),
                                 high_half.eq(~high_half)]
                    if layout.pixel_bytes == 1:
                        m.d.comb += [write.addr.eq(pixel), write.data.eq(byte), write.en.eq(1)]
                        m.d.sync += pixel.eq(pixel + 1)
                    else:
                        with m.If(~high_half):
                            m.d.sync += low_byte.eq(byte)
                        with m.Else():
                            m.d.comb += [write.addr.eq(pixel),
                                         write.data.eq(Cat(low_byte, byte)), write.en.eq(1)]
                            m.d.sync += pixel.eq(pixel + 1)
                    with m.If(remaining == 1):
                        m.next = "CHECK"
                with m.Elif(timed_out):
                    start_answer("empty", p.STATUS_TIMEOUT)
            if self._loadable:
                self._load_states(m, got, byte, timed_out, total, remaining, high_half,
                                  low_byte, load, start_answer)
            with m.State("CHECK"):
                with m.If(got):
                    with m.If(byte != total):
                        start_answer("empty", p.STATUS_BAD_CHECKSUM)
                    with m.Elif(cmd == p.CMD_INFO):
                        start_answer("info", p.CMD_INFO)
                    if self._loadable:
                        with m.Elif(cmd == p.CMD_LOAD):
                            start_answer("empty", Mux(load.bad, p.STATUS_BAD_ADDRESS,
                                                      p.CMD_LOAD))
                        with m.Elif(cmd == p.CMD_LOAD_DONE):
                            m.d.sync += loaded.eq(1)
                            start_answer("empty", p.CMD_LOAD_DONE)
                        with m.Elif(~loaded):
                            start_answer("empty", p.STATUS_NOT_LOADED)
                    with m.Else():
                        m.d.sync += [feed_addr.eq(0), have_result.eq(0), counting.eq(0),
                                     cycles.eq(0)]
                        m.next = "RUN"
                with m.Elif(timed_out):
                    start_answer("empty", p.STATUS_TIMEOUT)
            with m.State("DISCARD"):
                with m.If(timed_out):
                    start_answer("empty", status)
            with m.State("RUN"):
                with m.If(advance):
                    m.d.sync += acc.i.valid.eq(feed_addr < layout.n_inputs)
                    with m.If(feed_addr < layout.n_inputs):
                        m.d.sync += feed_addr.eq(feed_addr + 1)
                with m.If(acc.i.valid):
                    m.d.sync += counting.eq(1)
                with m.If((counting | acc.i.valid) & ~have_result):
                    m.d.sync += cycles.eq(cycles + 1)
                m.d.comb += acc.o.ready.eq(~have_result)
                with m.If(acc.o.valid & ~have_result):
                    m.d.sync += [result.eq(acc.o.payload), have_result.eq(1),
                                 result_cycles.eq(cycles)]
                with m.If(have_result & (feed_addr == layout.n_inputs) & ~acc.i.valid):
                    with m.If(cmd == p.CMD_INFER_LOGITS):
                        start_answer("result_logits", p.CMD_INFER_LOGITS)
                    with m.Else():
                        start_answer("result", p.CMD_INFER)
            with m.State("SEND"):
                # The next byte and its flags are registered first, so the answer
                # multiplexer and the checksum adder are not one combinational path.
                m.d.sync += [tx_data.eq(tx_byte), tx_first.eq(tx_index == 0),
                             tx_last.eq(tx_index == frame_len)]
                m.next = "OFFER"
            with m.State("OFFER"):
                m.d.comb += [tx.i.valid.eq(1), tx.i.payload.eq(tx_data)]
                with m.If(tx.i.ready):
                    m.d.sync += tx_index.eq(tx_index + 1)
                    with m.If(~tx_first):
                        m.d.sync += tx_sum.eq(tx_sum + tx_data)
                    with m.If(tx_last):
                        m.d.comb += answered.eq(1)
                        m.next = "SYNC"
                    with m.Else():
                        m.next = "SEND"

        self._leds(m, answered, kind == kinds["empty"], result)
        return m

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

    def _load_states(self, m, got, byte, timed_out, total, remaining, high_half, low_byte,
                     load, start_answer):
        """LOAD_ADDR (four address bytes) and LOAD_DATA (slice byte pairs)."""
        width = load.width
        with m.State("LOAD_ADDR"):
            with m.If(got):
                m.d.sync += [remaining.eq(remaining - 1), total.eq(total + byte),
                             load.start.eq(Cat(load.start[8:], byte)),
                             load.addr_count.eq(load.addr_count + 1)]
                with m.If(load.addr_count == 3):
                    address = Cat(load.start, byte)
                    beyond = address[width:].any() if width < 32 else Const(0, 1)
                    m.d.sync += [load.pointer.eq(address[:width]), load.bad.eq(beyond),
                                 high_half.eq(0)]
                    m.next = "LOAD_DATA"
            with m.Elif(timed_out):
                start_answer("empty", p.STATUS_TIMEOUT)
        with m.State("LOAD_DATA"):
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
                with m.If(remaining == 1):
                    m.next = "CHECK"
            with m.Elif(timed_out):
                start_answer("empty", p.STATUS_TIMEOUT)

    def _answer_frames(self, status, result, result_cycles, loaded):
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
        return {
            "empty": header(0),
            "info": header(len(info)) + info,
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
