"""Sweep specifications: the grid, defaults, and one clear error per mistake."""

import pytest

from sweep.spec import AXES, SETTINGS, SpecError, load_spec, parse_spec


def _error(document):
    with pytest.raises(SpecError) as info:
        parse_spec(document, "s.toml")
    return str(info.value)


def test_the_grid_is_the_product_of_the_axes_in_a_stable_order():
    spec = parse_spec({"axes": {"arch": ["64-16-10", "64-32-10"], "qb": [False, True],
                                "board": "icebreaker", "act_bits": [4, 8, 2]}})
    points = spec.points()
    assert len(points) == 12
    assert [(p["arch"], p["qb"], p["act_bits"]) for p in points[:4]] == [
        ("64-16-10", False, 4), ("64-16-10", False, 8), ("64-16-10", False, 2),
        ("64-16-10", True, 4)]
    assert all(p["board"] == "icebreaker" for p in points)
    assert points == parse_spec({"axes": {"act_bits": [4, 8, 2], "board": ["icebreaker"],
                                          "qb": [False, True],
                                          "arch": ["64-16-10", "64-32-10"]}}).points()


def test_left_out_axes_and_settings_take_their_defaults():
    (point,) = parse_spec({"axes": {"arch": "64-16-10"}}).points()
    assert point == {**AXES, "arch": "64-16-10", "stages": SETTINGS["stages"]}
    # The simulation settings belong to a point only when it simulates.
    (point,) = parse_spec({"sweep": {"stages": ["quantize", "sim", "train"]},
                           "axes": {"arch": "64-16-10"}}).points()
    assert point["stages"] == ["train", "quantize", "sim"]
    assert (point["sim_images"], point["simulator"]) == (100, "verilator")


def test_clock_is_a_number_of_mhz_and_folding_may_be_a_lut_budget():
    spec = parse_spec({"axes": {"clock": [24, 12.5], "folding": ["none", "auto", "4:8,2:4",
                                                                  3000]}})
    assert spec.axes["clock"] == [24.0, 12.5]
    assert spec.axes["folding"] == ["none", "auto", "4:8,2:4", 3000]


def test_load_spec_reads_toml(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[sweep]\nstages = ["train", "quantize"]\n[axes]\narch = "64-8-10"\n'
                    'seed = [1, 2]\n')
    spec = load_spec(path)
    assert [p["seed"] for p in spec.points()] == [1, 2]
    assert spec.path == str(path)


@pytest.mark.parametrize("text, expected", [
    (None, "no such file; expected a sweep specification"),
    ("[axes\n", "not valid TOML"),
    (b"\xff\xfe", "cannot read it"),
])
def test_unreadable_files_are_named(tmp_path, text, expected):
    path = tmp_path / "s.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    with pytest.raises(SpecError, match=expected) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: ")


def test_a_folder_is_not_a_spec(tmp_path):
    with pytest.raises(SpecError, match="is a folder"):
        load_spec(tmp_path)


@pytest.mark.parametrize("document, expected", [
    ({}, "s.toml: [axes] is missing or empty"),
    ({"axes": {"arch": "64-8-10"}, "grid": {}}, "unknown table or key 'grid'"),
    ({"axes": [1]}, "axes: expected a table [axes]"),
    ({"axes": {"layers": [1]}}, "[axes] layers: unknown axis; expected one of dataset, arch"),
    ({"axes": {"arch": []}}, "[axes] arch: an empty list"),
    ({"axes": {"arch": ["64-8-10", "64-8-10"]}}, "[axes] arch: ['64-8-10', '64-8-10'] repeats"),
    ({"axes": {"arch": 64}}, "[axes] arch: expected layer sizes as a string"),
    ({"axes": {"weights": "int"}}, "[axes] weights: expected one of float, binary, ternary, "
                                   "got 'int'"),
    ({"axes": {"qb": 1}}, "[axes] qb: expected true or false, got 1"),
    ({"axes": {"act_bits": 33}}, "[axes] act_bits: expected an activation width, an integer "
                                 "in 1..32, got 33"),
    ({"axes": {"act_bits": True}}, "[axes] act_bits: expected an activation width"),
    ({"axes": {"folding": "4x8"}}, "[axes] folding: expected \"none\", \"auto\", PE:SIMD"),
    ({"axes": {"folding": 0}}, "[axes] folding: expected"),
    ({"axes": {"board": "icestick"}}, "[axes] board: expected one of none, icebreaker"),
    ({"axes": {"clock": 0.5}}, "[axes] clock: expected \"default\" or a clock in MHz in "
                               "[1, 400], got 0.5"),
    ({"axes": {"clock": "fast"}}, "[axes] clock: expected"),
    ({"axes": {"seed": -1}}, "[axes] seed: expected a seed, an integer in 0..4294967295"),
    ({"axes": {"epochs": 0}}, "[axes] epochs: expected a number of epochs"),
    ({"axes": {"dataset": "cifar"}}, "[axes] dataset: expected one of digits"),
    ({"axes": {"seed": 1}, "sweep": {"stage": []}}, "[sweep] stage: unknown setting"),
    ({"axes": {"seed": 1}, "sweep": {"stages": "train"}},
     "[sweep] stages: expected a list of stage names"),
    ({"axes": {"seed": 1}, "sweep": {"stages": ["train", "quantise"]}},
     "[sweep] stages: unknown stage 'quantise'"),
    ({"axes": {"seed": 1}, "sweep": {"stages": ["train", "generate"]}},
     "[sweep] stages: ['train', 'generate'] lacks 'quantize'"),
    ({"axes": {"seed": 1}, "sweep": {"stages": ["train", "quantize", "train"]}},
     "names a stage twice"),
    ({"axes": {"seed": 1}, "sweep": {"sim_images": 0}},
     "[sweep] sim_images: expected a number of test images, an integer in 1..100000"),
    ({"axes": {"seed": 1}, "sweep": {"simulator": "xsim"}},
     "[sweep] simulator: expected one of"),
    ({"axes": {"seed": 1}, "sweep": {"stages": ["train", "quantize", "build"]}},
     "'build' needs a board"),
    ({"axes": {"seed": list(range(101)), "act_bits": list(range(1, 33)),
               "epochs": list(range(1, 5))}},
     "the grid has 12,928 points; expected at most 10,000"),
])
def test_each_mistake_is_one_error_naming_file_key_and_expectation(document, expected):
    message = _error(document)
    assert message.startswith("s.toml: ")
    assert expected in message


def test_a_point_is_checked_by_the_train_rules_and_named_by_its_axes():
    message = _error({"axes": {"arch": ["64-16-10", "64-16-3"]}})
    assert "the point dataset=digits arch=64-16-3 " in message
    assert "arch 64-16-3: dataset 'digits' needs 64 inputs and 10 outputs" in message
    assert "--" not in message  # axes, not mulfree train's options
