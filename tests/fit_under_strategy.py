"""One small reconstruction fit under a train.strategy, as a process of its own (logical devices and TF_CONFIG are
fixed per process): ``python -m tests.fit_under_strategy STRATEGY OUTPUT.json [--stop-after N] [--stream DIR]``.

Writes the per-epoch history and a hash of the final weights; with --stop-after it exits (code 3) after that
epoch's checkpoint, as a killed run would; a checkpoint folder beside OUTPUT is resumed. With
``--semi-supervised LABELLED_BATCH`` it trains the semi-supervised autoencoder recipe (its own training loop)
on a few labels of the same rows instead, and writes its predicted class probabilities of 256 rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from pipeline.runtime import environment

ROWS, WIDTH, EPOCHS, BATCH = 2000, 64, 4, 128  # a last batch of 80 rows, split evenly between two replicas


def data(with_labels: bool = False):
    """Smooth images-like rows in [0, 1] with structure worth learning (and, as labels, each row's main part)."""
    rng = np.random.default_rng(0)
    basis = rng.random((8, WIDTH), dtype=np.float32)
    mixtures = rng.dirichlet(np.ones(8), ROWS).astype(np.float32)
    rows = (mixtures @ basis).astype(np.float32)
    return (rows, np.argmax(mixtures, axis=1)) if with_labels else rows


def semi_supervised_predictions(strategy, labelled_batch: int) -> dict:
    """The semi-supervised autoencoder recipe from a random start, 10 labels a class."""
    from pipeline.config import LayerParams
    from pipeline.fewlabel.autoencoder import Params
    from pipeline.fewlabel.autoencoder.train import fit_semi_supervised
    from pipeline.fewlabel.common import Problem, predict
    from pipeline.stats import accuracy

    rows, labels = data(with_labels=True)
    known = np.concatenate([np.flatnonzero(labels == label)[:10] for label in range(8)])
    problem = Problem(
        layers={
            "l1": LayerParams(input="pixels", units=16, output_activation="sigmoid"),
            "l2": LayerParams(input="l1", units=8),
        },
        weights={},
        pool=rows,
        labelled_rows=known,
        labels=labels[known],
        test=(rows[-256:], labels[-256:]),
        class_count=8,
        seed=3,
    )
    # batches that two replicas share unevenly: 8 + 7 and 32 + 31 rows, or 1 + 0 labelled rows
    settings = Params(steps=200, labelled_batch=labelled_batch, unlabelled_batch=63, learning_rate=0.01)
    with strategy.scope():
        model = fit_semi_supervised(problem, settings, pretrained=False)
    return {
        "predictions": model.predict(rows[-256:], verbose=0).tolist(),
        "accuracy": accuracy(predict(model, problem.test[0]), problem.test[1]),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("strategy")
    parser.add_argument("output", type=Path)
    parser.add_argument("--cpu-devices", type=int, default=2)
    parser.add_argument("--stop-after", type=int, default=0)
    parser.add_argument("--stream", type=Path, help="a folder with train/ shards to stream instead of the arrays")
    parser.add_argument("--semi-supervised", type=int, metavar="LABELLED_BATCH", help="the semi-supervised recipe")
    args = parser.parse_args(argv)
    environment.apply()
    import keras

    from pipeline.runtime.shards import Sharded
    from pipeline.training import Checkpoint, distribution, fit, is_chief, make_deterministic

    strategy = distribution(args.strategy, args.cpu_devices)
    make_deterministic(1)
    if args.semi_supervised:
        trained = semi_supervised_predictions(strategy, args.semi_supervised)
        if is_chief(strategy):
            args.output.write_text(json.dumps({"replicas": strategy.num_replicas_in_sync, **trained}))
        return 0
    rows = Sharded.open(args.stream, "train").streamed(shuffle_rows=512) if args.stream else data()

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == args.stop_after:
                sys.exit(3)

    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((WIDTH,)), keras.layers.Dense(16, "selu"), keras.layers.Dense(WIDTH, "sigmoid")]
        )
        checkpoint = Checkpoint(args.output.with_suffix(".checkpoint"), "fingerprint")
        # Stop ends the process at an epoch's end before that epoch's checkpoint is written, as Ctrl-C would
        # (the fit's own checkpointing runs after the callbacks): the checkpoint holds the epoch before.
        history = fit(
            model,
            rows,
            rows,
            epochs=EPOCHS,
            batch_size=BATCH,
            learning_rate=1e-2,
            loss="mse",
            seed=5,
            checkpoint=checkpoint,
            validation_data=(data()[:256], data()[:256]),
            callbacks=[Stop()] if args.stop_after else [],
        )
    weights = hashlib.sha256(b"".join(np.asarray(v).tobytes() for v in model.weights)).hexdigest()
    if is_chief(strategy):
        args.output.write_text(
            json.dumps(
                {"replicas": strategy.num_replicas_in_sync, "history": history.to_dict("list"), "weights": weights}
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
