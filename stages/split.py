"""Stage `split`: the validation set, the nested labelled subsets, and the first layer's input."""

from pipeline import config
from pipeline.config import PIXELS
from pipeline.data.prepare import ARRAY_NAMES
from pipeline.data.split import labelled, make_split, subset_images
from pipeline.runtime import io, paths, shards, tracking
from pipeline.runtime.stage import run, stage_name


def main(argv: list[str]) -> None:
    params = config.load()
    arrays = shards.read_arrays(paths.PREPARED, list(ARRAY_NAMES))
    card = io.read_json(paths.CARD)
    table = make_split(
        arrays["train_labels"],
        arrays["test_labels"],
        len(card["class_names"]),
        validation_size=params.split.validation_size,
        budgets=params.split.budgets,
        seed=params.seed,
        draws=params.split.draws,
    )
    images = subset_images(arrays["train_images"], arrays["test_images"], table)
    if params.split.shard_rows:  # the training images as shards, which the training stages can stream
        images["train"] = shards.shard_rows(images["train"], params.split.shard_rows)
    shards.write_subsets(paths.features(PIXELS), images)
    io.write_csv(paths.SPLIT_TABLE, table)
    counts = table["subset"].value_counts()
    with tracking.stage_run(
        stage_name("split"),
        params.mlflow.experiment,
        {"seed": params.seed, "split": params.split.model_dump()},
        inputs=[paths.PREPARED, paths.CARD],
    ) as logged:
        logged.log_metrics(
            {
                **{f"{subset}_images": int(counts.get(subset, 0)) for subset in ("train", "valid", "test")},
                **{f"labelled_{budget}": len(labelled(table, budget)[0]) for budget in params.split.budgets},
            }
        )
        logged.log_artifact(paths.SPLIT_TABLE)


if __name__ == "__main__":
    run(main)
