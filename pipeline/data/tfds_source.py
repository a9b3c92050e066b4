"""tensorflow-datasets as a source: the real `tfds.load` path into a local `data_dir`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.errors import DataError


def load_tfds(name: str, data_dir: str | Path, download: bool) -> tuple[dict[str, np.ndarray], list[str]]:
    """Load train and test splits of an image-classification dataset as uint8 arrays.

    Imports tensorflow-datasets lazily: only this source pays for TensorFlow.
    """
    import tensorflow_datasets as tfds

    try:
        (train, test), info = tfds.load(
            name,
            split=["train", "test"],
            data_dir=str(data_dir),
            as_supervised=True,
            with_info=True,
            download=download,
            try_gcs=False,
        )
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(f"data.name: got '{name}', tensorflow-datasets has no such dataset") from None
    except (AssertionError, FileNotFoundError, OSError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(
            f"data.tfds_dir: could not load '{name}' from {data_dir} ({first_line}); "
            "prepare it there with tfds on a machine with internet, or set data.tfds_download: true"
        ) from None
    label = info.features["label"] if "label" in info.features else None
    if label is None or not hasattr(label, "names"):
        raise DataError(f"data.name: '{name}' is not an image-classification dataset (no class label feature)")
    arrays = {}
    for split_name, dataset in (("train", train), ("test", test)):
        images, labels = _to_arrays(tfds.as_numpy(dataset.batch(4096)))
        if images.ndim == 4 and images.shape[-1] == 1:
            images = images[..., 0]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(
                f"data.name: '{name}' has images of shape {images.shape[1:]} and type {images.dtype}; "
                "only single-channel uint8 images are supported"
            )
        arrays[f"{split_name}_images"] = images
        arrays[f"{split_name}_labels"] = labels.astype(np.uint8)
    return arrays, list(label.names)


def _to_arrays(batches) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*batches)
    return np.concatenate(images), np.concatenate(labels)
