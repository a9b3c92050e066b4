"""Stage `report`: every metric in one table and every figure, rendered to reports/."""

import pandas as pd

from pipeline import config, io, paths, tracking
from pipeline.config import INITIALISATIONS, PIXELS, RECIPES
from pipeline.fewlabel.results import (
    BASELINE, draw_accuracies, fewlabel_table, mean_table, method_name, spread_table, verdicts,
)
from pipeline.report import figures
from pipeline.report.render import (
    Figure, Report, accuracy_display, all_metrics, chapter_sections, layer_table, render,
)
from stages._common import run, stage_name

# Every method gets a column of the accuracy plot (empty when not run): dvc.yaml's plot names them all.
PLOT_COLUMNS = [*(method_name(recipe, init) for recipe in RECIPES for init in INITIALISATIONS), BASELINE]


def build_figures(params, means: pd.DataFrame, spreads: pd.DataFrame) -> dict[str, Figure]:
    histories = {name: pd.read_csv(paths.pretrain_history(name)) for name in params.pretrain.layers}
    stack_history = pd.read_csv(paths.STACK_HISTORY)
    if len(stack_history):
        histories["stacked fine-tuning"] = stack_history
    test_images = io.read_array(paths.features(PIXELS) / "test.npy")
    saved = io.read_arrays(paths.RECONSTRUCTIONS, ["before", "after"])
    return {
        "pretrain_curves": Figure("learning_curves", "Learning curves",
                                  "Training (dashed) and validation (solid) reconstruction MSE of each layer, on its own input.",
                                  figures.png_bytes(figures.learning_curves(histories))),
        "reconstructions": Figure("reconstructions", "Reconstructions",
                                  "Test images (top) and the stacked autoencoder's reconstructions.",
                                  figures.png_bytes(figures.stack_reconstructions(
                                      test_images, saved, params.stack.finetune_epochs > 0,
                                      params.report.reconstructions))),
        "accuracy": Figure("accuracy_vs_labels", "Accuracy against labels",
                           "Mean test accuracy over the label draws against the number of labelled training images "
                           "(log scale); the bars are one standard deviation.",
                           figures.png_bytes(figures.accuracy_vs_labels(means, spreads))),
    }


def main(argv: list[str]) -> None:
    params = config.load()
    card = io.read_json(paths.CARD)
    accuracies = draw_accuracies(params)
    means, spreads = mean_table(accuracies), spread_table(accuracies)
    report = Report(
        params=params, card=card, layers=layer_table(params), stack=io.read_json(paths.STACK_METRICS),
        accuracy=accuracy_display(means, spreads), metrics=all_metrics(params), verdicts=verdicts(accuracies),
    )
    report.figures = build_figures(params, means, spreads)
    report.chapter = chapter_sections(params)
    index_html, report_md = render(report)

    figures_written = [*report.figures.values(), *(section.figure for section in report.chapter)]
    io.write_bytes_tree(paths.REPORTS / "figures", {f"{figure.name}.png": figure.png for figure in figures_written})
    io.write_csv(paths.REPORTS / "plots" / "accuracy.csv", means.reindex(columns=PLOT_COLUMNS), index=True)
    io.write_csv(paths.FEWLABEL_SUMMARY, fewlabel_table(accuracies))
    io.write_csv(paths.REPORTS / "metrics.csv", report.metrics)
    io.write_text(paths.REPORTS / "report.md", report_md)
    io.write_text(paths.REPORTS / "index.html", index_html)
    with tracking.stage_run(stage_name("report"), params.mlflow.experiment, {"seed": params.seed},
                            inputs=[paths.METRICS, paths.CARD]) as logged:
        logged.log_metrics({f"test_accuracy_{budget}_{method}": value
                            for budget, row in means.iterrows() for method, value in row.items()})
        logged.log_artifact(paths.REPORTS / "index.html")
        logged.log_artifact(paths.REPORTS / "report.md")


if __name__ == "__main__":
    run(main)
