"""Stage `report`: every metric in one table and every figure, rendered to reports/."""

import pandas as pd

from pipeline import config
from pipeline.config import PIXELS
from pipeline.fewlabel.bars import bars_table
from pipeline.fewlabel.probe_results import pays_sentence, pays_table, probe_accuracies, probe_rows
from pipeline.fewlabel.results import (
    draw_accuracies,
    fewlabel_table,
    graph_table,
    mean_table,
    plot_columns,
    pretraining_table,
    spread_table,
    verdicts,
)
from pipeline.report import figures
from pipeline.report.render import (
    FIGURE_TITLES,
    Figure,
    Report,
    accuracy_display,
    all_metrics,
    chapter_sections,
    headline,
    layer_table,
    render,
)
from pipeline.runtime import io, paths, shards, tracking
from pipeline.runtime.stage import run, stage_name


def build_figures(params, means: pd.DataFrame, spreads: pd.DataFrame) -> dict[str, Figure]:
    histories = {name: pd.read_csv(paths.pretrain_history(name)) for name in params.pretrain.layers}
    stack_history = pd.read_csv(paths.STACK_HISTORY)
    if len(stack_history):
        histories["stacked fine-tuning"] = stack_history
    test_images = io.read_array(paths.features(PIXELS) / "test.npy")
    saved = shards.read_arrays(paths.RECONSTRUCTIONS, ["before", "after"])
    drawn = {
        "learning_curves": (
            "Training (dashed) and validation (solid) reconstruction MSE of each layer, on its own input, and of "
            "the stack's end-to-end fine-tuning when it ran.",
            figures.learning_curves(histories),
        ),
        "reconstructions": (
            "Test images (top) and the stacked autoencoder's reconstructions.",
            figures.stack_reconstructions(
                test_images, saved, params.stack.finetune_epochs > 0, params.report.reconstructions
            ),
        ),
        "accuracy_vs_labels": (
            "Mean test accuracy over the label draws against the number of labelled training images "
            "(log scale); the bars are one standard deviation.",
            figures.accuracy_vs_labels(means, spreads),
        ),
    }
    return {
        name: Figure(name, FIGURE_TITLES[name], caption, figures.png_bytes(figure))
        for name, (caption, figure) in drawn.items()
    }


def main(argv: list[str]) -> None:
    params = config.load()
    card = io.read_json(paths.CARD)
    accuracies, probes = draw_accuracies(params), probe_accuracies(params)
    means, spreads = mean_table(accuracies), spread_table(accuracies)
    report = Report(
        params=params,
        card=card,
        layers=layer_table(params),
        stack=io.read_json(paths.STACK_METRICS),
        accuracy=accuracy_display(means, spreads),
        verdicts=verdicts(accuracies),
        pretraining=pretraining_table(accuracies),
        graph=graph_table(io.read_json(paths.LABELS_METRICS), accuracies),
        pays=pays_table(params, probes, accuracies),
        pays_sentence=pays_sentence(probes),
        bars=bars_table(probes, accuracies),
    )
    report.figures = build_figures(params, means, spreads)
    report.chapter = chapter_sections(params)
    index_html, report_md = render(report)

    figures_written = [*report.figures.values(), *(section.figure for section in report.chapter)]
    io.write_bytes_tree(paths.REPORT_FIGURES, {f"{figure.name}.png": figure.png for figure in figures_written})
    io.write_csv(paths.ACCURACY_PLOT, means.reindex(columns=plot_columns()), index=True)
    io.write_csv(paths.FEWLABEL_SUMMARY, pd.concat([fewlabel_table(accuracies), probe_rows(probes)], ignore_index=True))
    io.write_csv(paths.METRICS_TABLE, all_metrics())
    io.write_json(paths.SUMMARY, headline(params, means, report.stack), sort_keys=False)
    io.write_text(paths.REPORT_MARKDOWN, report_md)
    io.write_text(paths.REPORT_HTML, index_html)
    with tracking.stage_run(
        stage_name("report"), params.mlflow.experiment, {"seed": params.seed}, inputs=[paths.METRICS, paths.CARD]
    ) as logged:
        logged.log_metrics(
            {
                f"test_accuracy_{budget}_{method}": value
                for budget, row in means.iterrows()
                for method, value in row.items()
            }
        )
        logged.log_artifact(paths.REPORT_HTML)
        logged.log_artifact(paths.REPORT_MARKDOWN)


if __name__ == "__main__":
    run(main)
