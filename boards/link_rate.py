"""What the serial link allows: the end-to-end images/s a user of a board sees.

The engine's images/s (clock / cycles per image) is what the accelerator
can do; a user who streams images over the UART gets at most what the link
carries. A UART byte is 10 bits on the wire (start, 8 data, stop), and
every frame adds :data:`FRAME_BYTES` of framing (sync, code, length,
checksum) to its payload.

Two ways to use the link:

round trip (one image per request, protocol version 2)
    The host sends an image, the board computes, the board answers, the
    host sends the next: the request, the engine's latency and the answer
    add up, nothing overlaps.
pipelined (batches, protocol version 3)
    Requests of ``batch`` images stream in while the answers of the
    previous batch stream out (the UART is full duplex) and the engine
    works: the slower of the two directions and the engine sets the rate.

Members
-------
LinkBound
    The link's figures for one message layout, baud rate and way of use.
link_bound
    Build one.
"""

from dataclasses import asdict, dataclass

from boards import protocol as p

#: Bits on the wire per UART byte (8N1: start bit, 8 data bits, stop bit).
BITS_PER_BYTE = 10
#: Framing bytes around a payload: sync, command or status, length (2), checksum.
FRAME_BYTES = 5


@dataclass(frozen=True)
class LinkBound:
    """The serial link's bound on images/s.

    Attributes
    ----------
    baud : int
    batch : int
        Images per request (1: one request per image, round trips).
    pipelined : bool
        Whether requests, engine and answers overlap.
    image_bytes, answer_bytes : int
        Payload bytes of one image and of one answer.
    framing_bytes : float
        Framing per image, both directions (request and answer frames, and
        a batch request's header byte, shared by the batch).
    request_bytes, reply_bytes : float
        Bytes on the line per image, each way, framing included.
    images_per_s : float
        What the link alone carries.
    """

    baud: int
    batch: int
    pipelined: bool
    image_bytes: int
    answer_bytes: int
    framing_bytes: float
    request_bytes: float
    reply_bytes: float
    images_per_s: float

    def end_to_end(self, engine_images_per_s, latency_s=0.0):
        """Images/s a user sees with an engine of ``engine_images_per_s``.

        Parameters
        ----------
        engine_images_per_s : float
            Clock over cycles per image.
        latency_s : float
            The engine's latency (first pixel to answer); a round trip
            waits for it on every image.

        Returns
        -------
        float
            Pipelined: the smaller of the link's and the engine's rate.
            Round trip: one over the sum of the request, the latency (at
            least one image's compute) and the answer times.
        """
        if engine_images_per_s <= 0:
            return 0.0
        if self.pipelined:
            return min(self.images_per_s, engine_images_per_s)
        compute_s = max(float(latency_s), 1.0 / engine_images_per_s)
        return 1.0 / (1.0 / self.images_per_s + compute_s)

    def as_dict(self):
        """The figures, rounded for ``report.json``."""
        out = asdict(self)
        for key in ("framing_bytes", "request_bytes", "reply_bytes"):
            out[key] = round(out[key], 3)
        out["images_per_s"] = round(out["images_per_s"], 1)
        out["bits_per_byte"] = BITS_PER_BYTE
        return out


def link_bound(layout, baud, batch=1, logits=False):
    """The link's bound for ``layout`` at ``baud``.

    Parameters
    ----------
    layout : boards.protocol.Layout
    baud : int
    batch : int
        Images per request; 1 means the round-trip protocol (version 2),
        more means batched, pipelined requests (version 3).
    logits : bool
        Answers carry every logit (``INFER_LOGITS``), not only the class.

    Returns
    -------
    LinkBound
    """
    if baud <= 0:
        raise ValueError(f"baud must be positive, not {baud}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    answer = layout.result_bytes(logits)
    pipelined = batch > 1
    # A batch request has one header byte (its flags) before the images.
    request_framing = (FRAME_BYTES + (p.BATCH_HEADER_BYTES if pipelined else 0)) / batch
    reply_framing = FRAME_BYTES / batch
    request = layout.image_bytes + request_framing
    reply = answer + reply_framing
    bytes_per_s = baud / BITS_PER_BYTE
    # Full duplex when pipelined: the busier direction sets the pace.
    seconds = (max(request, reply) if pipelined else request + reply) / bytes_per_s
    return LinkBound(int(baud), int(batch), pipelined, layout.image_bytes, answer,
                     request_framing + reply_framing, request, reply, 1.0 / seconds)
