"""Datasets as raw unsigned integer pixels, with fixed train/validation/test splits.

>>> from golden_model.datasets import load_dataset
>>> ds = load_dataset("digits")
>>> ds.x_train.dtype, ds.input_bits, ds.n_inputs, ds.n_classes
(dtype('uint8'), 5, 64, 10)

The test set is fixed per dataset (the published one, or a constant split for
sets that have none); ``seed`` only chooses which training images are held out
for validation and which are kept by the ``max_*`` limits.
"""

from .dataset import Dataset
from .registry import DATASETS, default_data_dirs, list_datasets, load_dataset

__all__ = ["Dataset", "DATASETS", "load_dataset", "list_datasets", "default_data_dirs"]
