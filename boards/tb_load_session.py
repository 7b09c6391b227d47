"""The requests of a weight-load session, shared by the board top's testbenches.

One sequence exercises every path of ``LOAD``: images refused before the
load, a chunk with a damaged checksum, the load, malformed and out-of-range
chunks, a chunk cut short and sent again, ``LOAD_DONE``, real images, and a
reload that clears the loaded flag. The Amaranth-simulator test and the
cocotb testbench send it and compare every answer with
:class:`boards.board_model.BoardModel`.

Members
-------
load_session
    The requests and the statuses the board must answer them with.
"""

from boards import protocol as p


def _request(cmd, payload=b""):
    return p.encode_frame(p.REQUEST_SYNC, cmd, payload)


def load_session(qnet, load_map, images):
    """Requests of a whole load session and the expected answer statuses.

    Parameters
    ----------
    qnet : QNet
    load_map : hdl.weight_load.LoadMap
        Of the accelerator under test (loadable).
    images : ndarray, shape (n, n_inputs), n >= 2
        Sent with ``INFER_LOGITS`` once loaded.

    Returns
    -------
    requests : list of bytes
        One request (or a broken piece of one) per entry.
    statuses : list of int
        The status of the one answer each request gets.
    """
    layout = p.Layout.of(qnet)
    chunks = [_request(p.CMD_LOAD, p.encode_load(r.start, r.values))
              for r in load_map.regions()]
    damaged = bytearray(chunks[0])
    damaged[9] ^= 0x03                      # slice 0's high byte: the checksum fails
    top = 1 << load_map.address_width
    infer = [_request(p.CMD_INFER_LOGITS, layout.encode_image(x)) for x in images]
    plain = [_request(p.CMD_INFER, layout.encode_image(x)) for x in images[:2]]
    steps = [
        (_request(p.CMD_INFO), p.CMD_INFO),
        (infer[0], p.STATUS_NOT_LOADED),
        (bytes(damaged), p.STATUS_BAD_CHECKSUM),          # its slices are written anyway
        *[(chunk, p.CMD_LOAD) for chunk in chunks],
        (infer[0], p.STATUS_NOT_LOADED),                  # every slice, but no LOAD_DONE
        (_request(p.CMD_LOAD, bytes(5)), p.STATUS_BAD_LENGTH),     # odd
        (_request(p.CMD_LOAD, bytes(4)), p.STATUS_BAD_LENGTH),     # no slice
        (_request(p.CMD_LOAD, p.encode_load(top - 1, [5, 6])), p.STATUS_BAD_ADDRESS),
        (_request(p.CMD_LOAD, p.encode_load(1 << 24, [5])), p.STATUS_BAD_ADDRESS),
        (chunks[0][:9], p.STATUS_TIMEOUT),                # cut short...
        (chunks[0], p.CMD_LOAD),                          # ...and sent again
        (_request(p.CMD_LOAD_DONE), p.CMD_LOAD_DONE),
        (_request(p.CMD_INFO), p.CMD_INFO),
        *[(request, p.CMD_INFER_LOGITS) for request in infer],
        (chunks[-1], p.CMD_LOAD),                         # a reload clears the flag
        (plain[0], p.STATUS_NOT_LOADED),
        (_request(p.CMD_LOAD_DONE), p.CMD_LOAD_DONE),
        (plain[1], p.CMD_INFER),
    ]
    return [request for request, _ in steps], [status for _, status in steps]
