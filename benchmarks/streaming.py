"""Streaming from shards as the data grows: peak memory and time per image of the real stages.

Fashion-MNIST's 60,000 training images, shifted (up to 1 pixel each way) and mirrored, make training sets of
60,000 x K images (K = 1, 4, 16: 60k, 240k, 960k), written as shards of 10,000 rows. At each size the
real stage scripts run, one process each, as `dvc repro` runs them: pretrain@l1, pretrain@l2, stack and
classify@supervised at 100 labels (validation: 5,000 of the original images; test: Fashion-MNIST's 10,000). Every layer
and the stack train four epochs with the default settings otherwise (`train.input: stream`); at 60k the
whole-array path (`train.input: arrays`) runs too, for the time per image.

Measured per stage: the peak resident memory of its process (``ru_maxrss`` from ``wait4``), the median
seconds of its training epochs 2 to 4 (the stage's own epoch lines; the first also compiles), and its wall
time. The claim is in ratios, from one run: peak memory at 960k over 60k, and seconds per image streamed over
whole arrays.

Usage: python benchmarks/streaming.py [--sizes 1 4 16] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from pipeline.data.idx import load_idx_directory  # noqa: E402
from pipeline.data.split import draw_column  # noqa: E402
from pipeline.runtime.shards import shard_rows, write_subsets  # noqa: E402

SHARD_ROWS = 10_000
VALIDATION = 5_000
STAGES = [
    ("pretrain@l1", ["stages.pretrain", "l1"]),
    ("pretrain@l2", ["stages.pretrain", "l2"]),
    ("stack", ["stages.stack"]),
    ("classify@supervised", ["stages.classify", "supervised", "pretrained"]),
]
SETUP = [["stages.validate"], ["stages.labels"]]  # the encoder's shape and the labelled draws: run, not measured
EPOCHS = 4  # the median of epochs 2 to 4 is timed: the first also compiles
EPOCH_LINE = re.compile(rf"^epoch (?P<epoch>[0-9]+)/{EPOCHS}: .* \((?P<seconds>[0-9.]+) s\)$", re.MULTILINE)


def variants(images: np.ndarray, copies: int):
    """``copies`` versions of every image, shifted by (dy, dx) in {-1, 0, 1}^2 and mirrored: 18 at most."""
    moves = [(flip, dy, dx) for flip in (False, True) for dy in (0, -1, 1) for dx in (0, -1, 1)]
    for flip, dy, dx in moves[:copies]:
        moved = np.roll(images, (dy, dx), axis=(1, 2))
        yield moved[:, :, ::-1] if flip else moved


def make_project(folder: Path, copies: int, train_input: str, fashion: dict) -> int:
    """A project folder with the default params (one epoch each), sharded pixels, the split table and card."""
    scale = lambda images: images.reshape(len(images), -1).astype(np.float32) / np.float32(255)  # noqa: E731
    images, labels = fashion["train_images"], fashion["train_labels"]
    # every training image is trained on; the validation curve reuses 5,000 of them (this measures cost, not skill)
    valid, train = np.arange(VALIDATION), np.arange(len(images))

    def chunks():
        for version in variants(images[train], copies):
            yield from shard_rows(scale(version), SHARD_ROWS)

    pixels = folder / "data" / "features" / "pixels"
    write_subsets(pixels, {"train": chunks(), "valid": scale(images[valid]), "test": scale(fashion["test_images"])})
    count = len(train) * copies
    train_labels = np.tile(labels[train], copies)
    rng = np.random.default_rng(0)
    ranks = np.full(count, -1)
    for label in range(10):
        members = rng.permutation(np.flatnonzero(train_labels == label))
        ranks[members] = np.arange(len(members))
    table = pd.concat(
        [
            pd.DataFrame({"subset": "train", "row": np.arange(count), "label": train_labels, draw_column(1): ranks}),
            pd.DataFrame({"subset": "valid", "row": valid, "label": labels[valid], draw_column(1): -1}),
            pd.DataFrame(
                {
                    "subset": "test",
                    "row": np.arange(len(fashion["test_labels"])),
                    "label": fashion["test_labels"],
                    draw_column(1): -1,
                }
            ),
        ]
    )
    table.to_csv(folder / "data" / "split.csv", index=False)
    (folder / "data" / "card.json").write_text(json.dumps({"class_names": [str(n) for n in range(10)]}))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for layer in params["pretrain"]["layers"].values():
        layer["epochs"] = EPOCHS
    params["stack"]["finetune_epochs"] = EPOCHS
    params["split"].update(budgets=[100], draws=1)
    params["classify"].update(recipes=["supervised"], random_start=[])
    params["train"]["input"] = train_input
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return count


def run_stage(folder: Path, module: list[str]) -> dict:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", *module],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(module)} failed in {folder}:\n{output[-3000:]}")
    timed = [float(line["seconds"]) for line in EPOCH_LINE.finditer(output) if int(line["epoch"]) > 1]
    return {
        "wall_s": time.perf_counter() - started,
        "epoch_s": float(np.median(timed)) if timed else float("nan"),
        "peak_mb": usage.ru_maxrss / 1024,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16], help="copies of the 60,000 images")
    parser.add_argument("--idx-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--keep", type=Path, help="write the projects here and keep them")
    args = parser.parse_args(argv)
    fashion = load_idx_directory(args.idx_dir)
    runs = [(copies, "stream") for copies in args.sizes]
    runs.insert(1, (args.sizes[0], "arrays"))
    rows = []
    for copies, train_input in runs:
        folder = Path(tempfile.mkdtemp(prefix=f"streaming-{copies}-{train_input}-", dir=args.keep))
        images = make_project(folder, copies, train_input, fashion)
        for module in SETUP:
            run_stage(folder, module)
        os.sync()  # the generated shards on disk before the clock starts, not flushed during training
        for stage, module in STAGES:
            measured = run_stage(folder, module)
            rows.append({"images": images, "input": train_input, "stage": stage, **measured})
            print(json.dumps(rows[-1]), flush=True)
        if not args.keep:
            shutil.rmtree(folder)
    table = pd.DataFrame(rows)
    table["epoch_us_per_image"] = table["epoch_s"] / table["images"] * 1e6
    print()
    print(table.to_markdown(index=False, floatfmt=".1f"))
    streamed = table[table["input"] == "stream"]
    smallest, largest = streamed["images"].min(), streamed["images"].max()
    peak = streamed.pivot(index="stage", columns="images", values="peak_mb")
    per_image = table[table["images"] == smallest].pivot(index="stage", columns="input", values="epoch_us_per_image")
    print()
    for stage in peak.index:
        ratio = peak.loc[stage, largest] / peak.loc[stage, smallest]
        print(f"{stage}: peak memory at {largest:,} images / at {smallest:,}: {ratio:.2f}")
    for stage in per_image.dropna().index:
        print(
            f"{stage}: time per image, streamed / whole arrays at {smallest:,}: "
            f"{per_image.loc[stage, 'stream'] / per_image.loc[stage, 'arrays']:.2f}"
        )
    print(f"streaming peak memory, largest over smallest (worst stage): {(peak[largest] / peak[smallest]).max():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
