"""Float model vs QNet: accuracy of each, class disagreement, and where codes differ.

The first rung of the verification ladder. The float model runs in evaluation
mode (deterministic quantized weights, quantization-aware activations) and the
QNet runs its integer forward on the same raw test pixels.
"""

from dataclasses import dataclass

import numpy as np

from .quantize import EXACT_LOG2_TOLERANCE, float_blocks

__all__ = ["Agreement", "LayerAgreement", "measure_agreement", "format_agreement",
           "format_quantization_report"]


@dataclass(frozen=True)
class LayerAgreement:
    """How one layer's float output compares with the QNet's, in integer units.

    For a hidden layer the unit is its activation step (the float output
    divided by the step is the code the QNet should hand on); for the output
    layer it is the QNet's logit unit ``2**logit_scale_log2 * logit_common_factor``.

    Members
    -------
    mismatch : float or None
        Fraction of values whose float code differs from the QNet's (None for
        the output layer, whose float logits are not integers).
    max_abs_diff : float
        Largest ``|float code - QNet value|``.
    """

    index: int
    mismatch: float
    max_abs_diff: float

    def to_json(self):
        return {"index": self.index,
                "mismatch": None if self.mismatch is None else float(self.mismatch),
                "max_abs_diff": float(self.max_abs_diff)}


@dataclass(frozen=True)
class Agreement:
    """Float vs QNet on one labelled set.

    Members
    -------
    n : int
        Number of images.
    float_accuracy, qnet_accuracy : float
    disagreement : float
        Fraction of images whose class differs between the two.
    layers : tuple of LayerAgreement
    """

    n: int
    float_accuracy: float
    qnet_accuracy: float
    disagreement: float
    layers: tuple

    @property
    def accuracy_gap(self):
        """``qnet_accuracy - float_accuracy`` (negative: the QNet is worse)."""
        return self.qnet_accuracy - self.float_accuracy

    def to_json(self):
        return {"n": self.n, "float_accuracy": float(self.float_accuracy),
                "qnet_accuracy": float(self.qnet_accuracy),
                "disagreement": float(self.disagreement),
                "layers": [layer.to_json() for layer in self.layers]}


def measure_agreement(network, qnet, x, y, batch_size=2000):
    """Run both models on ``x`` and compare them.

    Parameters
    ----------
    network : Network
        The float model the QNet was quantized from.
    qnet : QNet
        Its ``meta["quantization"]`` gives each hidden layer's step.
    x : array_like, (n, n_inputs)
        Raw pixels.
    y : array_like, (n,)
        Labels.
    batch_size : int

    Returns
    -------
    Agreement
    """
    x, y = np.asarray(x), np.asarray(y)
    info = qnet.meta.get("quantization", {})
    steps = {layer.get("index"): layer.get("step") for layer in info.get("layers", [])}
    logit_unit = 2.0 ** info.get("logit_scale_log2", 0) * info.get("logit_common_factor", 1.0)
    n_layers = len(qnet.layers)
    # The float blocks match the QNet layers with weights (pool and flatten have none).
    weighted = [k for k, layer in enumerate(qnet.layers) if hasattr(layer, "weights")]
    mismatches = np.zeros(n_layers)
    max_diff = np.zeros(n_layers)
    values = np.ones(n_layers)
    float_classes, qnet_classes = [], []
    for start in range(0, len(y), batch_size):
        batch = x[start:start + batch_size]
        float_out = float_blocks(network, batch)
        trace = qnet.forward_trace(batch)
        for k, f in zip(weighted, float_out, strict=True):
            unit = logit_unit if k == n_layers - 1 else steps.get(k)
            if unit is None:
                continue
            out = trace[k]["out"]
            values[k] = out.shape[1]
            diff = np.abs(f.reshape(len(f), -1).astype(np.float64) / unit - out)
            mismatches[k] += np.count_nonzero(diff > 0)
            max_diff[k] = max(max_diff[k], float(diff.max(initial=0.0)))
        float_classes.append(np.argmax(float_out[-1], axis=1))
        qnet_classes.append(np.argmax(trace[-1]["out"], axis=1))
    float_classes = np.concatenate(float_classes) if float_classes else np.zeros(0, int)
    qnet_classes = np.concatenate(qnet_classes) if qnet_classes else np.zeros(0, int)
    n = len(y)
    # Float logits are not integers, so only their distance to the QNet's is meaningful.
    layers = tuple(
        LayerAgreement(k, None if k == n_layers - 1 else mismatches[k] / max(1, n * values[k]),
                       max_diff[k])
        for k in weighted
    )
    return Agreement(
        n=n,
        float_accuracy=float(np.mean(float_classes == y)) if n else 0.0,
        qnet_accuracy=float(np.mean(qnet_classes == y)) if n else 0.0,
        disagreement=float(np.mean(float_classes != qnet_classes)) if n else 0.0,
        layers=layers,
    )


def format_agreement(agreement, label="test"):
    """Human-readable lines for an :class:`Agreement`."""
    a = agreement
    lines = [
        f"float model (quantized eval) {label} accuracy: {100 * a.float_accuracy:.2f}%",
        f"QNet integer forward {label} accuracy:        {100 * a.qnet_accuracy:.2f}%  "
        f"({100 * a.accuracy_gap:+.2f} pp)",
        f"class disagreement: {100 * a.disagreement:.2f}% "
        f"({round(a.disagreement * a.n)} of {a.n} images)",
    ]
    for layer in a.layers:
        if layer.mismatch is None:
            lines.append(f"  logits: largest difference {layer.max_abs_diff:.3g} logit units")
        else:
            lines.append(f"  layer {layer.index}: {100 * layer.mismatch:.3f}% of codes differ, "
                         f"largest difference {layer.max_abs_diff:.3g}")
    return "\n".join(lines)


def format_quantization_report(info):
    """Human-readable lines for ``qnet.meta["quantization"]``."""
    layers = info.get("layers", [])
    lines = []
    for layer in layers:
        kind = "output" if layer.get("step") is None else f"step 2**{np.log2(layer['step']):.0f}"
        notes = []
        if layer.get("calibrated"):
            notes.append("step calibrated (no activation quantizer in training)")
        if layer.get("sign_flips"):
            notes.append(f"{layer['sign_flips']} negative scales folded into weight rows")
        unit = "accumulator units" if layer.get("step") is None else "codes"
        lines.append(
            f"  layer {layer['index']} ({kind}): shifts {layer['shift_min']}.."
            f"{layer['shift_max']}, largest scale error {layer['scale_error']:.2e}, "
            f"largest bias rounding {layer['bias_error']:.3g} {unit}"
            + ("; " + "; ".join(notes) if notes else ""))
    scale_error = info.get("max_scale_error", 0.0)
    hidden = layers[:-1]
    if scale_error < EXACT_LOG2_TOLERANCE:
        verdict = [f"every scale is a power of two (float32 residue {scale_error:.1e})"]
    else:
        verdict = [f"scales rounded to powers of two, largest relative error {scale_error:.2e}"]
    if all(layer.get("exact") for layer in hidden):
        verdict.append("hidden layers exact")
    if any(layer.get("calibrated") for layer in hidden):
        verdict.append("some activation steps calibrated")
    if layers:
        verdict.append(f"logit biases rounded by at most {layers[-1]['bias_error']:.3g} "
                       "accumulator units")
    return "\n".join(["quantization: " + ", ".join(verdict), *lines])
