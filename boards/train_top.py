"""The hardware trainer behind a UART: the gateware half of :mod:`boards.train_protocol`.

::

    rx ─► UART RX ─► request parser ─► image memory + label ─► Trainer ─► class, cycles
                          │        └─► state port (LOAD_STATE / READ_STATE)     │
                          └──── answer (TRAIN_INFO / words / result / error) ◄─┘─► UART TX

A TRAIN request's image and label are stored whole and its checksum checked
before the trainer sees a pixel, so a damaged request never changes the
learned state; an EVAL request's image likewise (the trainer then runs the
forward only and changes nothing); a LOAD_STATE word is written only after
its checksum. Bytes that arrive while the trainer runs or an answer is sent
are dropped; the host waits for each answer. :class:`boards.train_board_model.TrainBoardModel`
is the same engine in Python (on the golden model).

Members
-------
TrainTop
    The serial engine and the trainer; ports ``rx``, ``tx``, ``leds``.
"""

import operator

from amaranth import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from boards import protocol as p
from boards import train_protocol as tp
from boards.uart import UARTReceiver, UARTTransmitter, line_idle_timer

__all__ = ["TrainTop"]


def _pick(index, values):
    """``values[index]`` (the last one past the end) as a chain of ``Mux``.

    Expressions rather than a ``Switch`` or ``Array`` in a comb process: in
    the generated Verilog a comb process whose inputs have not changed since
    time 0 stays X under Icarus, where a continuous assignment does not.
    """
    result = Value.cast(values[-1])
    for k in reversed(range(len(values) - 1)):
        result = Mux(index == k, values[k], result)
    return result


def _times_constant(value, constant, width):
    """``value * constant`` as a sum of shifted copies (no multiplier cell)."""
    total = Const(0, width)
    for bit in range(constant.bit_length()):
        if constant >> bit & 1:
            total = (total + (value << bit))[:width]
    return total


class TrainTop(wiring.Component):
    """Serial protocol engine around a :class:`hdl.trainer.trainer.Trainer`.

    Parameters
    ----------
    plan : hdl.trainer.plan.TrainerPlan
    divisor : int
        UART clock cycles per bit.
    clock_hz : int
        Clock frequency reported by ``TRAIN_INFO``.
    timeout_cycles : int
        Idle cycles after which an open request is dropped.
    trainer : wiring.Component, optional
        Default ``Trainer(plan)``.
    n_leds : int
        LED 0 toggles on each answer; the others show the last class in binary.
    """

    def __init__(self, plan, *, divisor, clock_hz, timeout_cycles, trainer=None, n_leds=2):
        from hdl.trainer.trainer import Trainer

        self.plan = plan
        self._divisor = operator.index(divisor)
        self._clock_hz = int(clock_hz)
        self._timeout = operator.index(timeout_cycles)
        if self._timeout < 2:
            raise ValueError(f"timeout_cycles must be at least 2, not {timeout_cycles}")
        if tp.train_request_bytes(plan) > p.MAX_PAYLOAD:
            raise p.ProtocolError(f"an image of {plan.n_inputs} pixels does not fit a frame")
        self.trainer = trainer if trainer is not None else Trainer(plan)
        self._n_leds = max(1, operator.index(n_leds))
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1),
                          "leds": Out(self._n_leds)})

    @property
    def info(self):
        """What ``TRAIN_INFO`` answers."""
        return tp.TrainInfo.of(self.plan, self._clock_hz)

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        trainer = self.trainer
        n_bytes = tp.word_bytes(plan)
        depths = tp.memory_depths(plan)
        step_sel = len(depths) - 1
        pixel_bytes = tp.pixel_bytes(plan)
        image_bytes = plan.n_inputs * pixel_bytes
        info_bytes = self.info.encode()

        m.submodules.uart_rx = rx = UARTReceiver(self._divisor)
        m.submodules.uart_tx = tx = UARTTransmitter(self._divisor)
        m.submodules.trainer = trainer
        m.submodules.image = image = Memory(shape=unsigned(plan.input_bits),
                                            depth=plan.n_inputs, init=[])
        write, read = image.write_port(), image.read_port()
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), rx.o.ready.eq(1)]
        got, byte = rx.o.valid, rx.o.payload

        # -- line idle timer: an open request is dropped after timeout cycles of silence
        timed_out = line_idle_timer(m, got, self._timeout)

        # -- request registers
        cmd = Signal(8)
        length = Signal(16)
        remaining = Signal(16)
        position = Signal(16)
        total = Signal(8)
        pixel = Signal(range(plan.n_inputs + 1))
        low_byte = Signal(8)
        label = Signal(16)
        sel = Signal(8)
        addr = Signal(16)
        count = Signal(16)
        word = Signal(8 * n_bytes)

        known = Signal()
        length_ok = Signal()
        m.d.comb += known.eq(Cat(*(cmd == c for c in tp.TRAIN_COMMANDS)).any())
        m.d.comb += length_ok.eq(Cat(*(
            (cmd == code) & (length == size)
            for code, size in ((tp.CMD_TRAIN_INFO, 0), (tp.CMD_LOAD_STATE, 3 + n_bytes),
                               (tp.CMD_READ_STATE, 5), (tp.CMD_TRAIN, image_bytes + 2),
                               (tp.CMD_EVAL, image_bytes)))).any())
        sel_ok = Signal()
        depth = Signal(17)
        m.d.comb += [sel_ok.eq(sel < len(depths)),
                     depth.eq(_pick(sel, [Const(d, 17) for d in depths]))]
        load_ok = sel_ok & (addr < depth)
        read_ok = (sel_ok & (count != 0) & (count <= tp.max_read_words(plan))
                   & (addr + count <= depth))
        label_ok = label < plan.n_classes

        # -- the trainer's state port follows the request registers
        m.d.comb += [trainer.state_sel.eq(sel), trainer.state_addr.eq(addr),
                     trainer.state_wdata.eq(word), trainer.step_wdata.eq(word[:32])]

        # -- feeding the trainer: the pixels from the image memory, then the label
        feed = Signal(range(plan.n_inputs + 1))
        feeding = Signal()
        offer_label = Signal()
        i_valid = Signal()
        evaluating = Signal()          # an EVAL: the trainer runs the forward only
        advance = ~i_valid | trainer.i.ready
        m.d.comb += [read.addr.eq(feed), read.en.eq(advance), trainer.i.valid.eq(i_valid),
                     trainer.i.payload.eq(Mux(offer_label, label, read.data)),
                     trainer.evaluate.eq(evaluating)]
        # One class per sample, taken at once: the trainer never waits on it.
        m.d.comb += trainer.o.ready.eq(1)
        have_class = Signal()
        cls = Signal(16)
        cycles = Signal(32)
        counting = Signal()

        # -- answer
        status = Signal(8)
        answer_len = Signal(16)
        body_left = Signal(16)
        chunk_left = Signal(range(n_bytes + 1))
        reading = Signal()             # the body is words of the state
        shift = Signal(8 * max(n_bytes, tp.TRAIN_RESULT_BYTES))
        # TRAIN_INFO's bytes from a small ROM, not through the shift register
        # (which would then be as wide as the whole answer).
        m.submodules.info = info_rom = Memory(shape=unsigned(8), depth=len(info_bytes),
                                              init=list(info_bytes))
        info_read = info_rom.read_port(domain="comb")
        info_index = Signal(range(len(info_bytes) + 1))
        sending_info = Signal()
        m.d.comb += info_read.addr.eq(info_index)
        body_byte = Mux(sending_info, info_read.data, shift[:8])
        header_index = Signal(2)
        tx_sum = Signal(8)
        answered = Signal()

        def answer(code, n=0, body=None, words=False, info=False):
            m.d.sync += [status.eq(code), answer_len.eq(n), body_left.eq(n),
                         header_index.eq(0), tx_sum.eq(0), reading.eq(words),
                         sending_info.eq(info), info_index.eq(0)]
            if body is not None:
                m.d.sync += shift.eq(body)
            m.next = "HEADER"

        def or_timeout():
            # A request cut short is answered once the line has been quiet.
            with m.Elif(timed_out):
                answer(p.STATUS_TIMEOUT)

        with m.FSM(name="engine"):
            with m.State("SYNC"):
                with m.If(got & (byte == p.REQUEST_SYNC)):
                    m.next = "CMD"
            with m.State("CMD"):
                with m.If(got):
                    m.d.sync += [cmd.eq(byte), total.eq(byte)]
                    m.next = "LEN_LO"
                or_timeout()
            with m.State("LEN_LO"):
                with m.If(got):
                    m.d.sync += [length[:8].eq(byte), total.eq(total + byte)]
                    m.next = "LEN_HI"
                or_timeout()
            with m.State("LEN_HI"):
                with m.If(got):
                    m.d.sync += [length[8:].eq(byte), total.eq(total + byte),
                                 position.eq(0), pixel.eq(0)]
                    m.next = "VALIDATE"
                or_timeout()
            with m.State("VALIDATE"):
                # A bad header is answered once the line is quiet, so the rest of
                # the request cannot be taken for a new one.
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
            with m.State("PAYLOAD"):
                with m.If(got):
                    m.d.sync += [remaining.eq(remaining - 1), position.eq(position + 1),
                                 total.eq(total + byte)]
                    self._payload_byte(m, cmd, position, byte, image_bytes, pixel_bytes,
                                       write, pixel, low_byte, label, sel, addr, count, word)
                    with m.If(remaining == 1):
                        m.next = "CHECK"
                or_timeout()
            with m.State("CHECK"):
                with m.If(got):
                    with m.If(byte == total):
                        m.next = "DECIDE"
                    with m.Else():
                        answer(p.STATUS_BAD_CHECKSUM)
                or_timeout()
            with m.State("DECIDE"):
                with m.Switch(cmd):
                    with m.Case(tp.CMD_TRAIN_INFO):
                        answer(tp.CMD_TRAIN_INFO, len(info_bytes), info=True)
                    with m.Case(tp.CMD_LOAD_STATE):
                        with m.If(load_ok):
                            with m.If(sel == step_sel):
                                m.d.comb += trainer.step_we.eq(1)
                            with m.Else():
                                m.d.comb += trainer.state_we.eq(1)
                            answer(tp.CMD_LOAD_STATE)
                        with m.Else():
                            answer(p.STATUS_BAD_ADDRESS)
                    with m.Case(tp.CMD_READ_STATE):
                        with m.If(read_ok):
                            answer(tp.CMD_READ_STATE, _times_constant(count, n_bytes, 16),
                                   words=True)
                        with m.Else():
                            answer(p.STATUS_BAD_ADDRESS)
                    with m.Case(tp.CMD_EVAL):
                        # The label beat still closes the sample; the trainer ignores it.
                        m.d.sync += [feed.eq(0), feeding.eq(1), offer_label.eq(0),
                                     have_class.eq(0), counting.eq(0), cycles.eq(0),
                                     evaluating.eq(1)]
                        m.next = "RUN"
                    with m.Default():      # TRAIN
                        with m.If(label_ok):
                            m.d.sync += [feed.eq(0), feeding.eq(1), offer_label.eq(0),
                                         have_class.eq(0), counting.eq(0), cycles.eq(0),
                                         evaluating.eq(0)]
                            m.next = "RUN"
                        with m.Else():
                            answer(tp.STATUS_BAD_LABEL)
            with m.State("DISCARD"):
                with m.If(timed_out):
                    answer(status)
            with m.State("RUN"):
                with m.If(advance):
                    m.d.sync += [i_valid.eq(feeding), offer_label.eq(feed == plan.n_inputs)]
                    with m.If(feeding):
                        m.d.sync += [feed.eq(feed + 1), feeding.eq(feed != plan.n_inputs)]
                with m.If(i_valid):
                    m.d.sync += counting.eq(1)
                with m.If(trainer.o.valid):
                    m.d.sync += [cls.eq(trainer.o.payload), have_class.eq(1)]
                finished = have_class & ~feeding & ~i_valid & trainer.idle
                with m.If((counting | i_valid) & ~finished):
                    m.d.sync += cycles.eq(cycles + 1)
                with m.If(finished):
                    answer(cmd, tp.TRAIN_RESULT_BYTES, Cat(cls, cycles))
            with m.State("HEADER"):
                header = _pick(header_index, [Const(p.RESPONSE_SYNC, 8), status,
                                              answer_len[:8], answer_len[8:]])
                m.d.comb += [tx.i.valid.eq(1), tx.i.payload.eq(header)]
                with m.If(tx.i.ready):
                    m.d.sync += header_index.eq(header_index + 1)
                    with m.If(header_index != 0):
                        m.d.sync += tx_sum.eq(tx_sum + header)
                    with m.If(header_index == 3):
                        with m.If(answer_len == 0):
                            m.next = "SUM"
                        with m.Elif(reading):
                            m.next = "FETCH"
                        with m.Else():
                            m.next = "BODY"
            with m.State("FETCH"):
                # The state port reads one cycle after its address.
                m.next = "LATCH"
            with m.State("LATCH"):
                m.d.sync += [shift.eq(Mux(sel == step_sel, trainer.step, trainer.state_rdata)),
                             chunk_left.eq(n_bytes)]
                m.next = "BODY"
            with m.State("BODY"):
                m.d.comb += [tx.i.valid.eq(1), tx.i.payload.eq(body_byte)]
                with m.If(tx.i.ready):
                    m.d.sync += [tx_sum.eq(tx_sum + body_byte), shift.eq(shift >> 8),
                                 info_index.eq(info_index + 1),
                                 body_left.eq(body_left - 1), chunk_left.eq(chunk_left - 1)]
                    with m.If(body_left == 1):
                        m.next = "SUM"
                    with m.Elif(reading & (chunk_left == 1)):
                        m.d.sync += addr.eq(addr + 1)
                        m.next = "FETCH"
            with m.State("SUM"):
                m.d.comb += [tx.i.valid.eq(1), tx.i.payload.eq(tx_sum)]
                with m.If(tx.i.ready):
                    m.d.comb += answered.eq(1)
                    m.next = "SYNC"

        activity = Signal()
        last_class = Signal(16)
        with m.If(answered):
            m.d.sync += activity.eq(~activity)
            with m.If(status == tp.CMD_TRAIN):
                m.d.sync += last_class.eq(cls)
        m.d.comb += self.leds[0].eq(activity)
        if self._n_leds > 1:
            m.d.comb += self.leds[1:].eq(last_class)
        return m

    @staticmethod
    def _payload_byte(m, cmd, position, byte, image_bytes, pixel_bytes, write, pixel,
                      low_byte, label, sel, addr, count, word):
        """Store one payload byte where its command and position say."""
        with m.Switch(cmd):
            with m.Case(tp.CMD_TRAIN, tp.CMD_EVAL):
                with m.If(position < image_bytes):
                    if pixel_bytes == 1:
                        m.d.comb += [write.addr.eq(pixel), write.data.eq(byte), write.en.eq(1)]
                        m.d.sync += pixel.eq(pixel + 1)
                    else:
                        with m.If(~position[0]):
                            m.d.sync += low_byte.eq(byte)
                        with m.Else():
                            m.d.comb += [write.addr.eq(pixel), write.data.eq(Cat(low_byte, byte)),
                                         write.en.eq(1)]
                            m.d.sync += pixel.eq(pixel + 1)
                with m.Elif(position == image_bytes):
                    m.d.sync += label[:8].eq(byte)
                with m.Else():
                    m.d.sync += label[8:].eq(byte)
            with m.Case(tp.CMD_LOAD_STATE, tp.CMD_READ_STATE):
                with m.Switch(position):
                    with m.Case(0):
                        m.d.sync += sel.eq(byte)
                    with m.Case(1):
                        m.d.sync += addr[:8].eq(byte)
                    with m.Case(2):
                        m.d.sync += addr[8:].eq(byte)
                    with m.Case(3):
                        m.d.sync += [count[:8].eq(byte), word.eq(Cat(word[8:], byte))]
                    with m.Case(4):
                        m.d.sync += [count[8:].eq(byte), word.eq(Cat(word[8:], byte))]
                    with m.Default():
                        m.d.sync += word.eq(Cat(word[8:], byte))
