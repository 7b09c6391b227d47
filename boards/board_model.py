"""The board top's protocol engine in Python: what the gateware answers to bytes.

:class:`BoardModel` is the reference for the board top's framing (see
:mod:`boards.protocol`): the same states, the same error answers, with
:meth:`QNet.forward` in place of the accelerator. The host driver is tested
against it through :class:`FakeSerial`, and the gateware's answers are
compared with it under cocotb.

A model of a bitstream with loadable weights keeps every slice written to
it (:attr:`BoardModel.slices`). It answers an image only once ``LOAD_DONE``
set the loaded flag, like the board; and then, if the slices written differ
from the ones the network needs, it raises :class:`WrongWeights` naming the
first wrong address instead of answering -- the board would answer with
wrong numbers, the model says why.

Members
-------
BoardModel
    Bytes in, answer bytes out.
WrongWeights
    An image was asked for while the loaded weights are not the network's.
FakeSerial
    The subset of ``serial.Serial`` the host driver uses, backed by a model.
"""


from boards import protocol as p
from boards.request_receiver import RequestReceiver


class WrongWeights(AssertionError):
    """The model was asked for an image while its loaded slices are wrong."""


class BoardModel(RequestReceiver):
    """Protocol engine of the board top, with the QNet as the accelerator.

    Parameters
    ----------
    qnet : QNet
        The network "built into the bitstream".
    clock_hz : int
        Reported by ``INFO``.
    cycles : int
        Cycle count reported with each answer.
    folding : list of (pe, simd), optional
        Reported by ``INFO`` and used for the load map (default PE = SIMD = 1).
    weight_store : None, str or list of str
        As for :func:`hdl.layer_plan.plan_layers`; ``ram``/``spram`` layers
        must be loaded before an image is answered.
    version : int
        The protocol version: 2 has no ``INFER_BATCH`` and ``BENCH``.
    max_batch : int, optional
        Images per ``INFER_BATCH`` (version 3; default as
        :meth:`boards.protocol.BoardInfo.of`).
    bench : bool
        Version 3 with ``BENCH`` (a board top built without it answers
        ``BAD_COMMAND``).

    Members
    -------
    load_map : hdl.weight_load.LoadMap or None
        None when every layer's weights are in the bitstream.
    slices : dict
        Load address -> the last 16-bit slice written there.
    loaded : bool
        The loaded flag.
    """

    def __init__(self, qnet, clock_hz=12_000_000, cycles=0, folding=None, weight_store=None,
                 version=p.VERSION, max_batch=None, bench=True):
        from hdl.layer_plan import resolve_weight_stores

        self.qnet = qnet
        self.layout = p.Layout.of(qnet)
        self.cycles = int(cycles)
        folding = [(1, 1)] * len(qnet.layers) if folding is None else list(folding)
        stores = resolve_weight_stores(qnet, weight_store)
        self.layers = p.qnet_layer_infos(qnet, folding, stores)
        self.clock_hz = int(clock_hz)
        self.load_map = None
        if any(layer.loadable for layer in self.layers):
            from hdl.layer_plan import plan_layers
            from hdl.weight_load_plan import LoadMap
            self.load_map = LoadMap(plan_layers(qnet, folding, 1, "signselect", stores))
        self.slices = {}
        self.loaded = self.load_map is None
        self.version = int(version)
        self.bench = bool(bench)
        self.max_batch = p.BoardInfo.of(qnet, clock_hz, version=version,
                                        max_batch=max_batch).max_batch
        self.held = None             # the images BENCH replays: the last ones sent
        self._bad_address = False    # a LOAD slice of this frame fell outside the map
        self._reset()

    @property
    def info(self):
        """What ``INFO`` answers now."""
        return p.BoardInfo.of(self.qnet, self.clock_hz, self.layers, self.loaded,
                              self.version, self.max_batch)

    def _commands(self):
        commands = p.COMMANDS if self.load_map is not None else (
            p.CMD_INFO, p.CMD_INFER, p.CMD_INFER_LOGITS)
        if self.version >= p.BATCH_VERSION:
            commands += p.BATCH_COMMANDS if self.bench else (p.CMD_INFER_BATCH,)
        return commands

    def _length_ok(self, cmd, length):
        if cmd == p.CMD_LOAD:
            return p.load_length_ok(length)
        if cmd in (p.CMD_INFER, p.CMD_INFER_LOGITS):
            return length == self.layout.image_bytes
        if cmd == p.CMD_INFER_BATCH:
            return self.layout.batch_length_ok(length, self.max_batch)
        if cmd == p.CMD_BENCH:
            return length == 4
        return length == 0

    def _on_header(self, cmd):
        self._bad_address = False
        if cmd == p.CMD_LOAD:
            self.loaded = False      # the slices may change from here on
        if cmd in (p.CMD_INFER, p.CMD_INFER_LOGITS, p.CMD_INFER_BATCH):
            self.held = None         # the image memory is being overwritten

    def _on_payload_byte(self, cmd):
        if cmd == p.CMD_LOAD:
            self._load_byte()

    def _answer(self, cmd, payload):
        # _bad_address is cleared when a frame's header is accepted, so it is this frame's.
        return self._execute(cmd, payload, self._bad_address)

    def _load_byte(self):
        """A slice is written as soon as its second byte arrives (checksum or not)."""
        n = len(self._payload)
        if n <= p.LOAD_ADDRESS_BYTES or n % 2:
            return
        start = int.from_bytes(self._payload[:p.LOAD_ADDRESS_BYTES], "little")
        address = start + (n - p.LOAD_ADDRESS_BYTES) // 2 - 1
        if address >> self.load_map.address_width:
            self._bad_address = True
        else:
            self.slices[address] = self._payload[-2] | self._payload[-1] << 8

    def _execute(self, cmd, payload, bad_address):
        if cmd == p.CMD_INFO:
            return p.encode_frame(p.RESPONSE_SYNC, cmd, self.info.encode())
        if cmd == p.CMD_LOAD:
            return p.encode_frame(p.RESPONSE_SYNC,
                                  p.STATUS_BAD_ADDRESS if bad_address else cmd)
        if cmd == p.CMD_LOAD_DONE:
            self.loaded = True
            return p.encode_frame(p.RESPONSE_SYNC, cmd)
        if cmd == p.CMD_BENCH:
            return self._bench(p.decode_bench(payload))
        if not self.loaded:
            return p.encode_frame(p.RESPONSE_SYNC, p.STATUS_NOT_LOADED)
        if cmd == p.CMD_INFER_BATCH:
            with_logits, images = self.layout.decode_batch(payload)
        else:
            with_logits = cmd == p.CMD_INFER_LOGITS
            images = self.layout.decode_image(payload)[None, :]
        # The image memory is in_bits wide: higher bits of a pixel are dropped.
        images = images & ((1 << self.layout.in_bits) - 1)
        logits, classes = self._forward(images)
        self.held = images
        answer = b"".join(self.layout.encode_result(c, self.cycles, z if with_logits else None)
                          for c, z in zip(classes, logits, strict=True))
        return p.encode_frame(p.RESPONSE_SYNC, cmd, answer)

    def _forward(self, images):
        wrong = self.wrong_slices()
        if wrong:
            address, want, got = wrong[0]
            raise WrongWeights(f"board model: INFER with {len(wrong)} wrong weight slices; "
                               f"the first at load address {address}: {got}, expected {want}")
        return self.qnet.forward(images)

    def _bench(self, replays):
        """Replay the held images: count, cycles (``cycles`` per image) and checksum."""
        if self.held is None:
            return p.encode_frame(p.RESPONSE_SYNC, p.STATUS_NO_IMAGES)
        if not self.loaded:
            return p.encode_frame(p.RESPONSE_SYNC, p.STATUS_NOT_LOADED)
        if replays == 0:
            return p.encode_frame(p.RESPONSE_SYNC, p.CMD_BENCH, p.BenchResult(0, 0, 0).encode())
        logits, classes = self._forward(self.held)
        answers = [self.layout.answer_bytes(c, z) for c, z in zip(classes, logits, strict=True)]
        result = p.BenchResult(replays, replays * self.cycles,
                               p.replay_checksum(answers, replays))
        return p.encode_frame(p.RESPONSE_SYNC, p.CMD_BENCH, result.encode())

    def wrong_slices(self):
        """``[(address, expected, written or None)]`` of every slice the network
        needs that was not written with its value (empty for a ROM-only model)."""
        if self.load_map is None:
            return []
        return [(address, want, self.slices.get(address))
                for address, want in self.load_map.writes()
                if self.slices.get(address) != want]


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
