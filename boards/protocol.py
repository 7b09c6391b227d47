"""The serial protocol between the host and the board top.

Every message is a frame; multi-byte fields are little-endian::

    request:   A5  cmd     len_lo len_hi  payload[len]  sum
    response:  5A  status  len_lo len_hi  payload[len]  sum

``sum`` is the low byte of the sum of every byte between the sync byte and
the checksum. Bytes before a sync byte are skipped, so a host can always
resynchronise. A request cut short (no byte for the board's idle timeout)
is dropped with a ``TIMEOUT`` answer.

Commands and their answers (an answer's ``status`` echoes the command):

``INFO`` (no payload)
    ``"MFQN"``, protocol version, input bits, ``n_inputs`` (u32),
    ``n_classes`` (u16), bytes per logit, clock in Hz (u32), the first 16
    bytes of the QNet fingerprint built into the bitstream, a flags byte
    (bit 0: the bitstream needs a weight load, bit 1: the weights are
    loaded; always set when none are needed), the number of layers (u8) and
    per QNet layer ``pe`` (u16), ``simd`` (u16) and its weight store (u8: 0
    ``rom``, 1 ``ram``, 2 ``spram``; a max-pool or flatten, which has no
    weights, as 1, 1, ``rom``) -- enough for a host to rebuild the layer
    plans and their :class:`hdl.weight_load.LoadMap`.
``INFER`` / ``INFER_LOGITS`` (the image: one byte per pixel, two when the
input has more than 8 bits; the QNet's ``n_inputs`` values, channels-last
for an image of several channels)
    class (u16), cycles from the first pixel into the accelerator to its
    answer (u32), and for ``INFER_LOGITS`` every logit in two's complement.
    ``NOT_LOADED`` (empty) while a bitstream that needs weights has no
    complete load.
``LOAD`` (start address u32, then 1 to :data:`MAX_LOAD_SLICES` 16-bit
slices)
    Slice ``i`` is written at load address ``start + i`` as it arrives,
    before the checksum is seen; an empty answer once the checksum checked.
    A LOAD whose header is accepted clears the loaded flag, whatever
    happens to the rest of it. A bad checksum leaves some slices written;
    the host sends the same chunk again (writes are idempotent). A slice
    past the address space (``2**address_width``) is not written and the
    answer is ``BAD_ADDRESS``.
``LOAD_DONE`` (no payload)
    Sets the loaded flag (the board cannot check the weights: the host
    confirms with ``INFO``); an empty answer.

Version 3 adds (INFO then ends with ``max_batch``, u16):

``INFER_BATCH`` (a flags byte, bit 0: with logits, the others reserved: sent
as 0, ignored; then 1 to ``max_batch`` images back to back)
    One answer per image, in order, back to back, each as the answer of
    ``INFER`` / ``INFER_LOGITS``. The board may start on an image before
    the request's checksum has arrived and answer while the host sends the
    next batch, so a host keeps two batches in flight and the link and the
    engine overlap; a bad checksum still answers ``BAD_CHECKSUM`` alone.
``BENCH`` (replays, u32)
    Runs the images of the last ``INFER`` / ``INFER_BATCH`` again, in turn,
    ``replays`` times in all, back to back at the engine's rate without the
    link, and answers the count (u32), the cycles from the first pixel to
    the last answer (u64) and :func:`answer_checksum` of every answer's
    class and logits (all 0 for 0 replays). ``NO_IMAGES`` (empty) when no
    image request was answered since power-up or since an image request
    began that was not (damaged, cut short, weights not loaded): its pixels
    may be in the board's memory. ``NOT_LOADED`` as for ``INFER``.

A host talks to a version 2 board (no ``max_batch``, no ``INFER_BATCH``
or ``BENCH``) one image per request.

``LOAD`` and ``LOAD_DONE`` to a bitstream whose weights are all built in
answer ``BAD_COMMAND``, like any command it does not have. A malformed
request gets an answer with one of the ``STATUS_*`` error codes and an
empty payload.

Members
-------
Layout
    The byte sizes that depend on the QNet.
BoardInfo, LayerInfo, InferenceResult, BenchResult
    Decoded answers.
encode_batch, decode_batch, decode_results
    ``INFER_BATCH`` requests and answers.
encode_bench, answer_checksum
    ``BENCH`` requests and what their answers check.
encode_load, decode_load
    The payload of a ``LOAD`` request.
encode_frame, checksum, FrameReader
    Frame codec.
"""

import heapq
import struct
from dataclasses import dataclass

import numpy as np

from golden_model.errors import MulfreeError

REQUEST_SYNC = 0xA5
RESPONSE_SYNC = 0x5A

CMD_INFO = 0x01
CMD_INFER = 0x02
CMD_INFER_LOGITS = 0x03
CMD_LOAD = 0x04
CMD_LOAD_DONE = 0x05
COMMANDS = (CMD_INFO, CMD_INFER, CMD_INFER_LOGITS, CMD_LOAD, CMD_LOAD_DONE)
# Version 3.
CMD_INFER_BATCH = 0x06
CMD_BENCH = 0x07
BATCH_COMMANDS = (CMD_INFER_BATCH, CMD_BENCH)

STATUS_BAD_COMMAND = 0xE1
STATUS_BAD_LENGTH = 0xE2
STATUS_BAD_CHECKSUM = 0xE3
STATUS_TIMEOUT = 0xE4
STATUS_NOT_LOADED = 0xE5
STATUS_BAD_ADDRESS = 0xE6
STATUS_NO_IMAGES = 0xE7
STATUS_NAMES = {
    STATUS_BAD_COMMAND: "unknown command",
    STATUS_BAD_LENGTH: "wrong payload length",
    STATUS_BAD_CHECKSUM: "bad checksum",
    STATUS_TIMEOUT: "request cut short",
    STATUS_NOT_LOADED: "weights not loaded",
    STATUS_BAD_ADDRESS: "load address out of range",
    STATUS_NO_IMAGES: "no images to replay",
}

MAGIC = b"MFQN"
VERSION = 3
#: The versions this host talks to: 2 one image per request, 3 also batches and BENCH.
VERSIONS = (2, 3)
#: The first version with INFER_BATCH, BENCH and ``max_batch`` in INFO.
BATCH_VERSION = 3
FINGERPRINT_BYTES = 16
#: The fixed part of an INFO answer; the flags byte follows it.
INFO_FORMAT = "<4sBBIHBI16s"
INFO_FLAGS_OFFSET = struct.calcsize(INFO_FORMAT)
#: Flags byte: the bitstream needs a weight load / the weights are loaded.
FLAG_NEEDS_LOAD = 0x01
FLAG_LOADED = 0x02
#: Per layer: pe, simd, weight store.
INFO_LAYER_FORMAT = "<HHB"
INFO_LAYER_BYTES = struct.calcsize(INFO_LAYER_FORMAT)
#: Weight stores by their INFO code (the order of ``hdl.layer_plan.WEIGHT_STORES``).
WEIGHT_STORES = ("rom", "ram", "spram")
MAX_PAYLOAD = 0xFFFF
#: The longest frame: sync, code, length (2), payload, checksum.
MAX_FRAME = MAX_PAYLOAD + 5
#: Slices of one LOAD request: the board needs no buffer for them, but a
#: short chunk is cheap to resend after a bad checksum.
MAX_LOAD_SLICES = 1024
LOAD_ADDRESS_BYTES = 4
MIN_LOAD_BYTES = LOAD_ADDRESS_BYTES + 2
MAX_LOAD_BYTES = LOAD_ADDRESS_BYTES + 2 * MAX_LOAD_SLICES
#: INFER_BATCH: the flags byte before the images; bit 0 asks for the logits.
BATCH_HEADER_BYTES = 1
BATCH_FLAG_LOGITS = 0x01
#: BENCH answer: count (u32), cycles (u64), answer checksum (u32).
BENCH_ANSWER_FORMAT = "<IQI"
BENCH_ANSWER_BYTES = struct.calcsize(BENCH_ANSWER_FORMAT)
#: Images per INFER_BATCH a version 3 board holds unless it says otherwise.
DEFAULT_MAX_BATCH = 16


def load_length_ok(length):
    """Whether ``length`` is a valid LOAD payload length: the address and 1 to
    :data:`MAX_LOAD_SLICES` whole slices."""
    return MIN_LOAD_BYTES <= length <= MAX_LOAD_BYTES and length % 2 == 0


class ProtocolError(MulfreeError):
    """A frame that does not follow the protocol, or a board that does not answer."""


def checksum(data):
    """Low byte of the sum of ``data``."""
    return sum(bytes(data)) & 0xFF


def encode_frame(sync, code, payload=b""):
    """One frame: sync, command or status, length, payload, checksum."""
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes; a frame holds at most "
                            f"{MAX_PAYLOAD}")
    body = bytes([code]) + struct.pack("<H", len(payload)) + payload
    return bytes([sync]) + body + bytes([checksum(body)])


@dataclass(frozen=True)
class Layout:
    """Byte sizes of a QNet's messages.

    Parameters
    ----------
    n_inputs, in_bits, n_classes, z_bits : int
        From the QNet (``z_bits`` of the last layer: the logit width).
    """

    n_inputs: int
    in_bits: int
    n_classes: int
    z_bits: int

    @classmethod
    def of(cls, qnet):
        return cls(qnet.input.n_inputs, qnet.input.bits, qnet.n_classes,
                   qnet.widths[-1].z_bits)

    @property
    def pixel_bytes(self):
        return 1 if self.in_bits <= 8 else 2

    @property
    def image_bytes(self):
        return self.n_inputs * self.pixel_bytes

    @property
    def logit_bytes(self):
        return (self.z_bits + 7) // 8

    def result_bytes(self, with_logits):
        return 6 + (self.n_classes * self.logit_bytes if with_logits else 0)

    def check(self):
        """Raise :class:`ProtocolError` when the QNet's messages do not fit a frame."""
        if self.image_bytes > MAX_PAYLOAD:
            raise ProtocolError(
                f"an image of {self.n_inputs} pixels needs {self.image_bytes} bytes; the "
                f"serial protocol carries at most {MAX_PAYLOAD} per frame")
        if self.n_classes > 0xFFFF or self.result_bytes(True) > MAX_PAYLOAD:
            raise ProtocolError(f"{self.n_classes} classes do not fit an answer frame")

    def encode_image(self, pixels):
        """The payload of an ``INFER`` request for one image."""
        pixels = np.asarray(pixels, dtype=np.int64).reshape(-1)
        if pixels.shape != (self.n_inputs,):
            raise ProtocolError(f"image: expected {self.n_inputs} pixels, got {pixels.size}")
        dtype = "<u1" if self.pixel_bytes == 1 else "<u2"
        return pixels.astype(dtype).tobytes()

    def decode_image(self, payload):
        dtype = "<u1" if self.pixel_bytes == 1 else "<u2"
        return np.frombuffer(bytes(payload), dtype=dtype).astype(np.int64)

    def encode_result(self, cls, cycles, logits=None):
        out = struct.pack("<HI", int(cls), int(cycles) & 0xFFFFFFFF)
        if logits is not None:
            mask = (1 << (8 * self.logit_bytes)) - 1
            out += b"".join((int(v) & mask).to_bytes(self.logit_bytes, "little")
                            for v in logits)
        return out

    def decode_result(self, payload, with_logits):
        payload = bytes(payload)
        if len(payload) != self.result_bytes(with_logits):
            raise ProtocolError(f"answer of {len(payload)} bytes; expected "
                                f"{self.result_bytes(with_logits)}")
        cls, cycles = struct.unpack_from("<HI", payload)
        logits = None
        if with_logits:
            raw = np.frombuffer(payload[6:], dtype=np.uint8).reshape(self.n_classes, -1)
            values = (raw.astype(np.int64) << (8 * np.arange(self.logit_bytes))).sum(axis=1)
            sign = np.int64(1) << (8 * self.logit_bytes - 1)
            logits = np.where(values >= sign, values - 2 * sign, values)
        return InferenceResult(cls, cycles, logits)

    @property
    def frame_batch(self):
        """The most images one ``INFER_BATCH`` frame (and its answer) can hold."""
        images = (MAX_PAYLOAD - BATCH_HEADER_BYTES) // self.image_bytes
        return max(0, min(images, MAX_PAYLOAD // self.result_bytes(True)))

    def encode_batch(self, images, logits):
        """The payload of an ``INFER_BATCH`` request for ``images`` (n, n_inputs)."""
        images = np.asarray(images, dtype=np.int64)
        if images.ndim != 2 or not 1 <= len(images) <= self.frame_batch:
            raise ProtocolError(f"INFER_BATCH of {len(images)} images; expected 1 to "
                                f"{self.frame_batch} of {self.n_inputs} pixels")
        flags = BATCH_FLAG_LOGITS if logits else 0
        return bytes([flags]) + b"".join(self.encode_image(image) for image in images)

    def batch_length_ok(self, length, max_batch):
        """Whether ``length`` is an ``INFER_BATCH`` payload of 1 to ``max_batch`` images."""
        images, rest = divmod(length - BATCH_HEADER_BYTES, self.image_bytes)
        return length > BATCH_HEADER_BYTES and rest == 0 and 1 <= images <= max_batch

    def decode_batch(self, payload):
        """``(logits, images)`` of an ``INFER_BATCH`` payload."""
        payload = bytes(payload)
        if not self.batch_length_ok(len(payload), self.frame_batch):
            raise ProtocolError(f"INFER_BATCH payload of {len(payload)} bytes; expected "
                                f"{BATCH_HEADER_BYTES} + a whole number of "
                                f"{self.image_bytes}-byte images")
        flags = payload[0]          # the reserved bits are ignored
        images = self.decode_image(payload[BATCH_HEADER_BYTES:]).reshape(-1, self.n_inputs)
        return bool(flags & BATCH_FLAG_LOGITS), images

    def decode_results(self, payload, with_logits, count):
        """The ``count`` :class:`InferenceResult` of an ``INFER_BATCH`` answer."""
        payload = bytes(payload)
        size = self.result_bytes(with_logits)
        if len(payload) != count * size:
            raise ProtocolError(f"batch answer of {len(payload)} bytes; expected {count} "
                                f"answers of {size}")
        return [self.decode_result(payload[k * size:(k + 1) * size], with_logits)
                for k in range(count)]

    def answer_bytes(self, cls, logits):
        """The bytes of one answer that ``BENCH`` checksums: class (u16) and logits."""
        return struct.pack("<H", int(cls)) + self.encode_result(cls, 0, logits)[6:]


@dataclass(frozen=True)
class LayerInfo:
    """One layer as ``INFO`` reports it: its folding and where its weights live."""

    pe: int
    simd: int
    store: str = "rom"

    @property
    def loadable(self):
        return self.store != "rom"


def layer_infos(plans, n_layers=None):
    """:class:`LayerInfo` of each plan (anything with ``pe``, ``simd``, ``weight_store``).

    With ``n_layers`` (the QNet's layer count), one per QNet layer, by the
    plans' ``index``: a layer without a plan (a max-pool or flatten, which
    has no weights) is ``LayerInfo(1, 1, "rom")``, as :func:`qnet_layer_infos`
    reports it, so that INFO lists the layers a host's folding names.
    """
    infos = tuple(LayerInfo(int(plan.pe), int(plan.simd), getattr(plan, "weight_store", "rom"))
                  for plan in plans)
    if n_layers is None:
        return infos
    by_index = {int(plan.index): info for plan, info in zip(plans, infos, strict=True)}
    return tuple(by_index.get(k, WEIGHTLESS_LAYER) for k in range(n_layers))


#: What INFO reports for a layer without weights (a max-pool or flatten).
WEIGHTLESS_LAYER = LayerInfo(1, 1, "rom")


def qnet_layer_infos(qnet, folding, stores):
    """:class:`LayerInfo` per QNet layer from a folding and weight stores, one per layer
    each; a layer without weights (a max-pool or flatten) as :data:`WEIGHTLESS_LAYER`."""
    from golden_model.qnet import QFlatten, QMaxPool2D

    return tuple(WEIGHTLESS_LAYER if isinstance(layer, QMaxPool2D | QFlatten)
                 else LayerInfo(int(pe), int(simd), store)
                 for layer, (pe, simd), store in zip(qnet.layers, folding, stores, strict=True))


@dataclass(frozen=True)
class BoardInfo:
    """What ``INFO`` reports: the network built into the bitstream.

    ``loaded`` is what the board said when asked; it is always True when
    ``needs_load`` is False. ``max_batch`` is the most images of one
    ``INFER_BATCH`` (1 for a version 2 board, which has none).
    """

    in_bits: int
    n_inputs: int
    n_classes: int
    logit_bytes: int
    clock_hz: int
    fingerprint: bytes
    layers: tuple = ()
    needs_load: bool = False
    loaded: bool = True
    version: int = VERSION
    max_batch: int = 1

    @classmethod
    def of(cls, qnet, clock_hz, layers=None, loaded=False, version=VERSION, max_batch=None):
        """The INFO of a bitstream for ``qnet``.

        Parameters
        ----------
        layers : sequence of LayerInfo, optional
            Default: PE = SIMD = 1 and weights in ROM for every layer.
        loaded : bool
            The loaded flag (ignored, i.e. True, when no layer is loadable).
        version : int
            The protocol version the board speaks.
        max_batch : int, optional
            Default: 1 for version 2, else :data:`DEFAULT_MAX_BATCH` or what
            fits a frame.
        """
        layout = Layout.of(qnet)
        if max_batch is None:
            max_batch = 1 if version < BATCH_VERSION else min(DEFAULT_MAX_BATCH,
                                                               layout.frame_batch)
        if layers is None:
            layers = [LayerInfo(1, 1, "rom")] * len(qnet.layers)
        layers = tuple(layers)
        needs = any(layer.loadable for layer in layers)
        return cls(layout.in_bits, layout.n_inputs, layout.n_classes, layout.logit_bytes,
                   int(clock_hz), fingerprint_prefix(qnet), layers, needs,
                   bool(loaded) or not needs, int(version), int(max_batch))

    @property
    def flags(self):
        return (FLAG_NEEDS_LOAD if self.needs_load else 0) | (FLAG_LOADED if self.loaded else 0)

    @property
    def folding(self):
        """``[(pe, simd), ...]`` per layer."""
        return [(layer.pe, layer.simd) for layer in self.layers]

    @property
    def stores(self):
        """The weight store of each layer."""
        return [layer.store for layer in self.layers]

    def encode(self):
        if len(self.layers) > 0xFF:
            raise ProtocolError(f"{len(self.layers)} layers; INFO reports at most 255")
        out = struct.pack(INFO_FORMAT, MAGIC, self.version, self.in_bits, self.n_inputs,
                          self.n_classes, self.logit_bytes, self.clock_hz, self.fingerprint)
        out += bytes([self.flags, len(self.layers)])
        for layer in self.layers:
            out += struct.pack(INFO_LAYER_FORMAT, layer.pe, layer.simd,
                               WEIGHT_STORES.index(layer.store))
        if self.version >= BATCH_VERSION:
            out += struct.pack("<H", self.max_batch)
        return out

    @classmethod
    def decode(cls, payload):
        payload = bytes(payload)
        if len(payload) < struct.calcsize("<4sB"):
            raise ProtocolError(f"INFO answer of {len(payload)} bytes; expected at least "
                                f"{INFO_FLAGS_OFFSET + 2}")
        magic, version = struct.unpack_from("<4sB", payload)
        if magic != MAGIC:
            raise ProtocolError(f"INFO answer starts with {magic!r}; expected {MAGIC!r} "
                                "(is this a mulfree bitstream?)")
        if version not in VERSIONS:
            raise ProtocolError(f"the board speaks protocol version {version}; this host "
                                f"talks versions {', '.join(map(str, VERSIONS))} (rebuild the "
                                "bitstream with this mulfree, or use the mulfree it was "
                                "built with)")
        fixed = INFO_FLAGS_OFFSET + 2
        n_layers = payload[fixed - 1] if len(payload) >= fixed else 0
        tail = 2 if version >= BATCH_VERSION else 0
        expected = fixed + n_layers * INFO_LAYER_BYTES + tail
        if len(payload) != expected:
            raise ProtocolError(f"INFO answer of {len(payload)} bytes; expected {expected}")
        _, _, in_bits, n_inputs, n_classes, logit_bytes, clock_hz, fingerprint = \
            struct.unpack_from(INFO_FORMAT, payload)
        flags = payload[INFO_FLAGS_OFFSET]
        if flags & ~(FLAG_NEEDS_LOAD | FLAG_LOADED):
            raise ProtocolError(f"INFO flags 0x{flags:02x}: expected only bits 0 and 1")
        layers = []
        for k in range(n_layers):
            pe, simd, store = struct.unpack_from(INFO_LAYER_FORMAT, payload,
                                                 fixed + k * INFO_LAYER_BYTES)
            if store >= len(WEIGHT_STORES):
                raise ProtocolError(f"INFO layer {k}: weight store code {store}; expected 0 "
                                    f"to {len(WEIGHT_STORES) - 1} ({', '.join(WEIGHT_STORES)})")
            layers.append(LayerInfo(pe, simd, WEIGHT_STORES[store]))
        max_batch = struct.unpack_from("<H", payload, expected - 2)[0] if tail else 1
        if max_batch < 1:
            raise ProtocolError("INFO max_batch 0: expected at least 1 image per batch")
        return cls(in_bits, n_inputs, n_classes, logit_bytes, clock_hz, fingerprint,
                   tuple(layers), bool(flags & FLAG_NEEDS_LOAD), bool(flags & FLAG_LOADED),
                   version, max_batch)


def encode_load(start, values):
    """The payload of a ``LOAD`` request: ``values`` (uint16) written from ``start``."""
    values = np.asarray(values).reshape(-1)
    if not 1 <= values.size <= MAX_LOAD_SLICES:
        raise ProtocolError(f"LOAD of {values.size} slices; expected 1 to {MAX_LOAD_SLICES}")
    if not (0 <= int(start) and int(start) + values.size <= 1 << 32):
        raise ProtocolError(f"LOAD start address {start}; expected a u32 with room for "
                            f"{values.size} slices")
    if values.size and (values.min() < 0 or values.max() > 0xFFFF):
        raise ProtocolError("LOAD slices: expected values in 0..65535")
    return struct.pack("<I", int(start)) + values.astype("<u2").tobytes()


def decode_load(payload):
    """``(start, values)`` of a ``LOAD`` payload (values as an int64 array)."""
    payload = bytes(payload)
    if not load_length_ok(len(payload)):
        raise ProtocolError(f"LOAD payload of {len(payload)} bytes; expected an even length "
                            f"from {MIN_LOAD_BYTES} to {MAX_LOAD_BYTES}")
    start, = struct.unpack_from("<I", payload)
    return start, np.frombuffer(payload[LOAD_ADDRESS_BYTES:], dtype="<u2").astype(np.int64)


@dataclass(frozen=True)
class InferenceResult:
    """One answer: the class, the accelerator's cycle count and maybe the logits."""

    cls: int
    cycles: int
    logits: np.ndarray = None


CHECKSUM_MASK = 0xFFFFFFFF


def answer_checksum(chunks, start=0):
    """The ``BENCH`` checksum: ``h = 31 h + byte`` (mod 2**32) over every byte.

    Order-sensitive, and cheap in gateware (``31 h`` is ``(h << 5) - h``).

    Parameters
    ----------
    chunks : iterable of bytes
        The answers' bytes (:meth:`Layout.answer_bytes`), in order.
    start : int
        The checksum so far.
    """
    h = int(start)
    for chunk in chunks:
        for byte in bytes(chunk):
            h = (h * 31 + byte) & CHECKSUM_MASK
    return h


def replay_checksum(answers, count):
    """:func:`answer_checksum` of ``count`` answers cycling through ``answers``.

    Each answer is hashed once: appending ``n`` bytes whose own checksum is
    ``c`` turns ``h`` into ``31**n h + c``.
    """
    parts = [(answer_checksum([a]), pow(31, len(a), 1 << 32)) for a in map(bytes, answers)]
    if not parts:
        raise ProtocolError("replay_checksum: no answers to replay")
    h = 0
    for k in range(int(count)):
        own, scale = parts[k % len(parts)]
        h = (h * scale + own) & CHECKSUM_MASK
    return h


def encode_bench(replays):
    """The payload of a ``BENCH`` request."""
    replays = int(replays)
    if not 1 <= replays <= 0xFFFFFFFF:
        raise ProtocolError(f"BENCH of {replays} replays; expected 1 to {0xFFFFFFFF}")
    return struct.pack("<I", replays)


def decode_bench(payload):
    """The replay count of a ``BENCH`` payload (0 is valid: a board answers zeros)."""
    payload = bytes(payload)
    if len(payload) != 4:
        raise ProtocolError(f"BENCH payload of {len(payload)} bytes; expected 4")
    replays, = struct.unpack("<I", payload)
    return replays


@dataclass(frozen=True)
class BenchResult:
    """A ``BENCH`` answer: images run, cycles taken, checksum of their answers."""

    count: int
    cycles: int
    checksum: int

    def encode(self):
        return struct.pack(BENCH_ANSWER_FORMAT, self.count, self.cycles, self.checksum)

    @classmethod
    def decode(cls, payload):
        payload = bytes(payload)
        if len(payload) != BENCH_ANSWER_BYTES:
            raise ProtocolError(f"BENCH answer of {len(payload)} bytes; expected "
                                f"{BENCH_ANSWER_BYTES}")
        return cls(*struct.unpack(BENCH_ANSWER_FORMAT, payload))


def fingerprint_prefix(qnet):
    """The bytes of the QNet fingerprint a bitstream carries."""
    return bytes.fromhex(qnet.fingerprint())[:FINGERPRINT_BYTES]


class FrameReader:
    """Incremental parser of frames with a given sync byte.

    Feed bytes with :meth:`feed`; complete frames come back as
    ``(code, payload)``, every complete valid frame of a read in order.

    Any sync byte may start a frame, also one inside garbage, so every
    sync byte is a candidate start. A candidate fails when ``accept``
    refuses its header or when it is complete and its checksum is wrong;
    the search then goes on from the byte after that sync byte, not after
    the length the failed header claimed. A candidate still waiting for
    bytes does not hold back a complete valid frame that starts after it:
    a stray sync byte in garbage may claim up to 64 KiB, and the real
    answer behind it would otherwise be swallowed. The price: a one-byte
    checksum passes one random candidate in 256, so a caller that knows
    which answers can come should narrow the candidates with ``accept``.
    Every candidate is checked once, when its last byte arrives.

    Parameters
    ----------
    sync : int
        The sync byte.
    accept : callable, optional
        ``accept(code, length) -> bool``: whether a header is plausible
        (e.g. the answer codes a host expects). Default: any header.

    Attributes
    ----------
    damaged : int
        Complete frames with an accepted header and a bad checksum, dropped.
    """

    def __init__(self, sync, accept=None):
        self._sync = sync
        self._accept = accept
        self._buffer = bytearray()
        # (end, start) of every accepted header whose frame is not yet complete,
        # as a heap: each candidate is looked at once when its bytes are all in.
        self._waiting = []
        self._scanned = 0       # sync bytes below this have been looked at
        self.damaged = 0

    def _scan(self):
        """Queue every new candidate whose header has arrived."""
        buffer = self._buffer
        while True:
            start = buffer.find(self._sync, self._scanned)
            if start < 0 or start + 4 > len(buffer):
                self._scanned = len(buffer) if start < 0 else start
                return
            self._scanned = start + 1
            length = buffer[start + 2] | buffer[start + 3] << 8
            if self._accept is None or self._accept(buffer[start + 1], length):
                heapq.heappush(self._waiting, (start + 5 + length, start))

    def _checksum_ok(self, start, end):
        body = np.frombuffer(self._buffer, dtype=np.uint8, count=end - start - 2,
                             offset=start + 1)
        total = int(body.sum())
        del body                # the buffer cannot be resized while viewed
        return total & 0xFF == self._buffer[end - 1]

    def _drop(self, count):
        """Forget the first ``count`` bytes and every candidate starting in them."""
        del self._buffer[:count]
        self._waiting = [(end - count, start - count) for end, start in self._waiting
                         if start >= count]
        heapq.heapify(self._waiting)
        self._scanned = max(self._scanned - count, 0)

    def feed(self, data):
        """Add ``data``; return the frames it completed, as ``(code, payload)``."""
        self._buffer += bytes(data)
        frames = []
        while True:
            self._scan()
            valid = []
            while self._waiting and self._waiting[0][0] <= len(self._buffer):
                end, start = heapq.heappop(self._waiting)
                if self._checksum_ok(start, end):
                    valid.append((start, end))
                else:
                    self.damaged += 1
            if not valid:
                break
            start, end = min(valid)
            frames.append((self._buffer[start + 1], bytes(self._buffer[start + 4:end - 1])))
            for later in valid:
                if later[0] >= end:
                    heapq.heappush(self._waiting, (later[1], later[0]))
            # Everything before the frame's end is spent: candidates in it are garbage.
            self._drop(end)
        if not self._waiting:
            self._drop(self._scanned)
        elif len(self._buffer) > 2 * MAX_FRAME:
            # A waiting candidate started less than MAX_FRAME bytes ago, so this
            # drops more than MAX_FRAME bytes: the cost stays linear in the input.
            self._drop(self._first_kept())
        return frames

    def _first_kept(self):
        return min([start for _, start in self._waiting] + [self._scanned])

    @property
    def pending(self):
        """Bytes held from the earliest candidate frame still waiting for bytes."""
        return len(self._buffer) - self._first_kept()
