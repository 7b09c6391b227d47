"""Block RAMs per memory shape: whole blocks in the best shape of each family."""

import pytest

from hdl.estimate import LOGIC_MEMORY_DEPTH, block_rams


@pytest.mark.parametrize("width,depth,ice40,ecp5", [
    (384, LOGIC_MEMORY_DEPTH, 0, 0),     # shallow: registers
    (80, 10, 5, 3),                      # wide and shallow: 5 x 256x16 / 3 x 512x36
    (2, 2560, 2, 1),                     # narrow and deep: 2 x 2048x2 / 1 x 4096x4
    (16, 256, 1, 1),
    (17, 256, 2, 1),
    (37, 512, 5, 2),                     # 5 x 512x8 (not 6 x 256x16) / 2 x 512x36
    (1, 16384, 8, 1),
])
def test_block_rams(width, depth, ice40, ecp5):
    assert block_rams(width, depth) == {"ice40": ice40, "ecp5": ecp5}
