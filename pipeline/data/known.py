"""Datasets whose decoded content we know, so that any source of them can be checked."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class KnownDataset:
    class_names: tuple[str, ...]
    # SHA-256 of the decoded uint8 arrays (C order), recorded once from the real files.
    sha256: dict[str, str] = field(default_factory=dict)
    install_hint: str = ""


KNOWN_DATASETS: dict[str, KnownDataset] = {
    "fashion_mnist": KnownDataset(
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        sha256={
            "train_images": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
            "train_labels": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
            "test_images": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
            "test_labels": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
        },
        install_hint="sudo apt-get install dataset-fashion-mnist (Debian), or run `make data`",
    ),
    "mnist": KnownDataset(class_names=tuple(str(digit) for digit in range(10))),
}
