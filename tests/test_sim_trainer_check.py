"""The cocotb trainer check refuses bad segments before building anything."""

import numpy as np
import pytest
from qtrain_states import random_state

from hdl.trainer.plan import TrainerPlanError
from sim.trainer_check import Segment, check_trainer


def test_segments_of_different_designs_are_one_clear_error(tmp_path):
    first = random_state(np.random.default_rng(1), sizes=(4, 2, 2))
    other = random_state(np.random.default_rng(2), sizes=(4, 2, 2))
    images, labels = np.zeros((1, 4), int), [0]
    with pytest.raises(TrainerPlanError, match="segments\\[1\\]: expected the sizes, codes"):
        check_trainer([Segment(first, images, labels), Segment(other, images, labels)],
                      [(1, 1), (1, 1)], build_root=tmp_path)
    assert not (tmp_path / "data").exists()


def test_bad_pixels_are_refused_before_the_build(tmp_path):
    state = random_state(np.random.default_rng(1), sizes=(4, 2, 2), input_bits=2)
    with pytest.raises(TrainerPlanError, match="images as integers in \\[0, 4\\)"):
        check_trainer([Segment(state, np.full((1, 4), 4), [0])], [(1, 1), (1, 1)],
                      build_root=tmp_path)
