"""The least time this machine needs for the training that params.yaml asks of pretrain, stack, graph and the
few-label stages (classify, random-start).

Counts the floating-point work of every dense or conv layer that those stages train or apply (a matmul of 2 * inputs *
units FLOPs per image forward, twice that backward; the nearest-neighbour graph's distances, and the vote's, as
one matmul; the patch features' convolution of the training and test images) and divides it by numpy's float32
matrix-multiply rate measured in the same run. Nothing runs faster than sgemm on this CPU, and the count leaves out
everything else (activations, the optimizer, data feeding, TensorFlow's start, and the chapter, validate, fetch,
split, baseline and report stages), so each floor is a lower bound on what any implementation of the same params
can take. Beside each floor: the stage's last measured duration in MLflow, when there is one. A budget in seconds
(``--goal``) says whether the params can fit it at all.

A second floor counts the same FLOPs at numpy's rate on each stage's own matrices: one step's forward and backward
matmuls for a batch of the rows params.yaml gives the stage (32 images for a few-label classifier), on the threads
each of its processes has, times its processes. A step needs the weights the previous step left, so no
implementation that takes the same steps can batch them into larger matrices.

Usage: python benchmarks/work_floor.py [--goal SECONDS]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline.runtime import environment  # noqa: E402

environment.apply()  # the project's variables, and TensorFlow without its start-up chatter

import numpy as np  # noqa: E402
from throughput import _timed, sgemm_gflops, training_flops  # noqa: E402


def applying_flops(model, images: int) -> float:
    """Forward only: a prediction, or a frozen layer that passes no gradient back."""
    return training_flops(model, images) / 3


def pipeline_models(params, input_dim: int, class_count: int) -> dict:
    """The pipeline's own models for the params: the shallow autoencoders, the stack (whose encoder the few-label
    recipes start from) and the classifier (that encoder and a softmax head)."""
    from pipeline.models.autoencoders import ShallowAutoencoder, StackedAutoencoder, classifier

    layers = params.pretrain.layers
    shallow, width = {}, input_dim
    for name, layer in layers.items():
        shallow[name] = ShallowAutoencoder(name, layer, width, params.pretrain.input_channels(name))
        width = shallow[name].encoder.output_shape[-1]
    stack = StackedAutoencoder(layers, input_dim)
    whole = classifier(layers, input_dim, class_count, encoder_weights=None, trainable_encoder=True)
    return {
        "shallow": shallow,
        "stack": stack.autoencoder,
        "encoder": stack.encoder,
        "classifier": whole,
        "coding_width": width,
    }


def images_seen(steps: int, count: int, batch_size: int) -> int:
    """The images a training of ``steps`` updates on ``count`` labelled images goes through: it runs whole epochs."""
    from pipeline.fewlabel.common import epochs_for_steps

    return epochs_for_steps(steps, count, batch_size) * count


def classify_flops(recipe: str, settings, budget: int, pool: int, test: int, models: dict) -> float:
    """One classifier of ``recipe`` on one labelled draw, scored on the test images."""
    from pipeline.fewlabel.propagation.train import training_set

    whole, encoder = models["classifier"], models["encoder"]
    head = training_flops(whole, 1) - training_flops(encoder, 1)  # per image, forward and backward
    scoring = applying_flops(whole, test)
    if recipe in ("supervised", "frozen"):
        seen = images_seen(settings.steps, budget, settings.batch_size)
    if recipe == "supervised":
        return training_flops(whole, seen) + scoring
    if recipe == "frozen":  # the encoder applied once to the labelled images, the head trained on their codings
        return applying_flops(encoder, budget) + head * seen + scoring
    if recipe == "autoencoder":
        images = settings.steps * (settings.labelled_batch + settings.unlabelled_batch)
        decoder = training_flops(models["stack"], 1) - training_flops(encoder, 1)
        return (
            training_flops(encoder, images)
            + head * settings.steps * settings.labelled_batch
            + decoder * settings.steps * settings.unlabelled_batch
            + scoring
        )
    if recipe == "propagation":  # the student; the graph, the propagated labels and the vote are the graph's
        rows = np.arange(budget)
        second, _ = training_set(np.zeros((pool, 1), np.int8), np.zeros(pool, int), rows, rows, settings.labelled_share)
        return training_flops(whole, settings.epochs * len(second)) + scoring + applying_flops(whole, budget)
    raise ValueError(f"work_floor: no count for recipe '{recipe}'")


def graph_flops(settings, pool: int, test: int, input_dim: int) -> float:
    """The graph stage, once per dataset: one convolution of every image with the centroids and the whitening, then
    the distances of every training and test image to every training image."""
    patches = settings.patches
    positions = (round(input_dim**0.5) - patches.size + 1) ** 2
    convolution = 2.0 * (pool + test) * positions * patches.size**2 * (patches.centroids + patches.size**2)
    return convolution + 2.0 * (pool + test) * pool * patches.dims


def stage_flops(params, counts: dict[str, int], models: dict) -> dict[str, float]:
    """Every pretrain, stack and classify stage's FLOPs, by stage name."""
    everything = sum(counts.values())
    flops = {}
    for name, shallow in models["shallow"].items():
        layer = params.pretrain.layers[name]
        flops[f"pretrain@{name}"] = (
            training_flops(shallow.autoencoder, layer.epochs * counts["train"])
            + applying_flops(shallow.autoencoder, layer.epochs * counts["valid"])  # each epoch's validation loss
            + applying_flops(shallow.encoder, everything)  # the cached codings of every subset
        )
    epochs = params.stack.finetune_epochs
    flops["stack"] = training_flops(models["stack"], epochs * counts["train"]) + applying_flops(
        models["stack"], epochs * counts["valid"]
    )
    for recipe in params.classify.recipes:  # one stage per recipe and start: every budget's draws
        settings = getattr(params.classify, recipe)
        every = params.split.draws * sum(
            classify_flops(recipe, settings, budget, counts["train"], counts["test"], models)
            for budget in params.split.budgets
        )
        flops[f"classify@{recipe}"] = every
        if recipe in params.classify.random_start:
            flops[f"random-start@{recipe}"] = every
    if "propagation" in params.classify.recipes:
        flops["graph"] = graph_flops(
            params.classify.propagation, counts["train"], counts["test"], models["classifier"].input_shape[-1]
        )
    return flops


def dense_widths(model) -> list[int] | None:
    """The widths a batch goes through in ``model``'s dense layers (784, 300, 150, 10), None with another kind."""
    import keras

    layers = [layer for layer in model._flatten_layers(include_self=False) if layer.weights]
    if not layers or not all(isinstance(layer, keras.layers.Dense) for layer in layers):
        return None
    return [int(layers[0].kernel.shape[0]), *(int(layer.kernel.shape[1]) for layer in layers)]


def step_gflops(rows: int, widths: list[int], threads: int, repeats: int = 200) -> float:
    """numpy's GFLOP/s on one training step's matmuls, on ``threads`` threads: a batch of ``rows`` through dense
    layers of ``widths``, forward (x @ w) and backward (dy @ w.T, x.T @ dy)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    shapes = list(zip(widths, widths[1:]))
    arrays = [[rng.random(shape, dtype=np.float32) for shape in ((rows, a), (a, b), (rows, b))] for a, b in shapes]

    def step():
        for x, w, dy in arrays:
            x @ w, dy @ w.T, x.T @ dy

    with threadpool_limits(threads):
        step()  # warm-up
        best = min(_timed(step) for _ in range(repeats))
    return sum(6.0 * rows * a * b for a, b in shapes) / best / 1e9


def stage_rates(params, models: dict, peak: float) -> dict[str, float]:
    """Each stage's FLOP/s at its own step shapes (:func:`step_gflops`): its batch rows, its model's widths, its
    processes; the graph's matrices are large, so the peak."""
    import os

    cores = os.cpu_count() or 1
    processes = max(1, min(params.classify.processes, cores))
    shapes = {}  # stage: (rows, model, processes)
    for name, shallow in models["shallow"].items():
        shapes[f"pretrain@{name}"] = (params.pretrain.layers[name].batch_size, shallow.autoencoder, 1)
    shapes["stack"] = (params.stack.batch_size, models["stack"], 1)
    for recipe in params.classify.recipes:
        settings = getattr(params.classify, recipe)
        if recipe == "autoencoder":
            shape = (settings.labelled_batch + settings.unlabelled_batch, models["stack"], processes)
        else:
            shape = (settings.batch_size, models["classifier"], processes)
        shapes[f"classify@{recipe}"] = shapes[f"random-start@{recipe}"] = shape
    rates, measured = {}, {}
    for stage, (rows, model, share) in shapes.items():
        widths = dense_widths(model)
        key = (rows, tuple(widths or ()), share)
        if widths and key not in measured:
            measured[key] = share * step_gflops(rows, widths, max(1, cores // share)) * 1e9
        rates[stage] = min(peak, measured[key]) if widths else peak
    return rates


def measured_seconds(stages, experiment: str) -> dict[str, float]:
    """Each stage's duration in its newest MLflow run (empty when the store cannot be read)."""
    import mlflow

    from pipeline.runtime import tracking

    mlflow.set_tracking_uri(tracking.tracking_uri())
    seconds = {}
    try:
        for stage in stages:
            runs = mlflow.search_runs(
                experiment_names=[experiment],
                filter_string=f"attributes.run_name = '{stage}'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
            if len(runs) and runs["end_time"].notna().iloc[0]:
                seconds[stage] = (runs["end_time"].iloc[0] - runs["start_time"].iloc[0]).total_seconds()
    except mlflow.exceptions.MlflowException as error:
        print(f"(no measured times: {str(error).splitlines()[0]})")
    return seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--goal", type=float, default=600.0, help="seconds the whole default pipeline should take")
    args = parser.parse_args(argv)

    import pandas as pd

    from pipeline import config
    from pipeline.data.split import labels_of
    from pipeline.errors import UserError
    from pipeline.runtime import io, paths, shards

    try:
        params = config.load()
        table = pd.read_csv(paths.SPLIT_TABLE)
        class_count = len(io.read_json(paths.CARD)["class_names"])
    except (UserError, FileNotFoundError) as error:
        print(f"work_floor: {error} (run `dvc repro split` first)", file=sys.stderr)
        return 2
    counts = {subset: len(labels_of(table, subset)) for subset in ("train", "valid", "test")}
    pixels = shards.read_arrays(paths.features(config.PIXELS), ["test"])["test"].shape[1]
    models = pipeline_models(params, pixels, class_count)
    flops = stage_flops(params, counts, models)
    peak = sgemm_gflops() * 1e9
    shaped_rates = stage_rates(params, models, peak)
    rates = {stage: shaped_rates.get(stage, peak) for stage in flops}
    measured = measured_seconds(flops, params.mlflow.experiment)

    print(f"numpy sgemm 2048x2048: {peak / 1e9:.1f} GFLOP/s; images: {counts}")
    print(f"{'stage':32} {'GFLOP':>9} {'floor s':>8} {'at its shapes':>14} {'GFLOP/s':>8} {'measured s':>11}")
    for stage, work in flops.items():
        seen = f"{measured[stage]:.0f}" if stage in measured else "-"
        shaped = f"{work / rates[stage]:14.1f} {rates[stage] / 1e9:8.0f}"
        print(f"{stage:32} {work / 1e9:9.0f} {work / peak:8.1f} {shaped} {seen:>11}")
    total = sum(flops.values()) / peak
    print(f"floor of pretrain, stack, graph and the few-label stages together: {total:.0f} s ({total / 60:.1f} min)")
    if len(measured) == len(flops):
        print(f"measured: {sum(measured.values()):.0f} s, {sum(measured.values()) / total:.1f}x the floor")
    last = list(params.pretrain.layers)[-1]

    def floor(stages) -> tuple[float, float, float | None]:
        seconds = sum(flops[stage] for stage in stages) / peak
        at_shapes = sum(flops[stage] / rates[stage] for stage in stages)
        seen = sum(measured[stage] for stage in stages) if all(stage in measured for stage in stages) else None
        return seconds, at_shapes, seen

    changes = {
        f"a pretrain.layers.{last} change that keeps the encoder's shape (epochs, noise, ...)": [
            f"pretrain@{last}",
            "stack",
            *(stage for stage in flops if stage.startswith("classify@")),
        ],
        f"a pretrain.layers.{last} change of its units (the random starts rerun too)": [
            f"pretrain@{last}",
            "stack",
            *(stage for stage in flops if stage.startswith(("classify@", "random-start@"))),
        ],
        **{
            f"a classify.{recipe} change": [
                stage for stage in (f"classify@{recipe}", f"random-start@{recipe}") if stage in flops
            ]
            for recipe in params.classify.recipes
        },
    }
    for change, stages in changes.items():
        seconds, at_shapes, seen = floor(stages)
        print(f"{change} reruns {len(stages)} of these stages: floor {seconds:.0f} s", end="")
        print(f" ({at_shapes:.0f} s at their shapes)", end="")
        print(f", measured {seen:.0f} s ({seen / seconds:.1f}x; {seen / at_shapes:.1f}x)" if seen else "")
    verdict = "can fit" if total <= args.goal else "cannot fit"
    print(f"work floor: {total:.0f} s; these params {verdict} in {args.goal:.0f} s on this machine")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
