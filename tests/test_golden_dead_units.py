"""Dead hidden layers: found on hand-set networks, warned about during training."""

import dataclasses

import numpy as np

from golden_model.datasets import load_dataset
from golden_model.dead_units import dead_layers, describe_dead, warn_dead_layers
from golden_model.dense import Dense
from golden_model.network import NetworkConfig, build_network
from golden_model.train import TrainConfig, train


def _network(activation="trec", theta=0.5, batchnorm=False, sizes=(4, 3, 3, 2)):
    config = NetworkConfig(sizes=sizes, weight_mode="float", activation=activation, theta=theta,
                           batchnorm=batchnorm, act_quant=None)
    return build_network(config)


def _set_weights(network, weights, biases):
    for dense, w, b in zip([la for la in network.layers if isinstance(la, Dense)], weights,
                           biases, strict=True):
        dense.W[...] = w
        dense.b[...] = b


X = np.array([[0, 1, 2, 3], [3, 2, 1, 0]], np.uint8)  # preprocess: x * 2**-8


def test_a_layer_below_its_threshold_is_dead_with_its_peak():
    network = _network()
    # layer 1: unit 0 gets 3 * 2**-8 at most, units 1, 2 a constant 0.25 or 0.75
    _set_weights(network, [np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]),
                           np.eye(3), np.ones((2, 3))],
                 [np.array([0, 0.25, 0.75]), np.zeros(3), np.zeros(2)])
    assert dead_layers(network, X) == []  # unit 2 passes 0.75 > 0.5
    network.layers[1].b[2] = 0.25
    # a dead first layer leaves the second a constant: here 0, so it is dead too
    assert dead_layers(network, X) == [(0, 0.25), (1, 0.0)]
    assert dead_layers(network, X[:0]) == []


def test_tlin_peak_is_the_largest_magnitude():
    network = _network(activation="tlin", theta=0.5)
    _set_weights(network, [np.zeros((3, 4)), np.eye(3), np.ones((2, 3))],
                 [np.array([-0.4, 0.1, 0.0]), np.zeros(3), np.zeros(2)])
    assert dead_layers(network, X)[0] == (0, np.float32(0.4))
    network.layers[1].b[0] = -0.6  # |-0.6| > 0.5: on
    assert dead_layers(network, X) == []


def test_message_names_the_first_dead_layer_and_the_remedies():
    network = _network(theta=2.0)
    text = describe_dead(network, [(0, 0.03125), (1, 0.0)])
    assert text == ("hidden layer 1 of 2 outputs 0 for every validation image (largest "
                    "pre-activation 0.0312 against a trec threshold of 2), so the network "
                    "predicts one class; try a --theta below 0.0312 (a multiple of the "
                    "activation step 0.0625) or batch norm (no --no-batchnorm)")
    relu_bn = describe_dead(_network(activation="relu", batchnorm=True), [(1, -0.5)])
    assert relu_bn == ("hidden layer 2 of 2 outputs 0 for every validation image (largest "
                       "pre-activation -0.5), so the network predicts one class")


def test_training_warns_after_each_dead_epoch(capsys):
    data = load_dataset("digits", max_train=200)
    config = NetworkConfig(sizes=(64, 16, 10), input_bits=5, activation="trec", theta=8.0,
                           batchnorm=False, act_quant="int")
    network = build_network(config)
    train(network, data, TrainConfig(epochs=2, quiet=True, bn_calibration=0))
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err] == ["warning"] * 2
    assert err[1].startswith("warning: epoch 2: hidden layer 1 of 1 outputs 0")
    alive = build_network(dataclasses.replace(config, theta=0.0625))
    assert warn_dead_layers(alive, data.x_val, 0) == []
    assert capsys.readouterr().err == ""
