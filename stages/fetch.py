"""Stage `fetch`: read the raw dataset from its source, check it, write the prepared arrays and card."""

from pipeline import config
from pipeline.data.prepare import prepare
from pipeline.report import figures
from pipeline.runtime import io, paths, tracking
from pipeline.runtime.stage import run, stage_name


def main(argv: list[str]) -> None:
    params = config.load()
    arrays, card = prepare(params.data)
    io.write_arrays(paths.PREPARED, arrays)
    io.write_json(paths.CARD, card)
    with tracking.stage_run(
        stage_name("fetch"), params.mlflow.experiment, {"data": params.data.model_dump()}, inputs=[paths.PREPARED]
    ) as logged:
        logged.log_metrics(
            {"train_images": card["counts"]["train"]["images"], "test_images": card["counts"]["test"]["images"]}
        )
        samples = figures.sample_grid(arrays["train_images"], arrays["train_labels"], card["class_names"])
        logged.log_figure(figures.png_bytes(samples), "samples.png")
        logged.log_artifact(paths.CARD)


if __name__ == "__main__":
    run(main)
