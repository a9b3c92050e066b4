"""Where each stage writes, relative to the repository root; dvc.yaml names the same paths (tests/test_dvc_yaml.py
checks that they agree)."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import ConfigError

SCHEMA = Path("data/params.schema.json")
ARCHITECTURE = Path("data/architecture.json")  # the encoder's layers without how they are pretrained
PREPARED = Path("data/prepared")
CARD = Path("data/card.json")
SPLIT_TABLE = Path("data/split.csv")
RECONSTRUCTIONS = Path("data/reconstructions")
STACK_MODEL = Path("models/stack")
STACK_METRICS = Path("metrics/stack.json")
STACK_HISTORY = Path("plots/stack.csv")
BASELINE_METRICS = Path("metrics/baseline.json")  # the probes on the pixels
PROBE_METRICS = Path("metrics/probe.json")  # the same probes on each pretrained layer's codings
REPORTS = Path("reports")
REPORT_HTML = REPORTS / "index.html"
REPORT_MARKDOWN = REPORTS / "report.md"
REPORT_FIGURES = REPORTS / "figures"
METRICS_TABLE = REPORTS / "metrics.csv"  # every measure of every stage, one row each
FEWLABEL_SUMMARY = REPORTS / "fewlabel.csv"
SUMMARY = REPORTS / "summary.json"  # the headline numbers: the only DVC metrics
ACCURACY_PLOT = REPORTS / "plots" / "accuracy.csv"
METRICS = Path("metrics")
CHECKPOINTS = Path(".checkpoints")  # not a DVC output: DVC deletes outputs before it reruns a stage


def features(name: str) -> Path:
    """Inputs of a layer: ``pixels`` (the scaled images) or the cached codings of a layer."""
    return Path("data/features") / name


def pretrain_model(layer: str) -> Path:
    return Path("models/pretrain") / layer


def pretrain_metrics(layer: str) -> Path:
    return Path("metrics/pretrain") / f"{layer}.json"


def pretrain_history(layer: str) -> Path:
    return Path("plots/pretrain") / f"{layer}.csv"


GRAPH = Path("data/graph")  # the label-propagation graph of every training image


LABELS = Path("data/labels")  # <recipe>/<budget>/draw_<n>/: what each recipe learns from (the labels stage's)
LABELS_METRICS = Path("metrics/labels.json")


def classify_metrics(recipe: str, init: str = "pretrained") -> Path:
    """``<recipe>.json`` from the pretrained stack, ``<recipe>-random.json`` from a random start: every budget's."""
    return Path("metrics/classify") / f"{recipe}{'' if init == 'pretrained' else '-' + init}.json"


def checkpoint(stage: str) -> Path:
    """Per-epoch state of a training stage (``pretrain@l1``, ``stack``), kept until the stage finishes."""
    return CHECKPOINTS / stage


def inside_repository(path: str | Path, key: str) -> Path:
    """A configured path, refused when it leads outside the repository (through ``..`` or a symlink)."""
    root = Path.cwd().resolve()
    resolved = (root / path).resolve()
    if not resolved.is_relative_to(root):
        raise ConfigError(f"{key}: got '{path}', which leads to {resolved}, outside the repository {root}")
    return resolved


def chapter_arrays(technique: str) -> Path:
    """What a chapter technique's figure is drawn from (``data/chapter/<technique>``)."""
    return Path("data/chapter") / technique


def chapter_metrics(technique: str) -> Path:
    return Path("metrics/chapter") / f"{technique}.json"


def chapter_history(technique: str) -> Path:
    return Path("plots/chapter") / f"{technique}.csv"
