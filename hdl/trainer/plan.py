"""The trainer's plan: what the hardware trainer of a QTrain state is made of.

Pure data (no Amaranth): the components in :mod:`hdl.trainer` elaborate it.
A layer's shadow weights live in one memory of ``row_groups * column_groups``
words, each word one PE x SIMD tile (row group ``rg``, column group ``cg`` at
address ``rg * column_groups + cg``; lane ``(p, s)`` at bits
``[(p * simd + s) * shadow_bits, ...)``, two's complement), like the inference
weight memory. Biases live in a second memory, one word of ``pe`` biases per
row group. Widths come from :func:`golden_model.qtrain.widths.compute_widths`.

The schedule is one layer at a time, one tile per cycle: random words, then
forward (tiles, then one unit per cycle for the requantizer, error and argmax),
backward (tiles, then one input per cycle), update (one input per cycle for the
power-of-two rounding, then read-modify-write tiles). :attr:`TrainerPlan.compute_cycles`
counts it exactly.
"""

from dataclasses import dataclass

import numpy as np

from golden_model.qnet import code_range
from golden_model.qtrain.random_bits import mix
from hdl.errors import HardwareGenerationError

__all__ = ["TrainerPlanError", "TrainerLayerPlan", "TrainerPlan", "plan_trainer",
           "check_samples", "shadow_words", "shadow_from_words", "bias_words",
           "bias_from_words", "MIX_LATENCY", "SPRAM_DEPTH", "SPRAM_WIDTH", "SPRAM_BLOCKS"]

#: Words and bits of one iCE40 SPRAM cell, and the cells of the UP5K.
SPRAM_DEPTH = 16384
SPRAM_WIDTH = 16
SPRAM_BLOCKS = 4

#: Cycles from a word's issue to the random-word unit to its ``mix`` (two
#: rounds, each in two pipeline stages: three registers, the last half
#: combinational).
MIX_LATENCY = 3


class TrainerPlanError(HardwareGenerationError):
    """A QTrain state or folding the hardware trainer cannot build."""


@dataclass(frozen=True)
class TrainerLayerPlan:
    """One layer of the trainer: folding, memories, fixed codes and widths.

    ``bits`` maps the names of :data:`golden_model.qtrain.widths.NAMES` to
    two's-complement widths; ``ranges`` to their inclusive bounds.
    """

    index: int
    n_in: int
    n_out: int
    pe: int
    simd: int
    last: bool
    shift: tuple
    threshold: tuple
    activation: str
    out_bits: int
    pow2: bool
    e_max: int
    eta: int
    eta_bias: int
    backward_shift: int
    shadow_bits: int
    bias_bits: int
    ranges: dict
    bits: dict
    #: The shadows in iCE40 SPRAM (``SB_SPRAM256KA``, single port) instead of block RAM.
    spram: bool = False

    @property
    def spram_blocks(self):
        """SPRAM cells side by side for one shadow word (16 bits each), 0 in block RAM."""
        return -(-self.shadow_word_bits // SPRAM_WIDTH) if self.spram else 0

    @property
    def update_tile_cycles(self):
        """Cycles of the update's read-modify-write tiles: one a tile (a second port
        writes while the next is read), two on the single-port SPRAM; one of latency."""
        return 2 * self.depth if self.spram else self.depth + 1

    @property
    def row_groups(self):
        return self.n_out // self.pe

    @property
    def column_groups(self):
        return self.n_in // self.simd

    @property
    def depth(self):
        """Words of the shadow memory (tiles)."""
        return self.row_groups * self.column_groups

    @property
    def shadow_word_bits(self):
        return self.pe * self.simd * self.shadow_bits

    @property
    def bias_word_bits(self):
        return self.pe * self.bias_bits

    @property
    def saturation(self):
        """Inclusive range of the saturated activation (hidden layers)."""
        return code_range(self.out_bits, self.activation not in ("relu", "trec"))

    @property
    def input_exponent_max(self):
        """Largest exponent of the update's power-of-two input rounding."""
        return self.ranges["exponent"][1]


@dataclass(frozen=True)
class TrainerPlan:
    """The whole trainer: hyper-parameters that the hardware fixes, and the layers.

    ``seed_mix`` is ``mix(seed)``, the constant the per-sample key starts from.
    """

    n_inputs: int
    input_bits: int
    weight_mode: str
    sampling: str
    input_rounding: str
    w0_log2: int
    bias_log2: int
    target: int
    delta_bits: int
    seed: int
    seed_mix: int
    layers: tuple

    @property
    def n_classes(self):
        return self.layers[-1].n_out

    @property
    def delta_limit(self):
        return (1 << (self.delta_bits - 1)) - 1

    @property
    def mix_jobs(self):
        """``mix`` evaluations per sample: the step key, then per layer its key,
        its row words (``n_out + 2``) and column words (``n_in + 1``)."""
        return 1 + sum(1 + (lp.n_out + 2) + (lp.n_in + 1) for lp in self.layers)

    @property
    def mix_cycles(self):
        """Cycles of the random words: ``MIX_LATENCY + 1`` per key (the words
        depend on it), one per row and column word (pipelined), then
        ``MIX_LATENCY - 1`` for the last words to leave the pipeline (the last
        is stored in the first cycle of the forward)."""
        return (MIX_LATENCY + 1) * (1 + len(self.layers)) + MIX_LATENCY - 1 \
            + sum((lp.n_out + 2) + (lp.n_in + 1) for lp in self.layers)

    @property
    def compute_cycles(self):
        """Cycles from the accepted label to ready for the next sample (output taken at once).

        :attr:`mix_cycles` for the random words; a tile phase is ``depth + 1``
        (one cycle of memory latency); serial phases one cycle per element; one
        cycle to advance the step counter.
        """
        cycles = self.mix_cycles + 1
        for lp in self.layers:
            cycles += lp.depth + 1 + lp.n_out                 # forward
            cycles += lp.n_in + lp.update_tile_cycles         # update
            if lp.index:
                cycles += lp.depth + 1 + lp.n_in              # backward
        return cycles

    @property
    def cycles_per_sample(self):
        """Compute cycles plus the input beats (one pixel each, then the label)."""
        return self.compute_cycles + self.n_inputs + 1

    @property
    def eval_compute_cycles(self):
        """Cycles of an evaluation (forward only) from the accepted label to ready:
        the forward of every layer, then one cycle back to idle (no random words,
        no backward, no update, no step)."""
        return sum(lp.depth + 1 + lp.n_out for lp in self.layers) + 1

    @property
    def eval_cycles_per_sample(self):
        """:attr:`eval_compute_cycles` plus the input beats."""
        return self.eval_compute_cycles + self.n_inputs + 1

    def random_bit_positions(self, layer_plan):
        """Bit positions of a row or column random word that a layer's lanes read.

        The per-sample row and column words are stored with only these bits
        (block RAM width is scarce): the stochastic weight sample reads the low
        ``w0_log2 + 1``, the backward rounding the low ``backward_shift``, the
        stochastic input rounding the low ``input`` width plus one, and the
        update's rounding fields ``eta`` and ``eta_bias`` bits from bit 16.
        """
        lp = layer_plan
        low = lp.backward_shift
        if self.sampling == "stochastic":
            low = max(low, self.w0_log2 + 1)
        if self.input_rounding == "stochastic":
            low = max(low, lp.bits["input"] + 1)
        high = max(lp.eta, lp.eta_bias)
        positions = set(range(min(low, 32))) | set(range(16, min(16 + high, 32)))
        return tuple(sorted(positions)) or (0,)

    @property
    def memory_bits(self):
        """Bits of shadow-weight and bias memory."""
        return sum(lp.depth * lp.shadow_word_bits + lp.row_groups * lp.bias_word_bits
                   for lp in self.layers)


def _check_folding(state, folding):
    n = len(state.layers)
    if not isinstance(folding, list | tuple) or len(folding) != n:
        raise TrainerPlanError(f"folding: expected {n} (PE, SIMD) pairs (one per layer), "
                               f"got {folding!r}")
    pairs = []
    for k, (pair, layer) in enumerate(zip(folding, state.layers, strict=True)):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise TrainerPlanError(f"folding[{k}]: expected a (PE, SIMD) pair, got {pair!r}")
        pe, simd = pair
        for name, value, size in (("PE", pe, layer.n_out), ("SIMD", simd, layer.n_in)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) \
                    or value < 1 or size % int(value):
                raise TrainerPlanError(f"folding[{k}] {name}: expected a positive divisor "
                                       f"of {size}, got {value!r}")
        pairs.append((int(pe), int(simd)))
    return pairs


def _check_spram(pairs, state, spram):
    layers = set()
    for k in spram:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) \
                or not 0 <= k < len(state.layers):
            raise TrainerPlanError(f"spram: expected layer indices below "
                                   f"{len(state.layers)}, got {k!r}")
        layers.add(int(k))
    blocks = 0
    for k in sorted(layers):
        pe, simd = pairs[k]
        layer = state.layers[k]
        depth = (layer.n_out // pe) * (layer.n_in // simd)
        if depth > SPRAM_DEPTH:
            raise TrainerPlanError(f"spram: layer {k}'s shadows are {depth} words at folding "
                                   f"{(pe, simd)}; an SPRAM holds {SPRAM_DEPTH}")
        blocks += -(-pe * simd * (state.config.w0_log2 + 2) // SPRAM_WIDTH)
    if blocks > SPRAM_BLOCKS:
        raise TrainerPlanError(f"spram: the shadows of layers {sorted(layers)} need {blocks} "
                               f"SPRAM cells side by side; the UP5K has {SPRAM_BLOCKS}")
    return layers


def plan_trainer(state, folding, spram=()):
    """The :class:`TrainerPlan` of a QTrain state with a folding.

    Parameters
    ----------
    state : golden_model.qtrain.QTrainState
        Its shadows and biases are not part of the plan (they are loaded
        through the state port); its update shifts are taken at its epoch.
    folding : sequence of (int, int)
        Per layer ``(PE, SIMD)``; PE divides the layer's outputs, SIMD its inputs.
    spram : iterable of int
        Layers whose shadows go to iCE40 SPRAM (up to :data:`SPRAM_DEPTH` words,
        :data:`SPRAM_BLOCKS` cells of 16 bits side by side over all of them);
        their update takes two cycles a tile.

    Raises
    ------
    TrainerPlanError
        Naming the layer and what was expected, before any elaboration.
    """
    pairs = _check_folding(state, folding)
    in_spram = _check_spram(pairs, state, spram)
    config = state.config
    layers = []
    last = len(state.layers) - 1
    for k, (layer, (pe, simd)) in enumerate(zip(state.layers, pairs, strict=True)):
        widths = state.widths[k]
        eta, eta_bias = state.eta(k)
        layers.append(TrainerLayerPlan(
            index=k, n_in=layer.n_in, n_out=layer.n_out, pe=pe, simd=simd, last=k == last,
            shift=tuple(int(v) for v in layer.shift),
            threshold=tuple(int(v) for v in layer.threshold),
            activation=layer.activation, out_bits=int(layer.out_bits), pow2=bool(layer.pow2),
            e_max=int(layer.e_max), eta=int(eta), eta_bias=int(eta_bias),
            backward_shift=int(config.backward_shift[k]),
            shadow_bits=config.w0_log2 + 2, bias_bits=config.bias_log2 + 2,
            ranges=dict(widths.ranges),
            bits={name: widths.bits(name) for name in widths.ranges}, spram=k in in_spram))
    return TrainerPlan(
        n_inputs=state.input.n_inputs, input_bits=state.input.bits,
        weight_mode=config.weight_mode, sampling=config.sampling,
        input_rounding=config.input_rounding, w0_log2=config.w0_log2,
        bias_log2=config.bias_log2, target=config.target, delta_bits=config.delta_bits,
        seed=config.seed, seed_mix=int(mix(config.seed)), layers=tuple(layers))


def _pack(values, bits):
    word = 0
    for lane, value in enumerate(values):
        word |= (int(value) & ((1 << bits) - 1)) << (lane * bits)
    return word


def _unpack(word, lanes, bits):
    values = []
    for lane in range(lanes):
        raw = (int(word) >> (lane * bits)) & ((1 << bits) - 1)
        values.append(raw - (1 << bits) if raw >> (bits - 1) else raw)
    return values


def shadow_words(layer_plan, shadow):
    """The shadow memory image (one int per address) of an ``n_out x n_in`` array."""
    lp, shadow = layer_plan, np.asarray(shadow)
    return [_pack(shadow[rg * lp.pe:(rg + 1) * lp.pe,
                         cg * lp.simd:(cg + 1) * lp.simd].reshape(-1), lp.shadow_bits)
            for rg in range(lp.row_groups) for cg in range(lp.column_groups)]


def shadow_from_words(layer_plan, words):
    """Inverse of :func:`shadow_words`: the ``n_out x n_in`` int64 array."""
    lp = layer_plan
    out = np.zeros((lp.n_out, lp.n_in), dtype=np.int64)
    for address, word in enumerate(words):
        rg, cg = divmod(address, lp.column_groups)
        tile = np.array(_unpack(word, lp.pe * lp.simd, lp.shadow_bits)).reshape(lp.pe, lp.simd)
        out[rg * lp.pe:(rg + 1) * lp.pe, cg * lp.simd:(cg + 1) * lp.simd] = tile
    return out


def bias_words(layer_plan, bias):
    """The bias memory image: one word of ``pe`` biases per row group."""
    lp, bias = layer_plan, np.asarray(bias)
    return [_pack(bias[rg * lp.pe:(rg + 1) * lp.pe], lp.bias_bits)
            for rg in range(lp.row_groups)]


def bias_from_words(layer_plan, words):
    """Inverse of :func:`bias_words`."""
    lp = layer_plan
    return np.array([v for word in words for v in _unpack(word, lp.pe, lp.bias_bits)],
                    dtype=np.int64)



def check_samples(plan, images, labels):
    """Check samples for the trainer's input stream before any simulation.

    Returns
    -------
    images, labels : ndarray of int64

    Raises
    ------
    TrainerPlanError
        Naming what is wrong: the shapes, a pixel outside ``[0, 2**input_bits)``
        (the stream carries ``input_bits``), or a label outside the classes.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 2 or images.shape[1] != plan.n_inputs \
            or labels.shape != (images.shape[0],):
        raise TrainerPlanError(f"samples: expected images of shape (n, {plan.n_inputs}) and "
                               f"n labels, got {images.shape} and {labels.shape}")
    for name, values, hi in (("images", images, 1 << plan.input_bits),
                             ("labels", labels, plan.n_classes)):
        if values.size and (not np.issubdtype(values.dtype, np.integer)
                            or values.min() < 0 or values.max() >= hi):
            raise TrainerPlanError(f"samples: expected {name} as integers in [0, {hi}), got "
                                   f"{values.dtype} in [{values.min()}, {values.max()}]")
    return images.astype(np.int64), labels.astype(np.int64)
