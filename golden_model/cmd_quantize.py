"""``mulfree quantize``: a trained float model to a ``.qnet.npz`` integer network.

Prints what the quantizer had to approximate and the float-vs-QNet agreement
on the model's dataset test split, and records both in the QNet's ``meta``.
"""

from pathlib import Path

from .cli_args import integer, positive_int
from .errors import MulfreeError
from .output_files import check_output_file


def configure(parser):
    parser.add_argument("model", help="float model file written by 'mulfree train' (.npz)")
    parser.add_argument("--out", default=None,
                        help="QNet file to write (default: next to the model, .qnet.npz)")
    parser.add_argument("--dataset", default=None,
                        help="dataset for calibration and the agreement check "
                             "(default: the one the model was trained on)")
    parser.add_argument("--data-dir", default=None, help="folder with the dataset's files")
    parser.add_argument("--act-bits", type=integer(1, 32, "a bit width"), default=8,
                        help="activation width B for layers trained without an activation "
                             "quantizer (their step is calibrated on training images)")
    parser.add_argument("--max-test", type=positive_int, default=None,
                        help="check agreement on at most this many test images")


def default_out(model_path):
    """``build/model.npz`` -> ``build/model.qnet.npz``."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(".npz") + ".qnet.npz")


def dataset_name(header, override):
    """The dataset named on the command line, else the one in the model header."""
    if override:
        return override
    recorded = header.get("dataset")
    if isinstance(recorded, dict):
        recorded = recorded.get("dataset")
    if not isinstance(recorded, str) or not recorded:
        raise MulfreeError("the model file names no dataset; pass --dataset")
    return recorded


def main(args):
    from .agreement import format_agreement, format_quantization_report, measure_agreement
    from .datasets import load_dataset
    from .model_io import load_model
    from .quantize import quantize

    if not 1 <= args.act_bits <= 32:
        raise MulfreeError(f"--act-bits {args.act_bits}: expected 1..32")
    network, header = load_model(args.model)
    # After the (quick) model read, so a missing model is reported as such, and
    # before the dataset is loaded and the network quantized.
    check_output_file(args.out or default_out(args.model), "--out")
    name = dataset_name(header, args.dataset)
    seed = int(header.get("train_config", {}).get("seed", 0))
    dataset = load_dataset(name, data_dir=args.data_dir, seed=seed, max_test=args.max_test)
    if dataset.n_inputs != network.preprocess.n_inputs:
        raise MulfreeError(
            f"--dataset {name}: {dataset.n_inputs} inputs per image; the model "
            f"{args.model} expects {network.preprocess.n_inputs}")
    qnet = quantize(network, dataset, act_bits=args.act_bits,
                    meta={"source_model": str(args.model),
                          "train_config": header.get("train_config", {})})
    agreement = measure_agreement(network, qnet, dataset.x_test, dataset.y_test)
    qnet.meta["agreement"] = {"split": "test", **agreement.to_json()}
    out = Path(args.out) if args.out else default_out(args.model)
    qnet.save(out)
    print(format_quantization_report(qnet.meta["quantization"]))
    print(format_agreement(agreement))
    print(f"wrote {out} ({len(qnet.layers)} layers, fingerprint {qnet.fingerprint()[:16]})")
    return 0
