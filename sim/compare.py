"""Bit-exact comparison of the accelerator's outputs with the QNet.

Used inside the cocotb testbenches (to pass or fail a test) and on the host
(to build the report), so both say the same thing about a mismatch.

Members
-------
compare_outputs
    Count mismatching images and describe the first one.
"""

import numpy as np


def compare_outputs(expected_logits, expected_classes, got_logits, got_classes,
                    image_indices=None, output_layer=None):
    """Compare every logit and class exactly (no tolerance).

    Parameters
    ----------
    expected_logits : ndarray, shape (n, C)
        ``QNet.forward`` logits.
    expected_classes : ndarray, shape (n,)
    got_logits : ndarray, shape (m, C)
        What the hardware produced, in order (``m`` may differ from ``n`` when
        outputs were lost or duplicated).
    got_classes : ndarray, shape (m,)
    image_indices : ndarray of int, shape (n,), optional
        Test-set index of each expected image (default ``0..n-1``).
    output_layer : int, optional
        Index of the output layer, named in the mismatch description.

    Returns
    -------
    dict
        ``images`` (expected count), ``received``, ``mismatches`` (images whose
        logits or class differ, plus missing or extra outputs) and
        ``first_mismatch`` (None, or a dict with ``image``, ``layer``,
        ``neuron``, ``field``, ``expected``, ``got``).
    """
    expected_logits = np.asarray(expected_logits, dtype=np.int64)
    expected_classes = np.asarray(expected_classes, dtype=np.int64)
    got_logits = np.asarray(got_logits, dtype=np.int64).reshape(-1, expected_logits.shape[1])
    got_classes = np.asarray(got_classes, dtype=np.int64).reshape(-1)
    n, m = len(expected_logits), len(got_logits)
    indices = np.arange(n) if image_indices is None else np.asarray(image_indices)
    k = min(n, m)
    logit_bad = expected_logits[:k] != got_logits[:k]
    class_bad = expected_classes[:k] != got_classes[:k]
    bad_rows = np.flatnonzero(logit_bad.any(axis=1) | class_bad)
    mismatches = int(len(bad_rows)) + abs(n - m)
    first = None
    layer = "output" if output_layer is None else int(output_layer)
    if len(bad_rows):
        row = int(bad_rows[0])
        if logit_bad[row].any():
            neuron = int(np.flatnonzero(logit_bad[row])[0])
            first = {"image": int(indices[row]), "layer": layer, "neuron": neuron,
                     "field": "logit", "expected": int(expected_logits[row, neuron]),
                     "got": int(got_logits[row, neuron])}
        else:
            first = {"image": int(indices[row]), "layer": "argmax", "neuron": None,
                     "field": "class", "expected": int(expected_classes[row]),
                     "got": int(got_classes[row])}
    elif m < n:
        first = {"image": int(indices[m]), "layer": "output", "neuron": None,
                 "field": "missing output", "expected": "an output transfer",
                 "got": f"{m} of {n} outputs"}
    elif m > n:
        first = {"image": None, "layer": "output", "neuron": None, "field": "extra output",
                 "expected": f"{n} outputs", "got": f"{m} outputs"}
    return {"images": n, "received": m, "mismatches": mismatches, "first_mismatch": first}


def describe_mismatch(first):
    """One line describing a ``first_mismatch`` dict (empty for None)."""
    if not first:
        return ""
    if first["field"] in ("logit", "class"):
        where = f"image {first['image']}, layer {first['layer']}"
        if first["neuron"] is not None:
            where += f", neuron {first['neuron']}"
        return (f"first mismatch: {where} ({first['field']}): expected {first['expected']}, "
                f"got {first['got']}")
    return (f"first mismatch: {first['field']} at image {first['image']}: expected "
            f"{first['expected']}, got {first['got']}")
