"""From a source to one prepared form: checked uint8 arrays plus a dataset card."""

from __future__ import annotations

import hashlib

import numpy as np

from pipeline.config import DataParams
from pipeline.data.idx import IDX_FILES, load_idx_directory
from pipeline.data.known import KNOWN_DATASETS
from pipeline.errors import ConfigError, DataError
from pipeline.runtime import paths

ARRAY_NAMES = ("train_images", "train_labels", "test_images", "test_labels")


def sha256_of(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def check_arrays(arrays: dict[str, np.ndarray], class_count: int, origin: dict[str, str]) -> None:
    """Refuse arrays that cannot be a dataset: counts that disagree, labels out of range, odd shapes."""
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3:
            raise DataError(
                f"{origin[f'{part}_images']}: images must have 3 dimensions (count, height, width), got {images.shape}"
            )
        if labels.ndim != 1:
            raise DataError(f"{origin[f'{part}_labels']}: labels must have 1 dimension, got {labels.shape}")
        if len(images) != len(labels):
            raise DataError(
                f"{origin[f'{part}_labels']}: {len(labels)} labels for {len(images)} images in "
                f"{origin[f'{part}_images']}"
            )
        if len(images) == 0:
            raise DataError(f"{origin[f'{part}_images']}: no images")
        if labels.max() >= class_count:
            raise DataError(
                f"{origin[f'{part}_labels']}: label {int(labels.max())} found, but there are {class_count} class names"
            )
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DataError(
            f"{origin['test_images']}: image size {arrays['test_images'].shape[1:]} differs from "
            f"the training images' {arrays['train_images'].shape[1:]}"
        )


def verify_known_hashes(name: str, hashes: dict[str, str], origin: dict[str, str]) -> bool:
    """Compare with the recorded hashes of a known dataset; False when there is nothing to compare with."""
    known = KNOWN_DATASETS.get(name)
    if known is None or not known.sha256:
        return False
    for array_name, expected in known.sha256.items():
        if hashes[array_name] != expected:
            raise DataError(
                f"{origin[array_name]}: decoded content does not match the known {name} "
                f"(SHA-256 {hashes[array_name][:12]}..., expected {expected[:12]}...); "
                "the file is corrupt or another dataset"
            )
    return True


def class_names_for(params: DataParams, source_names: list[str] | None) -> list[str]:
    if params.class_names is not None:
        return list(params.class_names)
    if source_names:
        return list(source_names)
    known = KNOWN_DATASETS.get(params.name)
    if known is None:
        raise ConfigError(
            f"data.name: got '{params.name}' for the idx source, which has no known class names; "
            f"use one of {sorted(KNOWN_DATASETS)} or set data.class_names"
        )
    return list(known.class_names)


def load_source(params: DataParams) -> tuple[dict[str, np.ndarray], list[str], dict[str, str], str]:
    """Arrays, class names, where each array came from, and a one-line description of the source."""
    if params.source == "idx":
        hint = KNOWN_DATASETS[params.name].install_hint if params.name in KNOWN_DATASETS else ""
        arrays = load_idx_directory(params.idx_dir, hint)
        origin = {key: f"{params.idx_dir}/{name}" for key, name in IDX_FILES.items()}
        return arrays, class_names_for(params, None), origin, f"IDX files in {params.idx_dir}"
    from pipeline.data.tfds_source import load_tfds

    data_dir = paths.inside_repository(params.tfds_dir, "data.tfds_dir")
    arrays, names = load_tfds(params.name, data_dir, params.tfds_download)
    origin = {key: f"tfds:{params.name}[{key.split('_')[0]}]" for key in ARRAY_NAMES}
    return arrays, class_names_for(params, names), origin, f"tensorflow-datasets '{params.name}' in {params.tfds_dir}"


def prepare(params: DataParams) -> tuple[dict[str, np.ndarray], dict]:
    """Load, check and describe the dataset; the card says what was loaded and how it was verified."""
    arrays, class_names, origin, description = load_source(params)
    check_arrays(arrays, len(class_names), origin)
    hashes = {name: sha256_of(arrays[name]) for name in ARRAY_NAMES}
    verified = verify_known_hashes(params.name, hashes, origin)
    card = {
        "name": params.name,
        "source": description,
        "class_names": class_names,
        "image_shape": list(arrays["train_images"].shape[1:]),
        "counts": {
            part: {
                "images": int(len(arrays[f"{part}_labels"])),
                "per_class": np.bincount(arrays[f"{part}_labels"], minlength=len(class_names)).tolist(),
            }
            for part in ("train", "test")
        },
        "sha256": hashes,
        "verified_against_known_hashes": verified,
    }
    return arrays, card
