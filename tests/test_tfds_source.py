"""The tensorflow-datasets source, through the real tfds.load path with tfds.testing.mock_data."""

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from pipeline.config import DataParams  # noqa: E402
from pipeline.data.idx import load_idx_directory  # noqa: E402
from pipeline.data.prepare import prepare  # noqa: E402
from pipeline.data.tfds_source import load_tfds  # noqa: E402
from pipeline.errors import DataError  # noqa: E402
from tests.test_data import FASHION_DIR, needs_fashion  # noqa: E402


def test_load_tfds_returns_uint8_images_and_class_names(tmp_path):
    with tfds.testing.mock_data(num_examples=12):
        arrays, names = load_tfds("fashion_mnist", tmp_path, download=True)
    assert arrays["train_images"].shape == (12, 28, 28) and arrays["train_images"].dtype == np.uint8
    assert arrays["test_labels"].shape == (12,)
    assert names[0] == "T-shirt/top" and len(names) == 10


def test_mock_content_under_a_known_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = DataParams(source="tfds", name="fashion_mnist", tfds_dir="tfds", tfds_download=True)
    with tfds.testing.mock_data(num_examples=12):
        with pytest.raises(DataError, match=r"tfds:fashion_mnist\[train\]: decoded content does not match"):
            prepare(params)


def test_unknown_dataset_name(tmp_path):
    with pytest.raises(DataError, match="data.name: got 'no_such_dataset_xyz'"):
        load_tfds("no_such_dataset_xyz", tmp_path, download=False)


def test_missing_data_dir_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match=f"data.tfds_dir: could not load 'fashion_mnist' from {tmp_path}"):
        load_tfds("fashion_mnist", tmp_path, download=False)


@needs_fashion
def test_tfds_and_idx_give_identical_prepared_arrays(tmp_path, monkeypatch):
    """Real Fashion-MNIST served through tfds gives the same bytes and card hashes as the IDX files."""
    import tensorflow as tf

    real = load_idx_directory(FASHION_DIR)

    def as_dataset(self, split, **kwargs):
        part = "train" if str(split).startswith("train") else "test"
        return tf.data.Dataset.from_tensor_slices(
            {
                "image": real[f"{part}_images"][..., None],
                "label": real[f"{part}_labels"].astype(np.int64),
            }
        )

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        monkeypatch.chdir(tmp_path)
        arrays, card = prepare(DataParams(source="tfds", tfds_dir="tfds"))
    _, idx_card = prepare(DataParams())
    assert card["verified_against_known_hashes"] is True
    assert card["sha256"] == idx_card["sha256"]
    for name, array in arrays.items():
        assert np.array_equal(array, real[name]), name
