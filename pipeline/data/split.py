"""Seeded, class-balanced splits: a validation set and nested labelled subsets, one per budget."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError

SUBSETS = ("train", "valid", "test")


def draw_column(draw: int) -> str:
    """The column that ranks each training image within its class for one labelled draw (-1: not drawable)."""
    return f"rank_{draw}"


def make_split(
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    class_count: int,
    *,
    validation_size: int,
    budgets: list[int],
    seed: int,
    draws: int = 1,
) -> pd.DataFrame:
    """One row per image: which subset it is in, its row in that subset, and its rank in each labelled draw.

    The validation set is stratified. Each draw ranks the remaining training images of every class in a
    fresh random order; a budget of B labels takes the B / classes first of each class, so the subsets are
    class-balanced and nested within a draw (the 100 labels are among the 600), and draws are independent.
    """
    if validation_size >= len(train_labels):
        raise ConfigError(
            f"split.validation_size: got {validation_size}, "
            f"must be smaller than the {len(train_labels)} training images"
        )
    is_valid, pools = _hold_out_validation(train_labels, class_count, validation_size, budgets, seed)
    ranks = np.full((draws, len(train_labels)), -1, dtype=np.int64)
    for draw in range(draws):
        draw_rng = np.random.default_rng([seed, draw + 1])
        for pool in pools:
            ranks[draw, draw_rng.permutation(pool)] = np.arange(len(pool))

    rows = []
    for subset, mask in (("train", ~is_valid), ("valid", is_valid)):
        index = np.flatnonzero(mask)
        rows.append(
            pd.DataFrame(
                {
                    "subset": subset,
                    "row": np.arange(len(index)),
                    "source_index": index,
                    "label": train_labels[index].astype(np.int64),
                    **{draw_column(draw + 1): ranks[draw, index] for draw in range(draws)},
                }
            )
        )
    rows.append(
        pd.DataFrame(
            {
                "subset": "test",
                "row": np.arange(len(test_labels)),
                "source_index": np.arange(len(test_labels)),
                "label": test_labels.astype(np.int64),
                **{draw_column(draw + 1): -1 for draw in range(draws)},
            }
        )
    )
    return pd.concat(rows, ignore_index=True)


def _hold_out_validation(
    train_labels: np.ndarray, class_count: int, validation_size: int, budgets: list[int], seed: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A stratified validation set (each class its share, rounded so the total is exact) and, per class, the
    training images left to draw labels from; checks that every budget can be drawn from them."""
    counts = np.bincount(train_labels, minlength=class_count)
    shares = counts * validation_size / len(train_labels)
    per_class_valid = np.floor(shares).astype(int)
    remainder = validation_size - per_class_valid.sum()
    per_class_valid[np.argsort(-(shares - per_class_valid), kind="stable")[:remainder]] += 1

    rng = np.random.default_rng(seed)
    is_valid = np.zeros(len(train_labels), dtype=bool)
    pools = []
    for label in range(class_count):
        members = rng.permutation(np.flatnonzero(train_labels == label))
        is_valid[members[: per_class_valid[label]]] = True
        pools.append(np.sort(members[per_class_valid[label] :]))
        for budget in budgets:
            if budget % class_count:
                raise ConfigError(
                    f"split.budgets: got {budget}, must be a multiple of the {class_count} classes "
                    "(the subsets are class-balanced)"
                )
            if budget // class_count > len(pools[-1]):
                raise ConfigError(
                    f"split.budgets: got {budget}, needs {budget // class_count} labelled images of class {label}, "
                    f"which has only {len(pools[-1])} outside the validation set"
                )
    return is_valid, pools


def draw_count(table: pd.DataFrame) -> int:
    return sum(1 for column in table.columns if column.startswith("rank_"))


def subset_images(images_train: np.ndarray, images_test: np.ndarray, table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Images of each subset in table order, scaled to [0, 1] and flattened: the first layer's input."""

    def rows(subset: str) -> np.ndarray:
        return table.loc[table["subset"] == subset, "source_index"].to_numpy()

    scale = lambda images: images.reshape(len(images), -1).astype(np.float32) / np.float32(255)  # noqa: E731
    return {
        "train": scale(images_train[rows("train")]),
        "valid": scale(images_train[rows("valid")]),
        "test": scale(images_test[rows("test")]),
    }


def labelled(table: pd.DataFrame, budget: int, draw: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Rows (in the train features) and labels of one budget's labelled subset in one draw (counted from 1)."""
    class_count = table["label"].max() + 1
    ranks = table[draw_column(draw)]
    chosen = table[(table["subset"] == "train") & (ranks >= 0) & (ranks < budget // class_count)]
    return chosen["row"].to_numpy(), chosen["label"].to_numpy()


def labels_of(table: pd.DataFrame, subset: str) -> np.ndarray:
    return table.loc[table["subset"] == subset, "label"].to_numpy()


def draw_seed(seed: int, draw: int) -> int:
    """The seed of the classifiers trained on labelled draw ``draw``: each draw its own, all from params.seed.
    Draws count from 1; draw 0 seeds what is learnt from the unlabelled pool alone (the propagation graph)."""
    return int(np.random.SeedSequence([seed, draw]).generate_state(1)[0] >> 1)
