"""The board top's protocol engine in Python: what the gateware answers to bytes.

:class:`BoardModel` is the reference for the board top's framing (see
:mod:`boards.protocol`): the same states, the same error answers, with
:meth:`QNet.forward` in place of the accelerator. The host driver is tested
against it through :class:`FakeSerial`, and the gateware's answers are
compared with it under cocotb.

Members
-------
BoardModel
    Bytes in, answer bytes out.
FakeSerial
    The subset of ``serial.Serial`` the host driver uses, backed by a model.
"""


from boards import protocol as p


class BoardModel:
    """Protocol engine of the board top, with the QNet as the accelerator.

    Parameters
    ----------
    qnet : QNet
        The network "built into the bitstream".
    clock_hz : int
        Reported by ``INFO``.
    cycles : int
        Cycle count reported with each answer.
    """

    def __init__(self, qnet, clock_hz=12_000_000, cycles=0):
        self.qnet = qnet
        self.layout = p.Layout.of(qnet)
        self.info = p.BoardInfo.of(qnet, clock_hz)
        self.cycles = int(cycles)
        self._reset()

    def _reset(self):
        self._state = "sync"
        self._header = bytearray()
        self._payload = bytearray()
        self._error = None

    def feed(self, data):
        """Bytes from the host; returns the answer bytes they complete."""
        out = bytearray()
        for byte in bytes(data):
            out += self._step(byte)
        return bytes(out)

    def idle(self):
        """The line went idle for the board's timeout: answer a frame left open."""
        if self._state == "sync":
            return b""
        status = self._error if self._state == "discard" else p.STATUS_TIMEOUT
        self._reset()
        return p.encode_frame(p.RESPONSE_SYNC, status)

    def _step(self, byte):
        if self._state == "sync":
            if byte == p.REQUEST_SYNC:
                self._state = "header"
            return b""
        if self._state == "discard":
            return b""
        if self._state == "header":
            self._header.append(byte)
            if len(self._header) < 3:
                return b""
            cmd = self._header[0]
            length = self._header[1] | self._header[2] << 8
            if cmd not in p.COMMANDS:
                self._state, self._error = "discard", p.STATUS_BAD_COMMAND
            elif length != self._expected_length(cmd):
                self._state, self._error = "discard", p.STATUS_BAD_LENGTH
            else:
                self._state = "payload" if length else "check"
            return b""
        if self._state == "payload":
            self._payload.append(byte)
            if len(self._payload) == self.layout.image_bytes:
                self._state = "check"
            return b""
        # check
        expected = p.checksum(self._header + self._payload)
        cmd, payload = self._header[0], bytes(self._payload)
        self._reset()
        if byte != expected:
            return p.encode_frame(p.RESPONSE_SYNC, p.STATUS_BAD_CHECKSUM)
        return self._execute(cmd, payload)

    def _expected_length(self, cmd):
        return 0 if cmd == p.CMD_INFO else self.layout.image_bytes

    def _execute(self, cmd, payload):
        if cmd == p.CMD_INFO:
            return p.encode_frame(p.RESPONSE_SYNC, cmd, self.info.encode())
        image = self.layout.decode_image(payload)
        # The image memory is in_bits wide: higher bits of a pixel are dropped.
        image = image & ((1 << self.layout.in_bits) - 1)
        logits, classes = self.qnet.forward(image[None, :])
        with_logits = cmd == p.CMD_INFER_LOGITS
        result = self.layout.encode_result(classes[0], self.cycles,
                                           logits[0] if with_logits else None)
        return p.encode_frame(p.RESPONSE_SYNC, cmd, result)


class FakeSerial:
    """A serial port whose far end is a :class:`BoardModel` (or nothing).

    Implements what :class:`boards.host.BoardClient` uses of
    ``serial.Serial``: ``write``, ``read``, ``reset_input_buffer``,
    ``timeout``, ``close``. A read that finds nothing to return first lets
    the model see an idle line (as the real board would after its timeout).

    Parameters
    ----------
    model : BoardModel or None
        None: a port with nothing answering.
    corrupt : callable, optional
        Applied to every chunk of answer bytes (to test damaged answers).
    """

    def __init__(self, model=None, corrupt=None, timeout=1.0):
        self.model = model
        self.corrupt = corrupt
        self.timeout = timeout
        self.written = bytearray()
        self._rx = bytearray()
        self.is_open = True

    def write(self, data):
        self.written += bytes(data)
        if self.model is not None:
            self._deliver(self.model.feed(data))
        return len(data)

    def _deliver(self, data):
        if data and self.corrupt is not None:
            data = self.corrupt(bytes(data))
        self._rx += data

    def read(self, size=1):
        if not self._rx and self.model is not None:
            self._deliver(self.model.idle())
        out = bytes(self._rx[:size])
        del self._rx[:size]
        return out

    @property
    def in_waiting(self):
        return len(self._rx)

    def reset_input_buffer(self):
        self._rx.clear()

    def flush(self):
        pass

    def close(self):
        self.is_open = False
