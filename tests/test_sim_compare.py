import numpy as np

from sim.compare import compare_outputs, describe_mismatch


def _expected():
    logits = np.array([[3, -2, 7], [0, 0, 0], [-5, -1, -1]])
    return logits, np.argmax(logits, axis=1)


def test_equal_outputs_have_no_mismatch():
    logits, classes = _expected()
    result = compare_outputs(logits, classes, logits.copy(), classes.copy())
    assert result == {"images": 3, "received": 3, "mismatches": 0, "first_mismatch": None}
    assert describe_mismatch(result["first_mismatch"]) == ""


def test_first_logit_mismatch_names_image_layer_neuron():
    logits, classes = _expected()
    got = logits.copy()
    got[1, 2] = 1
    got[2, 0] = -4
    result = compare_outputs(logits, classes, got, classes, image_indices=[10, 11, 12],
                             output_layer=2)
    assert result["mismatches"] == 2
    assert result["first_mismatch"] == {"image": 11, "layer": 2, "neuron": 2, "field": "logit",
                                        "expected": 0, "got": 1}
    text = describe_mismatch(result["first_mismatch"])
    assert "image 11" in text and "layer 2" in text and "neuron 2" in text
    assert "expected 0, got 1" in text


def test_class_mismatch_with_equal_logits_is_caught():
    logits, classes = _expected()
    # Ties go to the lowest index: image 1 (all zero) must be class 0, image 2 class 1.
    assert classes.tolist() == [2, 0, 1]
    got_classes = classes.copy()
    got_classes[2] = 2
    result = compare_outputs(logits, classes, logits, got_classes)
    assert result["mismatches"] == 1
    assert result["first_mismatch"]["field"] == "class"
    assert result["first_mismatch"]["expected"] == 1 and result["first_mismatch"]["got"] == 2


def test_missing_and_extra_outputs_count_as_mismatches():
    logits, classes = _expected()
    short = compare_outputs(logits, classes, logits[:1], classes[:1], image_indices=[4, 5, 6])
    assert short["mismatches"] == 2 and short["received"] == 1
    assert short["first_mismatch"]["field"] == "missing output"
    assert short["first_mismatch"]["image"] == 5
    extra = compare_outputs(logits[:2], classes[:2], logits, classes)
    assert extra["mismatches"] == 1 and extra["first_mismatch"]["field"] == "extra output"
