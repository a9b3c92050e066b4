"""How close training gets to this machine's matrix-multiply peak, measured side by side in one process.

The pipeline's stacked autoencoder (784-300-150-300-784 with the default params) on 60,000 images, trained by:
  - the pipeline's own resumable path (``training.fit``, checkpointing every epoch), which pretrain
    and stack use, and its plain path (``training.fit``), which the chapter and the few-label recipes use;
  - a plain Keras ``model.fit`` with Keras's defaults, the baseline every tutorial uses;
and numpy's float32 matrix multiply (2048 x 2048) as the peak. The seconds of an epoch are the median time
between the ends of consecutive epochs after the first (which compiles), so everything an epoch costs inside a
training call counts: data feeding, validation, the checkpoint written after it. Ratios are the claim;
absolute seconds differ between machines. The last line is the pipeline's checkpointed path as a share of sgemm.

Usage: python benchmarks/throughput.py [--images N] [--epochs-timed K]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

BATCH_SIZE = 128
SEED = 42


def sgemm_gflops(size: int = 2048, repeats: int = 10) -> float:
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    b = np.random.default_rng(1).random((size, size), dtype=np.float32)
    a @ b  # warm-up
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def training_flops(model, images: int) -> float:
    """Forward + backward: 3 matmuls of 2 FLOPs per multiply-add of each layer and image. A dense layer multiplies
    inputs * units; a greedy conv layer (or its decoder) its kernel at every position of the grid it reads."""
    import keras

    from pipeline.models.layers import ConvDecoder, ConvEncoder

    multiply_adds = 0
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dense):
            multiply_adds += int(np.prod(layer.kernel.shape))
        elif isinstance(layer, (ConvEncoder, ConvDecoder)):
            multiply_adds += layer.grid[0] * layer.grid[1] * int(np.prod(layer.kernel.shape))
    return 6.0 * images * multiply_adds


def epoch_clock():
    """A callback that notes when each epoch ends (the interval between two ends holds one checkpoint save)."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends: list[float] = []

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter())

        def seconds_per_epoch(self) -> float:
            return float(np.median(np.diff(self.ends)))

    return EpochClock()


def fresh_model():
    import keras

    from pipeline import config
    from pipeline.models.autoencoders import StackedAutoencoder

    keras.utils.set_random_seed(SEED)
    return StackedAutoencoder(config.load().pretrain.layers, 784).autoencoder


def keras_fit(x: np.ndarray, epochs: int, clock, **compile_options):
    import keras

    model = fresh_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", **compile_options)
    history = model.fit(x, x, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, callbacks=[clock], verbose=0)
    return model, history.history["loss"][-1]


def pipeline_fit(x: np.ndarray, epochs: int, clock, checkpointed: bool):
    from pipeline import training

    training.make_deterministic(SEED)
    model = fresh_model()
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = training.Checkpoint(Path(folder) / "checkpoint", "benchmark") if checkpointed else None
        history = training.fit(
            model,
            x,
            x,
            epochs=epochs,
            batch_size=BATCH_SIZE,
            learning_rate=1e-3,
            loss="mse",
            seed=SEED,
            checkpoint=checkpoint,
            callbacks=[clock],
        )
    return model, float(history["loss"].iloc[-1])


PLAIN = "plain Keras model.fit (defaults)"
PIPELINE = "pipeline: training.fit, checkpoint every epoch (pretrain, stack)"
PATHS = {
    PLAIN: keras_fit,
    "Keras model.fit, jit_compile + steps_per_execution=32": functools.partial(
        keras_fit, jit_compile=True, steps_per_execution=32
    ),
    PIPELINE: functools.partial(pipeline_fit, checkpointed=True),
    "pipeline: training.fit, no checkpoint (chapter, few-label recipes)": functools.partial(
        pipeline_fit, checkpointed=False
    ),
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--images", type=int, default=60_000)
    parser.add_argument(
        "--epochs-timed",
        type=int,
        default=4,
        help="epochs timed after the first one (the pipeline's "
        "path compiles with XLA from 2000 steps on, as pretrain's 10 epochs do: keep 1 + K epochs above that)",
    )
    args = parser.parse_args(argv)
    x = np.random.default_rng(SEED).random((args.images, 784), dtype=np.float32)

    peak = sgemm_gflops()
    print(f"numpy sgemm 2048x2048: {peak:.1f} GFLOP/s")
    shares = {}
    for name, train in PATHS.items():
        clock = epoch_clock()
        model, loss = train(x, 1 + args.epochs_timed, clock)
        per_epoch = clock.seconds_per_epoch()
        rate = training_flops(model, args.images) / per_epoch / 1e9
        shares[name] = rate / peak
        print(
            f"{name}: {per_epoch:.2f} s/epoch, {rate:.1f} GFLOP/s, {100 * shares[name]:.0f} % of sgemm, "
            f"loss after {1 + args.epochs_timed} epochs {loss:.5f}"
        )
    plain = shares[PLAIN]
    for name, share in shares.items():
        print(f"{name}: {share / plain:.2f}x plain Keras fit")
    print(f"training throughput: {100 * shares[PIPELINE]:.0f} % of sgemm")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
