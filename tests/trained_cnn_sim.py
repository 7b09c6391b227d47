"""Trained CNNs checked through ``mulfree sim``: shared by the test files that split
them, one file per long simulation, so that the test workers share the work."""

import argparse
import json

from sim import cmd_sim

#: folding of the trained CNNs (conv, pool, conv, pool, flatten, dense, dense)
DIGITS_CNN_FOLDING = "2:9,1:1,4:8,1:1,1:1,4:16,10:8"
FASHION_CNN_FOLDING = "2:9,1:1,4:24,1:1,1:1,4:49,10:8"


def train_digits_cnn(tmp_path_factory):
    """A digits CNN trained in seconds; the path of its QNet."""
    from trained_cnns import train_cnn

    return train_cnn(tmp_path_factory.mktemp("digits-cnn"), "digits", epochs=3)


def train_fashion_cnn(tmp_path_factory):
    """A fashion-mnist CNN trained in seconds on 2,000 images; the path of its QNet."""
    from trained_cnns import train_cnn

    return train_cnn(tmp_path_factory.mktemp("fashion-cnn"), "fashion-mnist", epochs=2,
                     max_train=2000, max_test=500)


def check_trained_cnn(tmp_path, path, simulator, images, folding):
    """``mulfree sim`` on the first ``images`` test images; the one simulator's entry."""
    from golden_model.qnet import QNet

    parser = argparse.ArgumentParser()
    cmd_sim.configure(parser)
    qnet = QNet.load(path)
    report_path = tmp_path / "report.json"
    code = cmd_sim.main(parser.parse_args([
        "--model", str(path), "--sim", simulator, "--images", str(images),
        "--folding", folding, "--no-primitives",
        "--report", str(report_path), "--build-dir", str(tmp_path / "b")]))
    assert code == 0
    (entry,) = json.loads(report_path.read_text())["simulators"]
    assert entry["status"] == "passed" and entry["mismatches"] == 0
    assert entry["images_checked"] == images
    # Every stress scenario ran: random valid/ready gaps, garbage payloads, a reset mid-image.
    scenarios = entry["scenarios"]
    assert list(scenarios) == ["bulk_full_rate", "bulk_random_gaps", "driven_random_gaps",
                               "reset_mid_image"]
    assert all(s["mismatches"] == 0 and s["received"] == s["images"] > 0
               for s in scenarios.values())
    assert entry["cycles_per_image"] == entry["cycles_per_image_estimate"]
    return qnet, entry
