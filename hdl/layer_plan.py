"""Static plan of one layer's hardware: folding, widths, memory images.

Everything the MVU and the estimates need is computed here from the QNet,
before any elaboration, and every limit is checked here: a layer the
generator cannot build raises :class:`~hdl.errors.HardwareGenerationError`
naming the layer and the parameter.

Uneven folding is padded: the weight matrix is extended with zero weights to
``ceil(M / PE) * PE`` rows and ``ceil(N / SIMD) * SIMD`` columns. Padding
columns meet zero inputs (the input regrouper zero-fills the last word), so
they add nothing even for binary layers, whose one-bit weights cannot hold a
zero; padding rows are computed and dropped by the consumer, which ignores
the padding lanes of the last beat.
"""

from dataclasses import dataclass

import numpy as np

from golden_model.qnet import QConv2D, QFlatten, QMaxPool2D, pow2_encode, signed_bits, unsigned_bits
from hdl.errors import HardwareGenerationError
from hdl.pow2_plan import code_width
from hdl.requantize_plan import RequantizeConfig

__all__ = ["LayerPlan", "ValueShape", "plan_layers", "DATAPATHS", "WEIGHT_STORES",
           "MAX_DATAPATH_WIDTH", "MAX_MEMORY_BITS", "MAX_WORD_BITS", "MAX_LANES", "SLICE_BITS",
           "SPRAM_DEPTH", "TRITS_PER_BYTE", "trit_decode_table", "stored_word_bits",
           "MAX_IMAGES"]

#: ``signselect``: the multiplier-free datapath; ``multiply``: the int8 baseline.
DATAPATHS = ("signselect", "multiply")
#: Where a layer's weights live. ``rom``: a memory initialised by the bitstream
#: (block RAM or logic); ``ram``: an uninitialised memory written through the
#: accelerator's weight-load port (portable); ``spram``: the same, built from
#: iCE40 UP5K ``SB_SPRAM256KA`` blocks (16K x 16 bits each, never preloaded).
WEIGHT_STORES = ("rom", "ram", "spram")
#: Bits of one weight-load write: a slice of a weight word (an SPRAM's width).
SLICE_BITS = 16
#: Words of one ``SB_SPRAM256KA``.
SPRAM_DEPTH = 16384
#: Ternary weights per byte of a base-3 packed weight word (3**5 = 243 <= 256).
TRITS_PER_BYTE = 5


def stored_word_bits(lanes, weight_bits, loadable):
    """Bits of a stored word of ``lanes`` weights: loadable ternary weights are packed
    five to a byte (see :attr:`LayerPlan.weight_packing`), others take ``weight_bits``."""
    if loadable and weight_bits == 2:
        return 8 * -(-lanes // TRITS_PER_BYTE)
    return lanes * weight_bits


def trit_decode_table():
    """Byte -> the five 2-bit weight codes (bit 0 nonzero, bit 1 negative) it packs.

    Digit ``i`` of the byte (``byte // 3**i % 3``) is lane ``i``: 0 is a zero
    weight, 1 is +1, 2 is -1. Bytes 243..255 never occur and decode to zeros.
    """
    code = {0: 0b00, 1: 0b01, 2: 0b11}
    table = []
    for byte in range(256):
        value = 0
        if byte < 3 ** TRITS_PER_BYTE:
            for i in range(TRITS_PER_BYTE):
                value |= code[byte // 3 ** i % 3] << (2 * i)
        table.append(value)
    return table
#: Widest accumulator/shifter the generator builds.
MAX_DATAPATH_WIDTH = 64
#: Largest memory (weights, parameters or input buffer) of one layer, in bits.
MAX_MEMORY_BITS = 1 << 24
#: Widest memory word (PE * SIMD weights), in bits.
MAX_WORD_BITS = 1 << 14
#: Most PE * SIMD lanes of one layer.
MAX_LANES = 4096
#: Weight width of the multiplier baseline.
BASELINE_WEIGHT_BITS = 8
#: Most images in flight per layer (each one more tree, accumulator and buffer slot per lane).
MAX_IMAGES = 8


def _fail(k, parameter, expected, got):
    raise HardwareGenerationError(f"layer {k}: {parameter}: expected {expected}, got {got}")


def _pack(fields, width):
    """One integer per row: field ``i`` of the row at bits ``[i*width, (i+1)*width)``."""
    fields = np.asarray(fields, dtype=np.int64)
    bits = (fields[:, :, None] >> np.arange(width)) & 1
    packed = np.packbits(bits.reshape(len(fields), -1).astype(np.uint8), axis=1,
                         bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def _pack_base3(weights):
    """One integer per row of ternary weights: byte ``b`` holds lanes ``5b .. 5b+4``."""
    rows, lanes = weights.shape
    n_bytes = -(-lanes // TRITS_PER_BYTE)
    digits = np.zeros((rows, n_bytes * TRITS_PER_BYTE), dtype=np.int64)
    digits[:, :lanes] = np.where(weights < 0, 2, weights)
    powers = 3 ** np.arange(TRITS_PER_BYTE)
    packed = (digits.reshape(rows, n_bytes, TRITS_PER_BYTE) * powers).sum(axis=2)
    return [int.from_bytes(row.astype(np.uint8).tobytes(), "little") for row in packed]


def _twos(value, width):
    return int(value) & ((1 << width) - 1)


@dataclass(frozen=True)
class ValueShape:
    """Width and signedness of a value in the datapath (the components make it a shape)."""

    width: int
    signed: bool = False


@dataclass(frozen=True)
class LayerPlan:
    """The hardware numbers of one layer (see the module docstring).

    Members
    -------
    index, pe, simd, in_lanes : int
        Layer index, folding, and elements per beat of the incoming stream.
    n_in, n_out, input_folds, neuron_folds : int
        ``N``, ``M``, ``F = ceil(N/SIMD)``, ``NF = ceil(M/PE)``.
    in_pow2, in_e_max, in_shape, element_width :
        Incoming value code: plain values of ``in_shape`` or pow2 codes
        (``in_shape`` then the code's raw bits).
    leaf_shape : ValueShape
        Shape of the adder tree's input value (the pow2 magnitude for pow2 input).
    weight_bits, acc_width, out_shape, out_element_width, last, datapath
    requantize : RequantizeConfig
    weight_words, param_words : list of int
        Memory images (one int per word).
    param_fields : dict
        ``name -> (offset, width)`` of each PE lane's parameters in a param word.
    images : int
        Images in flight: each weight word read is used for this many images,
        gathered into one group (see :mod:`hdl.mvu`). 1 is one image at a time.
    """

    index: int
    pe: int
    simd: int
    in_lanes: int
    n_in: int
    n_out: int
    input_folds: int
    neuron_folds: int
    in_pow2: bool
    in_e_max: int
    in_shape: object
    element_width: int
    leaf_shape: object
    weight_bits: int
    acc_width: int
    out_shape: object
    out_element_width: int
    last: bool
    datapath: str
    requantize: RequantizeConfig
    weight_words: list
    param_words: list
    param_fields: dict
    weight_store: str = "rom"
    window: object = None
    images: int = 1

    @property
    def vectors(self):
        """Input vectors per image: 1 for a dense layer, one per output pixel for a
        convolution (``window``: its :class:`~hdl.sliding_window_plan.WindowGeometry`)."""
        if self.window is None:
            return 1
        return self.window.out_height * self.window.out_width

    @property
    def lanes(self):
        return self.pe * self.simd

    @property
    def loadable(self):
        """Whether the weights are written at run time (``ram``/``spram``) rather than preloaded."""
        return self.weight_store != "rom"

    @property
    def weight_packing(self):
        """``"base3"`` for a loadable ternary layer, else ``"plain"``.

        Loadable weights are read from SPRAM, whose 16-bit port limits the
        weights per cycle; five ternary weights per byte (1.6 bits each
        instead of 2) give a quarter more of them. A decode table per byte
        (:func:`trit_decode_table`) turns them back into 2-bit codes, one
        pipeline stage later.
        """
        return "base3" if self.loadable and self.weight_bits == 2 else "plain"

    @property
    def packed_bytes(self):
        """Bytes of a base-3 packed weight word (0 for plain words)."""
        return -(-self.lanes // TRITS_PER_BYTE) if self.weight_packing == "base3" else 0

    @property
    def weight_word_bits(self):
        """Bits of one stored weight word (packed for base-3 layers)."""
        return stored_word_bits(self.lanes, self.weight_bits, self.loadable)

    @property
    def weight_depth(self):
        """Words of the weight memory: ``ceil(M/PE) * ceil(N/SIMD)``."""
        return len(self.weight_words)

    @property
    def weight_slices(self):
        """16-bit slices of one weight word (the weight-load granularity)."""
        return -(-self.weight_word_bits // SLICE_BITS)

    @property
    def spram_banks(self):
        """``SB_SPRAM256KA`` blocks stacked in depth (0 unless stored in SPRAM)."""
        return -(-self.weight_depth // SPRAM_DEPTH) if self.weight_store == "spram" else 0

    @property
    def spram_blocks(self):
        """``SB_SPRAM256KA`` blocks this layer uses: slices side by side, banks in depth."""
        return self.weight_slices * self.spram_banks

    @property
    def compute_cycles(self):
        """Cycles of the compute loop per group of ``images`` (one image for
        ``images == 1``): ``ceil(M/PE) * ceil(N/SIMD)``."""
        return self.neuron_folds * self.input_folds

    @property
    def param_width(self):
        return sum(width for _, width in self.param_fields.values()) * self.pe

    @property
    def buffer_bits(self):
        return 2 * self.input_folds * self.images * self.simd * self.element_width

    @property
    def weight_memory_bits(self):
        return len(self.weight_words) * self.weight_word_bits

    @property
    def param_memory_bits(self):
        return len(self.param_words) * self.param_width


def _weight_matrix(layer):
    """The weights as ``(n_out, n_in)`` rows (int64); a convolution's in ``(dy, dx, c)``
    order, the order of its sliding window's vectors."""
    return layer.matrix if isinstance(layer, QConv2D) else layer.weights.astype(np.int64)


def _producer(qnet, k):
    """The requantizing layer whose values layer ``k`` receives (None for the pixels):
    a max-pool or flatten hands on its producer's values and code."""
    for layer in reversed(qnet.layers[:k]):
        if not isinstance(layer, QMaxPool2D | QFlatten):
            return layer
    return None


def _element(qnet, k):
    """Code of the values layer ``k`` receives: (pow2, e_max, shape, width)."""
    widths = qnet.widths[k]
    producer = _producer(qnet, k)
    if producer is not None and producer.pow2:
        e_max = producer.e_max
        return True, e_max, ValueShape(code_width(e_max)), code_width(e_max)
    return False, 0, ValueShape(widths.in_bits, bool(widths.in_signed)), widths.in_bits


def _window(layer, k, in_shape, in_pow2, in_e_max, lanes):
    """The sliding-window geometry of a convolution (None for a dense layer); the
    padding as the raw element bits the layer receives."""
    if not isinstance(layer, QConv2D):
        return None
    from hdl.sliding_window_plan import WindowGeometry

    channels = layer.in_shape[2]
    if channels % lanes:
        _fail(k, "in_lanes", f"a divisor of its {channels} input channels (a beat holds "
              "channels of one pixel)", lanes)
    pad = layer.pad_value.astype(np.int64)
    if in_pow2:
        sign, exponent = pow2_encode(pad, in_e_max)
        pad = (sign != 0) | ((sign < 0) << 1) | (exponent << 2)
    h, w, _ = layer.in_shape
    return WindowGeometry(int(h), int(w), int(channels), layer.kernel, int(layer.stride),
                          layer.padding, tuple(int(v) for v in pad & ((1 << in_shape.width) - 1)),
                          in_shape.width, int(lanes))


def _check_images(k, images, input_folds, layer):
    """Images in flight must be a small integer; a group's B results leave the
    accumulators one per cycle, so a fold must last at least B cycles."""
    if isinstance(images, bool) or not isinstance(images, int | np.integer) \
            or not 1 <= images <= MAX_IMAGES:
        _fail(k, "images", f"an integer in [1, {MAX_IMAGES}]", repr(images))
    if images > 1 and isinstance(layer, QConv2D):
        _fail(k, "images", "1 for a convolution (images in flight are for dense layers)",
              images)
    if images > input_folds:
        _fail(k, "images", f"at most its ceil(n_in/simd) = {input_folds} input folds", images)


def plan_layer(qnet, k, pe, simd, in_lanes, datapath="signselect", weight_store="rom",
               images=1):
    """Plan layer ``k`` of ``qnet`` with the given folding and images in flight;
    validates everything."""
    layer, widths = qnet.layers[k], qnet.widths[k]
    matrix = _weight_matrix(layer)
    m, n = matrix.shape
    for name, value, upper in (("pe", pe, m), ("simd", simd, n)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            _fail(k, name, "an integer", repr(value))
        if not 1 <= value <= upper:
            what = "n_out" if name == "pe" else "n_in"
            _fail(k, name, f"1 <= {name} <= {what} = {upper}", value)
    pe, simd = int(pe), int(simd)
    if pe * simd > MAX_LANES:
        _fail(k, "pe*simd", f"at most {MAX_LANES} lanes", pe * simd)
    if datapath not in DATAPATHS:
        raise HardwareGenerationError(f"datapath: expected one of {DATAPATHS}, got {datapath!r}")
    if weight_store not in WEIGHT_STORES:
        _fail(k, "weight_store", f"one of {WEIGHT_STORES}", repr(weight_store))
    if weight_store != "rom" and datapath != "signselect":
        _fail(k, "weight_store", "'rom' for the multiplier baseline", repr(weight_store))
    last = k == len(qnet.layers) - 1
    folds_in, folds_out = -(-n // simd), -(-m // pe)
    _check_images(k, images, folds_in, layer)
    images = int(images)
    in_pow2, in_e_max, in_shape, element_width = _element(qnet, k)

    lo, hi = widths.in_min, widths.in_max
    magnitude = max(abs(lo), abs(hi))
    leaf_shape = ValueShape(unsigned_bits(magnitude)) if in_pow2 else in_shape

    # The accumulator holds every partial sum, over any subset of the terms.
    w = matrix
    if datapath == "multiply":
        # Sized for any int8 weight matrix of this shape, not for the ternary values.
        reach = n * (1 << (BASELINE_WEIGHT_BITS - 1)) * magnitude
        lower, upper = -reach, reach
    else:
        t_min, t_max = np.minimum(w * lo, w * hi), np.maximum(w * lo, w * hi)
        lower = np.minimum(t_min, 0).sum(axis=1).min()
        upper = np.maximum(t_max, 0).sum(axis=1).max()
    acc_width = signed_bits(min(lower, widths.acc_min) - 1, max(upper, widths.acc_max) + 1)

    bias = layer.bias.astype(np.int64)
    shift = layer.shift.astype(np.int64)
    lead = max(0, -int(shift.min()))
    amount = shift + lead
    threshold = np.minimum(layer.threshold.astype(np.int64), 1 << (widths.z_bits - 1))
    needs_threshold = layer.activation in ("trec", "tlin") and not last
    bias_width = signed_bits(bias.min(), bias.max())
    amount_width = max(1, int(amount.max()).bit_length())
    threshold_width = unsigned_bits(threshold.max()) if needs_threshold else 0
    config = RequantizeConfig(
        acc_width=acc_width, bias_width=bias_width, threshold_width=threshold_width,
        sum_width=widths.sum_bits, lead=lead, max_amount=int(amount.max()),
        z_width=widths.z_bits, activation=None if last else layer.activation,
        out_bits=layer.out_bits, pow2=bool(layer.pow2) and not last, e_max=layer.e_max)
    for name, value in (("accumulator width", acc_width + 2),
                        ("shifter width", widths.sum_bits + lead)):
        if value > MAX_DATAPATH_WIDTH:
            _fail(k, name, f"at most {MAX_DATAPATH_WIDTH} bits", value)

    if last:
        out_shape = ValueShape(widths.z_bits, True)
    else:
        _, _, out_shape, _ = _element(qnet, k + 1)
    out_element_width = out_shape.width

    # Weight memory: word (nf, f) holds lane (p, s) = W[nf*PE + p, f*SIMD + s].
    if datapath == "multiply":
        weight_bits = BASELINE_WEIGHT_BITS
    else:
        weight_bits = 2 if layer.weight_mode == "ternary" else 1
    word_bits = pe * simd * weight_bits
    if word_bits > MAX_WORD_BITS:
        _fail(k, "weight memory word", f"at most {MAX_WORD_BITS} bits (PE*SIMD*{weight_bits})",
              word_bits)
    memory_bits = {
        "weight memory": folds_out * folds_in * word_bits,
        "input buffer": 2 * folds_in * images * simd * element_width,
    }
    for name, bits in memory_bits.items():
        if bits > MAX_MEMORY_BITS:
            _fail(k, name, f"at most {MAX_MEMORY_BITS} bits", bits)
    padded = np.zeros((folds_out * pe, folds_in * simd), dtype=np.int64)
    padded[:m, :n] = matrix
    if datapath == "multiply":
        codes = padded & 0xFF
    elif weight_bits == 2:
        codes = (padded != 0).astype(np.int64) | ((padded < 0).astype(np.int64) << 1)
    else:
        codes = (padded < 0).astype(np.int64)
    # (NF*PE, F*SIMD) -> (NF, F, PE, SIMD): one word per (nf, f), lane p*SIMD + s.
    tiles = codes.reshape(folds_out, pe, folds_in, simd).transpose(0, 2, 1, 3)
    tiles = tiles.reshape(folds_out * folds_in, pe * simd)
    if weight_store != "rom" and weight_bits == 2:
        weight_words = _pack_base3(padded.reshape(folds_out, pe, folds_in, simd)
                                   .transpose(0, 2, 1, 3).reshape(folds_out * folds_in, -1))
    else:
        weight_words = _pack(tiles, weight_bits)

    fields = {"bias": bias_width, "amount": amount_width}
    if needs_threshold:
        fields["threshold"] = threshold_width
    offsets, offset = {}, 0
    for name, width in fields.items():
        offsets[name] = (offset, width)
        offset += width
    lane_width = offset
    values = {"bias": bias, "amount": amount, "threshold": threshold}
    param_words = []
    for nf in range(folds_out):
        word = 0
        for p in range(pe):
            j = nf * pe + p
            if j >= m:
                continue
            for name, (off, width) in offsets.items():
                word |= _twos(values[name][j], width) << (p * lane_width + off)
        param_words.append(word)

    plan = LayerPlan(
        index=k, pe=pe, simd=simd, in_lanes=int(in_lanes), n_in=n, n_out=m,
        input_folds=folds_in, neuron_folds=folds_out, in_pow2=in_pow2, in_e_max=in_e_max,
        in_shape=in_shape, element_width=element_width, leaf_shape=leaf_shape,
        weight_bits=weight_bits, acc_width=acc_width, out_shape=out_shape,
        out_element_width=out_element_width, last=last, datapath=datapath,
        requantize=config, weight_words=weight_words, param_words=param_words,
        param_fields=offsets, weight_store=weight_store, window=_window(layer, k, in_shape,
                                                                        in_pow2, in_e_max,
                                                                        in_lanes),
        images=images)
    if plan.param_memory_bits > MAX_MEMORY_BITS:
        _fail(k, "parameter memory", f"at most {MAX_MEMORY_BITS} bits", plan.param_memory_bits)
    return plan


def resolve_weight_stores(qnet, weight_store):
    """``None`` (all ``rom``), one store name for every layer, or one per layer."""
    n = len(qnet.layers)
    if weight_store is None:
        return ["rom"] * n
    if isinstance(weight_store, str):
        stores = [weight_store] * n
    else:
        try:
            stores = list(weight_store)
        except TypeError:
            stores = None
        if stores is None or len(stores) != n:
            raise HardwareGenerationError(
                f"weight_store: expected one of {WEIGHT_STORES} or a list of {n}, one per "
                f"layer, got {weight_store!r}")
    for k, store in enumerate(stores):
        if store not in WEIGHT_STORES:
            _fail(k, "weight_store", f"one of {WEIGHT_STORES}", repr(store))
    return stores


def plan_layers(qnet, folding, in_lanes=1, datapath="signselect", weight_store=None, images=1):
    """Plan every layer; ``folding`` is a resolved list of ``(pe, simd)``.

    ``images`` is the number of images in flight of every dense layer
    (:attr:`LayerPlan.images`).

    ``weight_store`` is None (every layer ``rom``), one of
    :data:`WEIGHT_STORES` for every layer, or a list with one per layer.

    Raises
    ------
    HardwareGenerationError
        For a folding list of the wrong length or shape, ``in_lanes`` out of
        range, a bad weight store, or any layer the generator cannot build.
    """
    if isinstance(in_lanes, bool) or not isinstance(in_lanes, int | np.integer) \
            or not 1 <= in_lanes <= qnet.input.n_inputs:
        raise HardwareGenerationError(
            f"in_lanes: expected an integer in [1, n_inputs = {qnet.input.n_inputs}], "
            f"got {in_lanes!r}")
    if len(folding) != len(qnet.layers):
        raise HardwareGenerationError(
            f"folding: expected {len(qnet.layers)} (pe, simd) pairs, one per layer, "
            f"got {len(folding)}")
    stores = resolve_weight_stores(qnet, weight_store)
    plans, lanes = [], int(in_lanes)
    for k, pair in enumerate(folding):
        if isinstance(qnet.layers[k], QMaxPool2D | QFlatten):
            continue  # a stream stage without weights: its folding entry is not used
        try:
            pe, simd = pair
        except (TypeError, ValueError):
            _fail(k, "folding", "a (pe, simd) pair", repr(pair))
        plans.append(plan_layer(qnet, k, pe, simd, lanes, datapath, stores[k], images))
        if isinstance(qnet.layers[k], QConv2D) and plans[-1].n_out % plans[-1].pe:
            # Its output map is read by channel position: no padding lanes inside a pixel.
            _fail(k, "pe", f"a divisor of its {plans[-1].n_out} output channels", plans[-1].pe)
        lanes = plans[-1].pe
    return plans
