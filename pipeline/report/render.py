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
from pipeline.config import Params

TEMPLATES = Path(__file__).parent / "templates"
BASELINE = "logistic_regression"


def accuracy_table(params: Params) -> pd.DataFrame:
    """Test accuracy, one row per label budget, one column per init plus the logistic baseline."""
    baseline = io.read_json(paths.BASELINE_METRICS)["test_accuracy"]
    rows = []
    for budget in params.split.budgets:
        row = {init: io.read_json(paths.classify_metrics(budget, init))["test_accuracy"] for init in params.classify.inits}
        row[BASELINE] = baseline[str(budget)]
        rows.append(row)
    return pd.DataFrame(rows, index=pd.Index(params.split.budgets, name="budget"))


def layer_table(params: Params) -> pd.DataFrame:
    rows = []
    for name, layer in params.pretrain.layers.items():
        metrics = io.read_json(paths.pretrain_metrics(name))
        rows.append({
            "layer": name, "input": layer.input, "units": layer.units, "activation": layer.activation,
            "tied": layer.tied, "epochs": layer.epochs, "parameters": metrics["parameters"],
            "train_mse": metrics["train_mse"], "valid_mse": metrics["valid_mse"], "test_mse": metrics["test_mse"],
        })
    return pd.DataFrame(rows)


def all_metrics(params: Params) -> pd.DataFrame:
    """Every metric of the run in one long table: stage, metric, value."""
    sources = {f"pretrain@{name}": paths.pretrain_metrics(name) for name in params.pretrain.layers}
    sources["stack"] = paths.STACK_METRICS
    for budget in params.split.budgets:
        for init in params.classify.inits:
            sources[f"classify@{budget}-{init}"] = paths.classify_metrics(budget, init)
    rows = [
        {"stage": stage, "metric": metric, "value": value}
        for stage, path in sources.items() for metric, value in io.read_json(path).items()
    ]
    baseline = io.read_json(paths.BASELINE_METRICS)["test_accuracy"]
    rows += [{"stage": "baseline", "metric": f"test_accuracy_{budget}", "value": value} for budget, value in baseline.items()]
    return pd.DataFrame(rows)


def verdicts(accuracy: pd.DataFrame) -> list[str]:
    """Plain sentences: does the fine-tuned pretrained encoder beat scratch and the logistic baseline?"""
    sentences = []
    if "finetune" not in accuracy:
        return ["The fine-tuned encoder was not run (classify.inits), so there is no verdict."]
    for budget, row in accuracy.iterrows():
        rivals = {name: row[name] for name in ("scratch", BASELINE) if name in row}
        beaten = [name.replace("_", " ") for name, value in rivals.items() if row["finetune"] > value]
        lost = [name.replace("_", " ") for name, value in rivals.items() if row["finetune"] <= value]
        verdict = "beats " + " and ".join(beaten) if beaten else "beats neither"
        if beaten and lost:
            verdict += ", but not " + " and ".join(lost)
        sentences.append(f"With {budget} labels the fine-tuned pretrained encoder ({row['finetune']:.4f}) {verdict}.")
    return sentences


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


@dataclass
class Report:
    params: Params
    card: dict
    layers: pd.DataFrame
    stack: dict
    accuracy: pd.DataFrame
    metrics: pd.DataFrame
    verdicts: list[str]
    figures: dict[str, Figure] = field(default_factory=dict)

    @property
    def labels_note(self) -> str:
        if self.params.classify.use_validation_labels:
            return (f"Beyond its budget, each classifier also sees the {self.params.split.validation_size} "
                    "validation labels, used for early stopping.")
        return ("No classifier sees any label beyond its budget: training runs a fixed number of epochs "
                "and the validation labels are never used.")


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
        return "-" if value != value else f"{value:{'+' if signed else ''}.{digits}f}"
    return str(value)


def render(report: Report) -> tuple[str, str]:
    templates = environment()
    return (templates.get_template("index.html.j2").render(report=report),
            templates.get_template("report.md.j2").render(report=report))
