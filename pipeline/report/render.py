"""Collect this run's metrics into tables and render the report from templates (HTML and Markdown)."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd

from pipeline import io, paths
from pipeline.chapter import TECHNIQUES, TRAINED_ON_PIXELS
from pipeline.config import PIXELS, Params
from pipeline.report import chapter as chapter_figures
from pipeline.report.figures import png_bytes

TEMPLATES = Path(__file__).parent / "templates"


def accuracy_display(means: pd.DataFrame, spreads: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy as 'mean ± sd' over the draws, one row per budget, one column per method (titled)."""
    return pd.DataFrame({_method_label(column): [f"{mean:.4f}" if spread != spread else f"{mean:.4f} ± {spread:.4f}"
                                                 for mean, spread in zip(means[column], spreads[column])]
                         for column in means.columns}, index=means.index)


def _method_label(column: str) -> str:
    """A short column title: ``propagation``, ``propagation (random start)``, ``logistic regression``."""
    return column.replace("_random", " (random start)").replace("_", " ")


def layer_table(params: Params) -> pd.DataFrame:
    rows = []
    for name, layer in params.pretrain.layers.items():
        metrics = io.read_json(paths.pretrain_metrics(name))
        rows.append({
            "layer": name, "input": layer.input, "units": layer.units, "activation": layer.activation,
            "tied": layer.tied, "noise": _option(layer.noise, layer.noise_level),
            "sparsity": _option(layer.sparsity, layer.sparsity_weight), "epochs": layer.epochs, "parameters": metrics["parameters"],
            "train_mse": metrics["train_mse"], "valid_mse": metrics["valid_mse"], "test_mse": metrics["test_mse"],
        })
    return pd.DataFrame(rows)


def _option(kind: str, amount: float) -> str:
    return "none" if kind == "none" else f"{kind} {amount:g}"


def all_metrics(params: Params) -> pd.DataFrame:
    """Every metric of the run in one long table: stage, metric (nested keys joined by dots), value."""
    sources = {f"pretrain@{name}": paths.pretrain_metrics(name) for name in params.pretrain.layers}
    sources["stack"] = paths.STACK_METRICS
    for budget in params.split.budgets:
        for recipe in params.classify.recipes:
            sources[f"classify@{budget}-{recipe}"] = paths.classify_metrics(budget, recipe)
    sources["baseline"] = paths.BASELINE_METRICS
    sources.update({"features" if name == "features" else f"chapter@{name}": paths.chapter_metrics(name) for name in TECHNIQUES})
    rows = [
        {"stage": stage, "metric": metric, "value": value}
        for stage, path in sources.items()
        for metric, value in pd.json_normalize(io.read_json(path)).iloc[0].items()
    ]
    return pd.DataFrame(rows)


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
        return f"figures/{self.name}.png"


# The book's numbers for the same data and code sizes (Geron, Hands-On ML, autoencoders chapter).
BOOK_ANCHORS = {"phases": ([100, 30], 0.0132), "sparsity": ([100, 300], 0.0099)}

CHAPTER_TITLES = {
    "linear_pca": "Performing PCA with an undercomplete linear autoencoder",
    "tied": "Tying weights",
    "phases": "Training one autoencoder at a time",
    "denoising": "Denoising autoencoders",
    "sparsity": "Sparse autoencoders",
    "features": "Visualizing the features",
    "vae": "Variational autoencoders: generating images",
    "conv": "Convolutional autoencoders",
}


@dataclass
class Section:
    """One technique of the chapter: what it shows (text from its template), a table, one figure."""

    name: str
    title: str
    paragraphs: list[str]
    table: pd.DataFrame
    figure: Figure


def _rows(metrics: dict, models: dict[str, str], columns: dict[str, str]) -> pd.DataFrame:
    """A table with one row per model and one column per metric, from ``<model>_<metric>`` keys."""
    return pd.DataFrame([{"model": label, **{title: metrics.get(f"{model}_{key}", float("nan")) for key, title in columns.items()}}
                         for model, label in models.items()])


def chapter_tables(chapter: dict[str, dict], params: Params) -> dict[str, pd.DataFrame]:
    linear = chapter["linear_pca"]
    # The tied stage counted the untied stack's parameters; they are the joint dense stack's when the sizes agree.
    dense_parameters = chapter["tied"]["untied_parameters"] if params.chapter.tied.units == params.chapter.phases.units else float("nan")
    return {
        "linear_pca": pd.DataFrame([
            {"data": "3-D points, k=2", "autoencoder MSE": linear["synthetic_train_autoencoder_mse"],
             "PCA MSE": linear["synthetic_train_pca_mse"], "ratio": linear["synthetic_train_mse_ratio"],
             "largest angle (deg)": f"{linear['synthetic_max_principal_angle_degrees']:.2f}"},
            {"data": f"images (training), k={linear['codings']}", "autoencoder MSE": linear["images_train_autoencoder_mse"],
             "PCA MSE": linear["images_train_pca_mse"], "ratio": linear["images_train_mse_ratio"],
             "largest angle (deg)": f"{linear['images_max_principal_angle_degrees']:.2f}"},
            {"data": f"images (test), k={linear['codings']}", "autoencoder MSE": linear["images_test_autoencoder_mse"],
             "PCA MSE": linear["images_test_pca_mse"], "ratio": linear["images_test_mse_ratio"],
             "largest angle (deg)": float("nan")},
        ]),
        "tied": _rows(chapter["tied"], {"untied": "untied", "tied": "tied"},
                      {"parameters": "parameters", "valid_mse": "validation MSE", "test_mse": "test MSE"}),
        "phases": _rows(chapter["phases"], {"separate_graphs": "(a) separate graphs", "phases_no_cache": "(b) one graph, phases, no cache",
                                            "phases_cache": "(b) one graph, phases, cached outputs", "joint": "(c) joint, from scratch"},
                        {"valid_mse": "validation MSE", "test_mse": "test MSE",
                         "work": "training work (M multiply-adds per image)"}),
        "denoising": _rows(chapter["denoising"], {"gaussian": "Gaussian noise", "dropout": "dropout", "overcomplete": "overcomplete, Gaussian"},
                           {"test_mse": "clean test MSE", "denoising_mse": "denoising MSE", "copy_mse": "copy MSE"}),
        "sparsity": _rows(chapter["sparsity"], {"plain": "no penalty", "l1": "L1", "kl": "KL divergence"},
                          {"mean_activation": "mean activation", "active_share": "share > 0.5", "valid_mse": "validation MSE",
                           "test_mse": "test MSE"}),
        "features": pd.DataFrame([{"codings": name, "linear probe test accuracy": chapter["features"][f"probe_accuracy_{name}"]}
                                  for name in [PIXELS, *params.pretrain.layers]]),
        "vae": pd.DataFrame([{"codings": chapter["vae"]["codings"], "validation MSE": chapter["vae"]["valid_mse"],
                              "test MSE": chapter["vae"]["test_mse"]}]),
        "conv": pd.DataFrame([
            {"model": f"convolutional, filters {params.chapter.conv.filters}", "codings": chapter["conv"]["codings"],
             "parameters": chapter["conv"]["parameters"], "test MSE": chapter["conv"]["test_mse"]},
            {"model": f"dense {'-'.join(map(str, params.chapter.phases.units))}, joint",
             "codings": params.chapter.phases.units[-1], "parameters": dense_parameters, "test MSE": chapter["phases"]["joint_test_mse"]},
        ], dtype=object),
    }


def chapter_sections(params: Params) -> list[Section]:
    """Each technique's section, read from its stage's outputs, with the text of templates/chapter/<name>.txt.j2."""
    chapter = {name: io.read_json(paths.chapter_metrics(name)) for name in TECHNIQUES}
    tables = chapter_tables(chapter, params)
    templates = environment()
    sections = []
    for name in TECHNIQUES:
        history = pd.read_csv(paths.chapter_history(name)) if name in TRAINED_ON_PIXELS else pd.DataFrame()
        figure = chapter_figures.FIGURES[name](io.read_array_folder(paths.chapter_arrays(name)), chapter[name], history)
        text = templates.get_template(f"chapter/{name}.txt.j2").render(
            m=chapter[name], p=getattr(params.chapter, name), params=params, chapter=chapter, anchors=BOOK_ANCHORS)
        paragraphs = [" ".join(paragraph.split()) for paragraph in text.split("\n\n") if paragraph.strip()]
        sections.append(Section(name, CHAPTER_TITLES[name], paragraphs, tables[name],
                                Figure(f"chapter_{name}", CHAPTER_TITLES[name], paragraphs[-1], png_bytes(figure))))
    return sections


@dataclass
class Report:
    params: Params
    card: dict
    layers: pd.DataFrame
    stack: dict
    accuracy: pd.DataFrame  # 'mean ± sd' per budget and method
    metrics: pd.DataFrame
    verdicts: list[str]
    figures: dict[str, Figure] = field(default_factory=dict)
    chapter: list[Section] = field(default_factory=list)

    @property
    def labels_note(self) -> str:
        if self.params.classify.use_validation_labels:
            return (f"Beyond its budget, each supervised classifier also sees the {self.params.split.validation_size} "
                    "validation labels, used for early stopping.")
        return ("No classifier sees any label beyond its budget: training runs a fixed number of epochs or steps, "
                "and the validation labels are never used.")

    @property
    def protocol(self) -> str:
        draws = self.params.split.draws
        return (f"Each budget has {draws} independent, class-balanced labelled draw{'s' if draws > 1 else ''} "
                "(nested within a draw: the smaller budgets' labels are among the larger ones'); every recipe and the "
                "logistic regression train on each draw with its own seed, and the table gives the mean and standard "
                "deviation of the test accuracy over the draws. A method beats another only when the "
                "95 % Student-t interval of their paired difference over the same draws excludes zero. "
                "The unlabelled images are the training images only (never the test images, which only score "
                "the final models), and the recipes' settings were chosen once, on the validation split, "
                "the same for every budget.")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def markdown_escape(value: object) -> str:
    """Escape a string from params or data for Markdown, including any HTML in it."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(value), quote=False))


def environment() -> jinja2.Environment:
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    templates.filters["md"] = markdown_escape
    templates.filters["num"] = _number
    return templates


def _number(value, digits: int = 4, signed: bool = False) -> str:
    """Floats to fixed digits; a metric missing from one side of a comparison (NaN) shows as a dash."""
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:{'+' if signed else ''}.{digits}f}"
    return str(value)


def render(report: Report) -> tuple[str, str]:
    templates = environment()
    return (templates.get_template("index.html.j2").render(report=report),
            templates.get_template("report.md.j2").render(report=report))
