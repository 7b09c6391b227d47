"""Folding: how many neurons (PE) and inputs (SIMD) each layer handles per cycle.

A layer takes ``ceil(M/PE) * ceil(N/SIMD)`` cycles per image and cannot be
faster than its input stream (``ceil(N / PE_prev)`` beats, ``in_lanes`` for
the first layer). :func:`auto_folding` balances the layers greedily from the
estimates: it repeatedly speeds up the slowest stage by the smallest step that
lowers its cycle count, until the target is met, the LUT budget would be
exceeded or nothing can be sped up.
"""

from golden_model.qnet import QConv2D
from hdl.errors import HardwareGenerationError
from hdl.estimate import accelerator_estimate
from hdl.layer_plan import plan_layers
from hdl.max_pool_plan import plan_pools

__all__ = ["resolve_folding", "auto_folding", "DEFAULT_LUT_BUDGET"]

#: LUT budget of ``folding="auto"`` without a goal: about an iCE40 UP5K's 5280 LUTs.
DEFAULT_LUT_BUDGET = 4000


def resolve_folding(qnet, folding, in_lanes=1, target_cycles=None, lut_budget=None,
                    datapath="signselect", weight_store=None, bram_budget=None,
                    count_ff=False):
    """Turn ``None``, ``"auto"`` or a list into one ``(pe, simd)`` per layer.

    ``"auto"`` sizes the layers with the estimates of ``datapath``.

    The list itself is checked layer by layer in :func:`hdl.layer_plan.plan_layers`.
    """
    if folding is None:
        return [(1, 1)] * len(qnet.layers)
    if isinstance(folding, str):
        if folding != "auto":
            raise HardwareGenerationError(
                f"folding: expected None, 'auto' or a list of (pe, simd), got {folding!r}")
        return auto_folding(qnet, in_lanes=in_lanes, target_cycles=target_cycles,
                            lut_budget=lut_budget, datapath=datapath,
                            weight_store=weight_store, bram_budget=bram_budget,
                            count_ff=count_ff)
    try:
        # Malformed entries are left for plan_layers, which names their layer.
        pairs = [tuple(pair) if isinstance(pair, list | tuple) else pair for pair in folding]
    except TypeError:
        raise HardwareGenerationError(
            f"folding: expected None, 'auto' or a list of (pe, simd), got {folding!r}") from None
    return pairs


def _next_step(value, size):
    """Smallest ``v > value`` with ``ceil(size / v) < ceil(size / value)``, or None."""
    folds = -(-size // value)
    if folds == 1:
        return None
    return -(-size // (folds - 1))


def auto_folding(qnet, in_lanes=1, target_cycles=None, lut_budget=None, datapath="signselect",
                 weight_store=None, start=None, bram_budget=None, count_ff=False):
    """Choose a folding that balances the layers' cycle counts.

    Parameters
    ----------
    qnet : QNet
    in_lanes : int
    target_cycles : int, optional
        Stop once the slowest stage needs at most this many cycles per image.
    lut_budget : int, optional
        Never exceed this many estimated LUTs (default
        :data:`DEFAULT_LUT_BUDGET` when no target is given).
    datapath, weight_store
        As for :func:`hdl.layer_plan.plan_layers`.
    bram_budget : dict, optional
        ``family -> block RAMs`` (e.g. ``{"ice40": 28}``) not to exceed: wider
        folding makes wider, shallower memories, which take more blocks.
    start : list of (int, int), optional
        Folding to start from (default PE = SIMD = 1 everywhere); layers are
        only ever widened from it.
    count_ff : bool
        The budget counts LUTs plus flip-flops: an iCE40 logic cell holds one
        LUT4 and one flip-flop, and a folding within the UP5K's LUTs alone
        can need more logic cells than it has (86 % measured on a 64-32-10
        planned for 40 % of the LUTs, which nextpnr could not place).

    Returns
    -------
    list of (int, int)

    Raises
    ------
    HardwareGenerationError
        ``target_cycles`` or ``lut_budget`` not a positive integer, or a
        ``lut_budget`` given (without ``start``) below the estimate of the
        smallest design, PE = SIMD = 1 everywhere.
    """
    if target_cycles is not None and (isinstance(target_cycles, bool)
                                      or not isinstance(target_cycles, int)
                                      or target_cycles < 1):
        raise HardwareGenerationError(
            f"target_cycles: expected a positive integer, got {target_cycles!r}")
    explicit_budget = lut_budget is not None
    if lut_budget is None and target_cycles is None:
        lut_budget = DEFAULT_LUT_BUDGET
    if lut_budget is not None and (isinstance(lut_budget, bool)
                                   or not isinstance(lut_budget, int) or lut_budget < 1):
        raise HardwareGenerationError(
            f"lut_budget: expected a positive integer, got {lut_budget!r}")

    folding = [[1, 1] for _ in qnet.layers] if start is None else [list(p) for p in start]
    # A max-pool or flatten has no folding of its own: its pair is carried along unused.
    conv = [isinstance(layer, QConv2D) for layer in qnet.layers]

    def evaluate(candidate):
        plans = plan_layers(qnet, [tuple(p) for p in candidate], in_lanes, datapath,
                            weight_store)
        return accelerator_estimate(plans, qnet.n_classes, plan_pools(qnet, plans))

    def widened(candidate, layer, side, size):
        """``candidate`` with ``layer``'s PE (side 0) or SIMD (side 1) one step wider, or
        None. A convolution's PE steps through the divisors of its channels (its output
        map is read by channel position)."""
        value = candidate[layer][side]
        while True:
            value = _next_step(value, size)
            if value is None:
                return None
            if side == 0 and conv[layer] and size % value:
                continue
            wider = [list(pair) for pair in candidate]
            wider[layer][side] = value
            return wider

    def cost(totals):
        return totals["lut"] + (totals["ff"] if count_ff else 0)

    report = evaluate(folding)
    smallest = cost(report["totals"])
    if explicit_budget and start is None and smallest > lut_budget:
        # Nothing narrower than PE = SIMD = 1 exists: refuse now, not after synthesis.
        counted = "LUTs and flip-flops" if count_ff else "LUTs"
        raise HardwareGenerationError(
            f"--lut-budget {lut_budget}: the smallest design of this QNet (PE = SIMD = 1 "
            f"in every layer) needs about {smallest} {counted} (estimate); expected a budget of "
            f"at least {smallest}")
    while target_cycles is None or report["cycles_per_image"] > target_cycles:
        stage, entries = report["bottleneck"], report["layers"]
        # The estimate's stages are the weight layers, then the argmax collector.
        if stage == len(entries):
            last = entries[-1]  # the argmax collector: more logits per beat
            candidate = widened(folding, last["layer"], 0, last["n_out"])
        else:
            entry = entries[stage]
            if entry["input_beats"] >= entry["compute_cycles"]:
                if stage == 0:
                    break  # the pixel stream itself is the limit
                producer = entries[stage - 1]  # must hand on more values per beat
                candidate = widened(folding, producer["layer"], 0, producer["n_out"])
            else:
                layer = entry["layer"]
                candidate = widened(folding, layer, 1, entry["n_in"])
                if candidate is None:
                    candidate = widened(folding, layer, 0, entry["n_out"])
        if candidate is None:
            break
        try:
            new_report = evaluate(candidate)
        except HardwareGenerationError:
            break  # past what the generator builds (lanes, word or memory widths)
        if lut_budget is not None and cost(new_report["totals"]) > lut_budget:
            break
        if bram_budget and any(new_report["totals"]["block_rams"][family] > blocks
                               for family, blocks in bram_budget.items()):
            break
        folding, report = candidate, new_report
    return [tuple(pair) for pair in folding]
