"""Compare git revisions and DVC experiments from what git and DVC already hold: nothing is retrained.

Params come from each revision's params.yaml, metrics from its reports/metrics.csv (every metric of the
run, git-tracked), figures from its reports/figures/ (DVC-tracked, read through ``dvc.api``).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pandas as pd
import yaml

from pipeline import io, paths
from pipeline.errors import UserError
from pipeline.fewlabel.stats import unpaired_interval, verdict
from pipeline.report.render import CHAPTER_TITLES, Figure, environment
from pipeline.tracking import flatten

WORKSPACE = "workspace"
FIGURES = {  # report figure file -> title
    "reconstructions": "Reconstructions",
    "learning_curves": "Learning curves",
    "accuracy_vs_labels": "Accuracy against labels",
    **{f"chapter_{name}": title for name, title in CHAPTER_TITLES.items()},
}


@dataclass
class Revision:
    label: str  # what the user typed
    commit: str | None  # None for the workspace
    params: dict = field(default_factory=dict)
    metrics: pd.DataFrame | None = None
    fewlabel: pd.DataFrame | None = None  # reports/fewlabel.csv: mean and sd over label draws
    figures: dict[str, Figure] = field(default_factory=dict)


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True)


def resolve(name: str) -> str | None:
    """A git revision or a DVC experiment name, as a commit; None for the workspace."""
    if name == WORKSPACE:
        return None
    found = _git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    if found.returncode == 0:
        return found.stdout.decode().strip()
    refs = _git("for-each-ref", "--format=%(refname) %(objectname)", "refs/exps").stdout.decode().splitlines()
    matches = [line.split()[1] for line in refs if line.split()[0].rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    raise UserError(f"compare: '{name}' is neither a git revision nor a DVC experiment "
                    f"({'several experiments have this name' if matches else 'see `dvc exp list`'})")


def read_bytes(path: Path, commit: str | None) -> bytes | None:
    """A file as it was at ``commit`` (git-tracked or DVC-tracked), or None when it did not exist."""
    if commit is None:
        return path.read_bytes() if path.is_file() else None
    shown = _git("show", f"{commit}:{path.as_posix()}")
    if shown.returncode == 0:
        return shown.stdout
    import dvc.api

    try:
        return dvc.api.read(path.as_posix(), rev=commit, mode="rb")
    except Exception:  # noqa: BLE001 - not in git, not in DVC at that revision, or its cache is not here
        return None


def load(label: str) -> Revision:
    commit = resolve(label)
    revision = Revision(label, commit)
    params = read_bytes(Path("params.yaml"), commit)
    revision.params = flatten(yaml.safe_load(params) or {}) if params else {}
    metrics = read_bytes(paths.REPORTS / "metrics.csv", commit)
    if metrics:
        revision.metrics = pd.read_csv(BytesIO(metrics))
    fewlabel = read_bytes(paths.FEWLABEL_SUMMARY, commit)
    if fewlabel:
        revision.fewlabel = pd.read_csv(BytesIO(fewlabel))
    for name, title in FIGURES.items():
        png = read_bytes(paths.REPORTS / "figures" / f"{name}.png", commit)
        if png:
            revision.figures[name] = Figure(name, title, label, png)
    return revision


def differing_params(revisions: list[Revision]) -> pd.DataFrame:
    keys = sorted({key for revision in revisions for key in revision.params})
    rows = {key: [revision.params.get(key, "(absent)") for revision in revisions] for key in keys}
    differing = {key: values for key, values in rows.items() if len({repr(value) for value in values}) > 1}
    return pd.DataFrame.from_dict(differing, orient="index", columns=[r.label for r in revisions])


def metrics_side_by_side(revisions: list[Revision]) -> pd.DataFrame:
    """stage, metric, one value column per revision, and each later revision's change from the first."""
    table = None
    for revision in revisions:
        if revision.metrics is None:
            continue
        values = revision.metrics.rename(columns={"value": revision.label})
        table = values if table is None else table.merge(values, on=["stage", "metric"], how="outer")
    if table is None:
        return pd.DataFrame(columns=["stage", "metric"])
    first = revisions[0].label
    for revision in revisions[1:]:
        if first in table and revision.label in table:
            table[f"change {revision.label}"] = table[revision.label] - table[first]
    return table.sort_values(["stage", "metric"]).reset_index(drop=True)


FEWLABEL_KEYS = ["budget", "recipe", "pretrained"]


def fewlabel_side_by_side(revisions: list[Revision]) -> pd.DataFrame:
    """Few-label accuracy as 'mean ± sd' per revision; each later revision's change from the first, and whether
    it exceeds the noise (Welch's 95 % interval of the difference of means excludes zero)."""
    present = [revision for revision in revisions if revision.fewlabel is not None]
    if not present:
        return pd.DataFrame(columns=FEWLABEL_KEYS)
    table = None
    for revision in present:
        values = revision.fewlabel.set_index(FEWLABEL_KEYS)[["mean_accuracy", "sd_accuracy", "draws"]]
        values.columns = [f"{column} {revision.label}" for column in values.columns]
        table = values if table is None else table.join(values, how="outer")
    first = present[0].label
    shown = pd.DataFrame(index=table.index)
    for revision in present:
        mean, spread = table[f"mean_accuracy {revision.label}"], table[f"sd_accuracy {revision.label}"]
        shown[revision.label] = [f"{m:.4f}" if s != s else f"{m:.4f} ± {s:.4f}" if m == m else "-"
                                 for m, s in zip(mean, spread)]
    for revision in present[1:]:
        changes, verdicts = [], []
        for _, row in table.iterrows():
            difference, low, high = unpaired_interval(
                *((row[f"mean_accuracy {label}"], row[f"sd_accuracy {label}"], row[f"draws {label}"])
                  for label in (revision.label, first)))
            changes.append(difference)
            verdicts.append({"better": "exceeds the noise (up)", "worse": "exceeds the noise (down)"}.get(
                verdict(low, high), verdict(low, high)) if difference == difference else "-")
        shown[f"change {revision.label}"] = changes
        shown[f"noise {revision.label}"] = verdicts
    return shown.reset_index()


@dataclass
class Comparison:
    revisions: list[Revision]
    params: pd.DataFrame
    metrics: pd.DataFrame
    fewlabel: pd.DataFrame


def compare(labels: list[str]) -> Comparison:
    if len(labels) < 2:
        raise UserError("compare: give two or more git revisions or DVC experiments (or 'workspace')")
    revisions = [load(label) for label in labels]
    missing = [revision.label for revision in revisions if revision.metrics is None]
    if missing:
        raise UserError(f"compare: {', '.join(missing)} has no {paths.REPORTS / 'metrics.csv'}; run `dvc repro` there first")
    return Comparison(revisions, differing_params(revisions), metrics_side_by_side(revisions),
                      fewlabel_side_by_side(revisions))


def write(comparison: Comparison, output: Path) -> list[Path]:
    """index.html (self-contained) and compare.md with its figures beside it; returns what was written."""
    rendered = environment()
    figure_files = {f"{index}-{name}.png": figure.png for index, revision in enumerate(comparison.revisions)
                    for name, figure in revision.figures.items()}
    io.write_bytes_tree(output / "figures", figure_files)
    io.write_text(output / "index.html", rendered.get_template("compare.html.j2").render(comparison=comparison, figures=FIGURES))
    io.write_text(output / "compare.md", rendered.get_template("compare.md.j2").render(comparison=comparison, figures=FIGURES))
    return [output / "index.html", output / "compare.md", output / "figures"]
