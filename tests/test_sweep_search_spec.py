"""The ``[search]`` table: settings, defaults, the search space and one error per mistake."""

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from sweep.search_space import distributions
from sweep.search_spec import Range, SearchSettings
from sweep.spec import AXES, SpecError, parse_spec

HARDWARE = {"sweep": {"stages": ["train", "quantize", "generate"]}}


def _search(axes, search=None, sweep=HARDWARE["sweep"]):
    return {"sweep": sweep, "search": {"method": "optuna"} if search is None else search,
            "axes": axes}


def _error(document):
    with pytest.raises(SpecError) as info:
        parse_spec(document, "s.toml")
    return str(info.value)


def test_the_defaults_maximise_accuracy_minimise_luts_maximise_images_per_s():
    spec = parse_spec(_search({"arch": ["64-8-10", "64-16-10"], "board": "icebreaker"}))
    assert spec.search == SearchSettings(method="optuna", trials=20,
                                         objectives=("qnet_acc", "lut", "images_per_s"),
                                         sampler="nsga2", seed=0)
    assert spec.search.directions == ["maximize", "minimize", "maximize"]
    # A grid spec has no search.
    assert parse_spec({"axes": {"arch": "64-8-10"}}).search is None


def test_lists_are_choices_tables_are_ranges_single_values_are_fixed():
    spec = parse_spec(_search(
        {"arch": ["64-8-10", "64-16-10"], "act_bits": {"low": 2, "high": 8},
         "clock": {"low": 10, "high": 40.5, "step": 0.5},
         "folding": {"low": 500, "high": 4000, "log": True}, "board": "icebreaker",
         "epochs": 3},
        {"trials": 7, "objectives": ["qnet_acc", "lut"], "sampler": "tpe", "seed": 5}))
    assert (spec.search.trials, spec.search.sampler, spec.search.seed) == (7, "tpe", 5)
    assert spec.axes["act_bits"] == Range(low=2, high=8, kind=int)
    assert spec.axes["clock"] == Range(low=10.0, high=40.5, step=0.5, kind=float)
    space = distributions(spec)
    assert list(space) == ["arch", "act_bits", "folding", "clock"]
    assert space["arch"] == CategoricalDistribution(["64-8-10", "64-16-10"])
    assert space["act_bits"] == IntDistribution(2, 8)
    assert space["folding"] == IntDistribution(500, 4000, log=True)
    assert space["clock"] == FloatDistribution(10.0, 40.5, step=0.5)
    point = spec.search_point({"arch": "64-16-10", "act_bits": 5, "folding": 900,
                               "clock": 12.5})
    assert point == {**AXES, "arch": "64-16-10", "act_bits": 5, "folding": 900, "clock": 12.5,
                     "board": "icebreaker", "epochs": 3,
                     "stages": ["train", "quantize", "generate"]}


@pytest.mark.parametrize("document, expected", [
    ({"axes": {"act_bits": {"low": 2, "high": 8}}},
     "[axes] act_bits: a range {'low': 2, 'high': 8} needs a [search] table"),
    (_search({"arch": {"low": 1, "high": 2}}), "[axes] arch: a range {'low': 1, 'high': 2}; "
                                               "expected a value or a list (ranges are for "),
    (_search({"act_bits": {"low": 8, "high": 2}}), "[axes] act_bits: low 8 is not below high 2"),
    (_search({"act_bits": {"low": 2}}), "[axes] act_bits: expected a range {low = ..., "
                                        "high = ...}"),
    (_search({"act_bits": {"low": 2, "high": 40}}), "[axes] act_bits: expected an activation "
                                                    "width, an integer in 1..32, got 40"),
    (_search({"clock": {"low": "default", "high": 40}}), "[axes] clock: expected numeric low"),
    (_search({"folding": {"low": "auto", "high": 40}}), "[axes] folding: expected integer low"),
    (_search({"epochs": {"low": 1, "high": 9, "step": 2, "log": True}}),
     "[axes] epochs: step and log together"),
    (_search({"epochs": {"low": 1, "high": 9, "step": 0.5}}),
     "[axes] epochs step: expected a positive integer, got 0.5"),
    (_search({"seed": [1, 2]}, {"method": "grid"}), "[search] method: expected \"optuna\""),
    (_search({"seed": [1, 2]}, {"trails": 3}), "[search] trails: unknown setting; expected one "
                                               "of method, trials, objectives, sampler, seed"),
    (_search({"seed": [1, 2]}, {"trials": 0}), "[search] trials: expected a number of trials, "
                                               "an integer in 1..10000, got 0"),
    (_search({"seed": [1, 2]}, {"objectives": ["accuracy"]}),
     "[search] objectives: unknown objective 'accuracy'; expected some of qnet_acc"),
    (_search({"seed": [1, 2]}, {"objectives": []}), "[search] objectives: expected a list"),
    (_search({"seed": [1, 2]}, {"objectives": ["lut", "lut"]}), "names a field twice"),
    (_search({"seed": [1, 2]}, {"sampler": "cmaes"}), "[search] sampler: expected one of "
                                                      "nsga2, tpe, random, got 'cmaes'"),
    (_search({"seed": [1, 2]}, {"seed": -1}), "[search] seed: expected a seed"),
    (_search({"seed": 1, "board": "icebreaker"}), "[search]: no axis varies"),
    (_search({"seed": [1, 2], "board": "icebreaker"}, sweep={"stages": ["train", "quantize"]}),
     "[search] objectives: 'lut' is measured by the hardware stages; expected \"generate\""),
    (_search({"seed": [1, 2]}, {"objectives": ["images_per_s"]}),
     "[search] objectives: 'images_per_s' needs a clock"),
    (_search({"seed": [1, 2]}, {"objectives": ["bram"]}), "'bram' needs a board"),
    (_search({"arch": ["64-8-10", "64-8-3"], "board": "icebreaker"}),
     "the point dataset=digits arch=64-8-3 "),
])
def test_each_search_mistake_is_one_error_naming_file_and_key(document, expected):
    message = _error(document)
    assert message.startswith("s.toml: ")
    assert expected in message


def test_a_large_space_is_checked_axis_by_axis():
    # 101 * 32 * 4 combinations: too many to check each; every value is still checked.
    message = _error(_search({"seed": list(range(101)), "act_bits": list(range(1, 33)),
                              "epochs": list(range(1, 5)), "arch": ["64-8-10", "64-8-3"],
                              "board": "icebreaker"}))
    assert "arch=64-8-3" in message
