"""Activation sparsity counts exact zeros per hidden layer."""

import numpy as np
import pytest

from golden_model.network import NetworkConfig, build_network
from golden_model.sparsity import activation_sparsity


@pytest.mark.parametrize("act_quant", [None, "int"])
def test_counts_zeros_of_each_hidden_layer(act_quant):
    config = NetworkConfig(sizes=(3, 4, 2, 2), input_bits=2, weight_mode="float",
                           batchnorm=False, act_quant=act_quant, act_frac_bits=2)
    net = build_network(config)
    first, second = (b.dense for b in net.blocks()[:2])
    first.W[...] = [[4, 0, 0], [-4, 0, 0], [0, 0, 0], [0, 4, 0]]
    first.b[...] = [0, 0, 0, 0]
    second.W[...] = [[1, 1, 1, 1], [-1, -1, -1, -1]]
    second.b[...] = [0, 0]
    x = np.array([[3, 0, 0], [0, 3, 0]])  # preprocess: x / 4
    # layer 1 outputs [3,0,0,0] and [0,0,0,3]: 6 zeros of 8; layer 2: [3,0],[3,0]: 2 of 4
    assert activation_sparsity(net, x, batch_size=1) == [0.75, 0.5]
