"""The report: one Markdown document (templates/report.md.j2 and each technique's section), and the HTML page
rendered from that same Markdown, so the two cannot say different things."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd
from markdown_it import MarkdownIt

from pipeline import fewlabel
from pipeline.chapter import FOLDER as TECHNIQUES_FOLDER
from pipeline.chapter import TECHNIQUES
from pipeline.config import Params
from pipeline.report.figures import png_bytes
from pipeline.report.tables import markdown_escape, markdown_table, mean_and_spread, number
from pipeline.runtime import io, paths
from pipeline.stats import CONFIDENCE

TEMPLATES = Path(__file__).parent / "templates"
__all__ = ["FIGURE_TITLES", "Figure", "Report", "Section", "environment", "markdown_escape", "render"]


# The report's own figures (file name under reports/figures/: title), in its order; each chapter technique's,
# chapter_<name>.png, follows under the technique's title.
FIGURE_TITLES = {
    "learning_curves": "Learning curves",
    "reconstructions": "Reconstructions",
    "accuracy_vs_labels": "Accuracy against labels",
}


@dataclass
class Figure:
    name: str
    title: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    @property
    def path(self) -> str:
        """Where the Markdown report finds it, relative to reports/."""
        return f"figures/{self.name}.png"


@dataclass
class Section:
    """One technique of the chapter: its text (from its section.md.j2), its table, its figure."""

    name: str
    title: str
    paragraphs: list[str]
    table: pd.DataFrame
    figure: Figure


def layer_table(params: Params) -> pd.DataFrame:
    rows = []
    for name, layer in params.pretrain.layers.items():
        metrics = io.read_json(paths.pretrain_metrics(name))
        rows.append(
            {
                "layer": name,
                "input": layer.input,
                "units": layer.size_in_words(),
                "activation": layer.activation,
                "tied": layer.tied,
                "noise": _option(layer.noise, layer.noise_level),
                "sparsity": _option(layer.sparsity, layer.sparsity_weight),
                "epochs": layer.epochs,
                "parameters": metrics["parameters"],
                "train MSE": metrics["train_mse"],
                "validation MSE": metrics["valid_mse"],
                "test MSE": metrics["test_mse"],
            }
        )
    return pd.DataFrame(rows)


def _option(kind: str, amount: float) -> str:
    return "none" if kind == "none" else f"{kind} {amount:g}"


def accuracy_display(means: pd.DataFrame, spreads: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy as 'mean ± sd' over the draws, one row per budget, one column per method (titled)."""
    columns = {
        _method_label(column): [mean_and_spread(mean, spread) for mean, spread in zip(means[column], spreads[column])]
        for column in means.columns
    }
    return pd.DataFrame({"labels": means.index, **columns})


def _method_label(column: str) -> str:
    """A short column title: ``propagation``, ``propagation (random start)``, ``logistic regression``."""
    return column.replace("_random", " (random start)").replace("_", " ")


def all_metrics() -> pd.DataFrame:
    """Every stage's measures in one long table (file, metric with nested keys joined by dots, value)."""
    rows = [
        {"file": path.relative_to(paths.METRICS).as_posix(), "metric": metric, "value": value}
        for path in sorted(paths.METRICS.rglob("*.json"))
        for metric, value in pd.json_normalize(io.read_json(path)).iloc[0].items()
    ]
    return pd.DataFrame(rows, columns=["file", "metric", "value"])


def headline(params: Params, means: pd.DataFrame, stack: dict) -> dict:
    """The numbers one compares across experiments (``dvc exp show``, ``dvc metrics diff``): mean test accuracy
    per budget of each recipe started from the pretrained encoder and of the logistic regression, and the test
    reconstruction MSE of each layer and of the stack."""
    accuracy = {
        str(budget): {method: round(float(value), 6) for method, value in row.items() if not method.endswith("_random")}
        for budget, row in means.iterrows()
    }
    mse = {name: io.read_json(paths.pretrain_metrics(name))["test_mse"] for name in params.pretrain.layers}
    mse["stack"] = stack["test_mse_before_finetune"]
    if params.stack.finetune_epochs:
        mse["stack_finetuned"] = stack["test_mse_after_finetune"]
    return {"accuracy": accuracy, "mse": mse}


def chapter_sections(params: Params) -> list[Section]:
    """Each technique's section, in the chapter's order, from its stage's outputs and its own folder."""
    chapter = {technique.name: io.read_json(paths.chapter_metrics(technique.name)) for technique in TECHNIQUES}
    templates = environment()
    sections = []
    for technique in TECHNIQUES:
        history_file = paths.chapter_history(technique.name)
        history = pd.read_csv(history_file) if history_file.exists() else pd.DataFrame()
        drawing = technique.report()
        metrics = chapter[technique.name]
        text = templates.get_template(f"{technique.name}/section.md.j2").render(
            m=metrics,
            p=technique.params_of(params),
            params=params,
            chapter=chapter,
            book=getattr(technique.package(), "BOOK_VALIDATION_MSE", None),
        )
        paragraphs = [" ".join(paragraph.split()) for paragraph in text.split("\n\n") if paragraph.strip()]
        figure = drawing.figure(io.read_array_folder(paths.chapter_arrays(technique.name)), metrics, history)
        sections.append(
            Section(
                technique.name,
                technique.title,
                paragraphs[:-1],
                drawing.table(metrics, params, chapter),
                Figure(f"chapter_{technique.name}", technique.title, paragraphs[-1], png_bytes(figure)),
            )
        )
    return sections


@dataclass
class Report:
    params: Params
    card: dict
    layers: pd.DataFrame
    stack: dict
    accuracy: pd.DataFrame  # 'mean ± sd' per budget and method
    verdicts: list[str]
    pretraining: pd.DataFrame  # per budget and recipe: pretrained - random start, its interval and verdict
    graph: pd.DataFrame  # per budget: label propagation's graph alone against graph and network
    pays: pd.DataFrame  # per layer and probe: its codings against the pixels; the best recipe from the stack
    pays_sentence: str = ""  # the largest gain over the pixels at the smallest budget, in words
    bars: pd.DataFrame = field(default_factory=pd.DataFrame)  # the study's bars and where this run stands
    figures: dict[str, Figure] = field(default_factory=dict)
    chapter: list[Section] = field(default_factory=list)

    @property
    def recipes(self) -> str:
        """The recipes that ran, each in a phrase of its own (its SUMMARY)."""
        summaries = [fewlabel.recipe(name).summary for name in self.params.classify.recipes]
        listed = summaries[0] if len(summaries) == 1 else f"{', '.join(summaries[:-1])} and {summaries[-1]}"
        return f"{'several recipes: ' if len(summaries) > 1 else 'one recipe: '}{listed}"

    @property
    def not_run(self) -> str:
        """The recipes this run left out, by name: those run only on request, or dropped from classify.recipes."""
        return ", ".join(
            f"`{recipe.name}`" for recipe in fewlabel.RECIPES if recipe.name not in self.params.classify.recipes
        )

    @property
    def twins(self) -> str:
        """The recipes that also started from a random encoder, by name: "supervised, frozen and propagation"."""
        names = [f"*{name}*" for name in self.params.classify.random_start]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

    @property
    def confidence(self) -> str:
        return f"{CONFIDENCE * 100:.0f} %"

    @property
    def labels_note(self) -> str:
        if self.params.classify.use_validation_labels:
            return (
                f"Beyond their budget, the supervised and frozen recipes also see the "
                f"{self.params.split.validation_size} validation labels, used for early stopping; the other recipes "
                "do not use them."
            )
        return (
            "No classifier sees any label beyond its budget: training runs a fixed number of epochs or steps, "
            "and the validation labels are never used."
        )

    @property
    def protocol(self) -> str:
        draws = self.params.split.draws
        return (
            f"Each budget has {draws} independent, class-balanced labelled draw{'s' if draws > 1 else ''} "
            "(nested within a draw: the smaller budgets' labels are among the larger ones'); every recipe trains on "
            "each draw with that draw's own seed, the logistic regression on each draw too, and the table gives the "
            "mean and standard deviation of the test accuracy over the draws. A method beats another only when the "
            f"{self.confidence} Student-t interval of their paired difference over the same draws excludes "
            "zero. "
            "The unlabelled images are the training images only (never the test images, which only score "
            "the final models), and the recipes' settings were chosen once, on the validation split, "
            "the same for every budget."
        )


def environment() -> jinja2.Environment:
    """Jinja for the report and comparison templates and each technique's section.md.j2."""
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader([TEMPLATES, TECHNIQUES_FOLDER]),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    templates.filters["md"] = markdown_escape
    templates.filters["num"] = number
    templates.filters["table"] = markdown_table
    return templates


def markdown_to_html(markdown: str, images: dict[str, str]) -> str:
    """CommonMark with tables, raw HTML off (so nothing from params or data becomes markup); each image path
    in ``images`` swapped for its data URI, so the page stands alone."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = parser.parse(markdown)
    for token in tokens:
        for child in token.children or []:
            if child.type == "image" and child.attrGet("src") in images:
                child.attrSet("src", images[child.attrGet("src")])
    return parser.renderer.render(tokens, parser.options, {})


def render(report: Report) -> tuple[str, str]:
    """(index.html, report.md): the page is the Markdown, rendered."""
    templates = environment()
    markdown = templates.get_template("report.md.j2").render(report=report)
    figures = [*report.figures.values(), *(section.figure for section in report.chapter)]
    body = markdown_to_html(markdown, {figure.path: figure.data_uri for figure in figures})
    page = templates.get_template("page.html.j2").render(title=f"layerwise: {report.card['name']}", body=body)
    return page, markdown
