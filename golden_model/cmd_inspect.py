"""``mulfree inspect``: a QNet file's layers, widths and costs.

Per layer: shape, weight mode and sparsity, activation, widths, shifts, the
sign-select operations per image ("MACs", none of them a multiplication) and
the bits of weight memory; then the totals.
"""

import json
import math

import numpy as np

#: Bits that store one weight: a trit needs two, a sign one.
WEIGHT_BITS = {"ternary": 2, "binary": 1}


def configure(parser):
    parser.add_argument("qnet", help="QNet file (.qnet.npz)")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")


def escaped(text):
    """``text`` safe for a terminal: control characters, escape sequences and other
    unprintable characters (and the backslash itself) shown as Python escapes (``\\x1b``)."""
    return "".join(ch if ch.isprintable() and ch != "\\" else ch.encode("unicode_escape").decode()
                   for ch in str(text))


def layer_costs(qnet):
    """One dict per layer with its shape, sparsity, widths and costs.

    Keys: ``index, kind`` (dense, conv2d, maxpool2d, flatten), ``n_in, n_out``
    (values in and out per image), ``weight_mode, activation, out_bits, pow2,
    e_max, zeros`` (fraction of zero weights), ``macs`` (weight positions
    visited per image, each an add, subtract or skip: ``n_in * n_out`` for a
    dense layer, ``H_out * W_out * C_out * k * k * C_in`` for a convolution),
    ``nonzero`` (adds and subtracts actually performed), ``weight_bits``,
    ``shift_min, shift_max, threshold_max``, the widths ``in_bits, acc_bits,
    sum_bits, z_bits``, and for the layers on maps ``in_shape, out_shape``
    and (convolutions) ``kernel, stride, padding, pad_value``.
    """
    from .qnet import QConv2D, QLayer

    rows = []
    last = len(qnet.layers) - 1
    for k, (layer, widths) in enumerate(zip(qnet.layers, qnet.widths, strict=True)):
        row = {"index": k, "in_bits": widths.in_bits, "in_signed": widths.in_signed,
               "acc_bits": widths.acc_bits, "sum_bits": widths.sum_bits,
               "z_bits": widths.z_bits}
        if not isinstance(layer, QLayer):
            row.update(in_shape=list(layer.in_shape), out_shape=list(layer.out_shape),
                       n_in=math.prod(layer.in_shape), n_out=math.prod(layer.out_shape))
        if isinstance(layer, QLayer | QConv2D):
            weights = layer.weights
            positions = 1 if isinstance(layer, QLayer) else math.prod(layer.out_shape[:2])
            row.update({
                "kind": "dense" if isinstance(layer, QLayer) else "conv2d",
                "weight_mode": layer.weight_mode,
                "activation": "logits" if k == last else layer.activation,
                "out_bits": None if k == last else int(layer.out_bits),
                "pow2": bool(layer.pow2), "e_max": int(layer.e_max) if layer.pow2 else None,
                "zeros": float(np.mean(weights == 0)) if weights.size else 0.0,
                "macs": positions * int(weights.size),
                "nonzero": positions * int(np.count_nonzero(weights)),
                "weight_bits": int(weights.size * WEIGHT_BITS[layer.weight_mode]),
                "shift_min": int(layer.shift.min()), "shift_max": int(layer.shift.max()),
                "threshold_max": int(layer.threshold.max()),
            })
            if isinstance(layer, QLayer):
                row.update(n_in=layer.n_in, n_out=layer.n_out)
            else:
                row.update(kernel=layer.kernel, stride=int(layer.stride), padding=layer.padding,
                           pad_value=[int(v) for v in layer.pad_value])
        else:
            row.update(kind="maxpool2d" if hasattr(layer, "size") else "flatten",
                       weight_mode=None, activation=None, out_bits=None, pow2=False,
                       e_max=None, zeros=0.0, macs=0, nonzero=0, weight_bits=0,
                       shift_min=None, shift_max=None, threshold_max=None)
            if hasattr(layer, "size"):
                row["size"] = int(layer.size)
        rows.append(row)
    return rows


def _geometry(r):
    """The map line under a convolution, pool or flatten row."""
    shape = "x".join(str(d) for d in r["in_shape"]) + " -> " + "x".join(
        str(d) for d in r["out_shape"])
    if r["kind"] == "conv2d":
        pad = "" if r["padding"] == "valid" or not any(r["pad_value"]) else (
            f", pads with {'/'.join(str(v) for v in r['pad_value'])}")
        return (f"{shape}, {r['kernel']}x{r['kernel']} stride {r['stride']} "
                f"{r['padding']}{pad}")
    if r["kind"] == "maxpool2d":
        return f"{shape}, {r['size']}x{r['size']} max"
    return shape


def format_table(qnet, rows):
    """The human-readable report of :func:`layer_costs`."""
    # Strings from the file reach the terminal only escaped.
    source = escaped(qnet.source or "QNet")
    dataset = escaped(qnet.input.dataset or "unknown dataset")
    shape = "x".join(str(d) for d in qnet.input.image_shape) or str(qnet.input.n_inputs)
    lines = [
        f"{source}: {len(qnet.layers)} layers, {qnet.n_classes} classes, fingerprint "
        f"{qnet.fingerprint()[:16]}",
        f"input: {qnet.input.n_inputs} pixels ({shape}) of {qnet.input.bits} bits, {dataset}",
        "",
        f"{'layer':>5} {'shape':>11} {'weights':>8} {'zeros':>6} {'activation':>12} "
        f"{'in':>4} {'acc':>4} {'z':>4} {'shift':>7} {'MACs':>9} {'weight bits':>12}",
    ]
    for r in rows:
        if r["weight_mode"] is None:
            lines.append(f"{r['index']:>5} {r['kind']:>11} {'':>8} {'':>6} {'':>12} "
                         f"{'s' if r['in_signed'] else 'u'}{r['in_bits']}")
            lines.append(f"{'':>6}{_geometry(r)}")
            continue
        act = r["activation"]
        if r["out_bits"] is not None:
            act += f"/{r['out_bits']}"
        if r["pow2"]:
            act += f" p2e{r['e_max']}"
        in_width = f"{'s' if r['in_signed'] else 'u'}{r['in_bits']}"
        shift = (f"{r['shift_min']}" if r["shift_min"] == r["shift_max"]
                 else f"{r['shift_min']}..{r['shift_max']}")
        shape = f"{r['n_in']:>5}x{r['n_out']:<5}" if r["kind"] == "dense" else (
            f"{'conv2d':>11}")
        lines.append(
            f"{r['index']:>5} {shape} {r['weight_mode']:>8} "
            f"{100 * r['zeros']:>5.1f}% {act:>12} {in_width:>4} {r['acc_bits']:>4} "
            f"{r['z_bits']:>4} {shift:>7} {r['macs']:>9,} {r['weight_bits']:>12,}")
        if r["kind"] == "conv2d":
            lines.append(f"{'':>6}{_geometry(r)}")
    macs = sum(r["macs"] for r in rows)
    nonzero = sum(r["nonzero"] for r in rows)
    bits = sum(r["weight_bits"] for r in rows)
    zeros = 1 - nonzero / macs if macs else 0.0
    lines += [
        "",
        f"total: {macs:,} MACs per image ({nonzero:,} adds/subtracts, "
        f"{100 * zeros:.1f}% skipped), {bits:,} bits of weight memory "
        f"({bits / 8192:.1f} KiB)",
    ]
    agreement = qnet.meta.get("agreement")
    if isinstance(agreement, dict) and "qnet_accuracy" in agreement:
        lines.append(
            f"recorded agreement ({escaped(agreement.get('split', 'test'))}, "
            f"{agreement.get('n')} images): "
            f"float {100 * agreement['float_accuracy']:.2f}%, "
            f"QNet {100 * agreement['qnet_accuracy']:.2f}%, "
            f"class disagreement {100 * agreement.get('disagreement', 0):.2f}%")
    info = qnet.meta.get("quantization")
    if isinstance(info, dict) and "exact" in info:
        lines.append("quantization: " + (
            "exact" if info["exact"] else
            f"largest scale error {info.get('max_scale_error', 0):.2e}, "
            f"largest bias rounding {info.get('max_bias_error', 0):.3g}"))
    return "\n".join(lines)


def main(args):
    from .qnet import QNet

    qnet = QNet.load(args.qnet)
    rows = layer_costs(qnet)
    if args.json:
        print(json.dumps({"fingerprint": qnet.fingerprint(), "layers": rows}, indent=2))
    else:
        print(format_table(qnet, rows))
    return 0
