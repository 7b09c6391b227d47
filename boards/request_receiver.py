"""The board side of the request framing, for the Python models of the board tops.

``sync, command, length (u16), payload, checksum``, parsed a byte at a time as
the gateware does (:mod:`boards.protocol`): an unknown command or a wrong
length discards the rest of the frame and is answered when the line goes
idle; a bad checksum is answered at once; a whole frame goes to the model.
"""

from boards import protocol as p

__all__ = ["RequestReceiver"]


class RequestReceiver:
    """Base of a board model: the framing, with the commands left to a subclass.

    A subclass implements ``_commands()`` (the command codes it takes),
    ``_length_ok(cmd, length)`` and ``_answer(cmd, payload)`` (the answer
    bytes of a checked frame), and may hook ``_on_header(cmd)`` (a frame of
    ``cmd`` with a good length has begun) and ``_on_payload_byte(cmd)``.
    """

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

    def _on_header(self, cmd):
        pass

    def _on_payload_byte(self, cmd):
        pass

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
            if cmd not in self._commands():
                self._state, self._error = "discard", p.STATUS_BAD_COMMAND
            elif not self._length_ok(cmd, length):
                self._state, self._error = "discard", p.STATUS_BAD_LENGTH
            else:
                self._state = "payload" if length else "check"
                self._on_header(cmd)
            return b""
        if self._state == "payload":
            self._payload.append(byte)
            self._on_payload_byte(self._header[0])
            if len(self._payload) == self._header[1] | self._header[2] << 8:
                self._state = "check"
            return b""
        # check
        expected = p.checksum(self._header + self._payload)
        cmd, payload = self._header[0], bytes(self._payload)
        self._reset()
        if byte != expected:
            return p.encode_frame(p.RESPONSE_SYNC, p.STATUS_BAD_CHECKSUM)
        return self._answer(cmd, payload)
