"""One git revision, DVC experiment or the workspace, read from what git and DVC already hold: nothing is retrained.

Everything is read through DVC's public Python API, so a revision is read as its own dvc.yaml declares it:
experiment names through ``dvc.api.exp_show``, params through ``dvc.api.params_show``, metrics through
``dvc.api.metrics_show`` (every metrics file dvc.yaml declares there, each metric named as ``dvc exp show`` names
it: nested keys joined by dots, and the file in front only where two files share a key), the few-label summary,
each draw's accuracies and the report's figures through ``dvc.api.DVCFileSystem`` (git- or DVC-tracked).

A DVC output that a revision records but this machine lacks (made on another machine and not pulled from a DVC
remote, or not checked out in the workspace) is left out and said so: the rest still compares.
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import INITIALISATIONS, PIXELS
from pipeline.errors import UserError
from pipeline.fewlabel.probe_results import probe_method, probe_rows, probes_by_budget
from pipeline.fewlabel.results import BASELINE
from pipeline.runtime import io, paths
from pipeline.stats import per_draw

WORKSPACE = "workspace"
FIGURES = paths.REPORT_FIGURES
UNFINISHED = {"Queued", "Running", "Failed"}  # exp_show's State of an experiment with nothing to compare


@dataclass
class Figure:
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class Missing:
    """A DVC output a revision records whose bytes this machine lacks, and the command that brings them."""

    revision: str
    path: str
    remedy: str

    def __str__(self) -> str:
        where = "missing" if self.revision == WORKSPACE else "not in this machine's DVC cache"
        return f"{self.revision}'s {self.path} is {where}, left out: {self.remedy}"


@dataclass
class Revision:
    label: str  # what the user typed
    commit: str | None  # None for the workspace
    params: dict = field(default_factory=dict)  # flat: "baseline.C" -> 4.0
    metrics: dict = field(default_factory=dict)  # flat, named as `dvc exp show` names them
    fewlabel: pd.DataFrame | None = None  # reports/fewlabel.csv: mean and sd over label draws
    figures: dict[str, Figure] = field(default_factory=dict)  # reports/figures/<name>.png by name
    missing: list[Missing] = field(default_factory=list)
    draws: dict[tuple, np.ndarray] = field(default_factory=dict)  # (budget, recipe, pretrained): test accuracy per draw

    @property
    def split(self) -> dict:
        """The params that decide the labelled draws: two revisions that agree on them trained on the same draws."""
        return {
            key: value for key, value in self.params.items() if key == "seed" or key.startswith(("split.", "data."))
        }

    def missing_figure(self, name: str) -> Missing | None:
        """Why figure ``name`` is not here though DVC records it: its file's or its whole folder's bytes lack."""
        return next(
            (m for m in self.missing if m.path in (FIGURES.as_posix(), (FIGURES / f"{name}.png").as_posix())), None
        )


def _dvc_api():
    import dvc.api  # heavy: only when a comparison is made

    return dvc.api


def _git_commit(name: str) -> str | None:
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"], capture_output=True, check=False
    )
    return found.stdout.decode().strip() if found.returncode == 0 else None


def _experiments(name: str) -> list[dict]:
    """exp_show's rows for experiment ``name``: those based on HEAD, else on any commit of HEAD's history."""
    for commits in (1, -1):  # -1 reads every first-parent commit: only when HEAD's own experiments lack it
        rows = [row for row in _dvc_api().exp_show(num=commits) if row.get("Experiment") == name]
        if rows:
            return rows
    return []


def resolve(name: str) -> str | None:
    """A git revision or a DVC experiment name, as a commit; None for the workspace."""
    if name == WORKSPACE:
        return None
    commit = _git_commit(name)
    if commit:
        return commit
    rows = _experiments(name)
    if not rows:
        raise UserError(f"compare: '{name}' is neither a git revision nor a DVC experiment (see `dvc exp list`)")
    if len({row["rev"] for row in rows}) > 1:
        raise UserError(
            f"compare: '{name}' names several DVC experiments ({', '.join(sorted(row['rev'] for row in rows))}); "
            "give one of their revisions instead"
        )
    state = rows[0].get("State")
    if state in UNFINISHED:
        raise UserError(f"compare: experiment '{name}' is {state.lower()}, it has no results to compare yet")
    commit = _git_commit(rows[0]["rev"])
    if commit is None:
        raise UserError(f"compare: experiment '{name}' points at {rows[0]['rev']}, which git does not know")
    return commit


def _unreadable() -> tuple[type[Exception], ...]:
    """What reading a path at a revision raises when it is not there (OSError) or is a DVC output whose bytes are
    not in this machine's cache: FileNotFoundError for a file, DataIndexDirError for a folder's listing."""
    from dvc.exceptions import DvcException
    from dvc_data.index import DataIndexError

    return (OSError, DvcException, DataIndexError)


def _read(revision: Revision, fs, path: Path) -> bytes | None:
    """A file at the revision (git-tracked, or DVC-tracked with its cache here), or None when it is not there."""
    try:
        return path.read_bytes() if revision.commit is None else fs.read_bytes(path.as_posix())
    except _unreadable():
        _note_if_recorded(revision, fs, path)
        return None


def _figure_names(revision: Revision, fs) -> list[str]:
    try:
        found = (
            [path.as_posix() for path in FIGURES.iterdir()] if revision.commit is None else fs.find(FIGURES.as_posix())
        )
    except _unreadable():
        _note_if_recorded(revision, fs, FIGURES)
        return []
    return sorted(Path(path).stem for path in found if path.endswith(".png"))


def _note_if_recorded(revision: Revision, fs, path: Path) -> None:
    """Adds ``path`` to what the revision misses if DVC records it there (a path it never had is no news)."""
    try:
        recorded = fs.exists(path.as_posix())
    except _unreadable():  # inside a DVC-tracked folder whose listing is not here
        recorded = True
    if recorded:
        revision.missing.append(Missing(revision.label, path.as_posix(), _remedy(revision, fs, path)))


def _remedy(revision: Revision, fs, path: Path) -> str:
    """The commands that bring ``path`` of this revision: a pull from a DVC remote, or its stage rerun here."""
    try:
        rerun = f"`dvc repro {fs.repo.find_outs_by_path(path.as_posix(), strict=False)[0].stage.name}`"
    except _unreadable():
        rerun = "`dvc repro`"
    label = revision.label
    if revision.commit is None:
        return f"`dvc pull` (from a DVC remote) or {rerun} brings it"
    if _git_commit(label) is None:  # an experiment
        pull, rerun = f"`dvc exp pull <git remote> {label}`", f"`dvc exp apply {label}` then {rerun}"
    else:
        pull, rerun = f"`dvc pull` at {label}", f"{rerun} at {label}"
    return f"{pull} brings it from the DVC remote its maker pushed to; {rerun} makes this machine's own"


def load(label: str) -> Revision:
    commit = resolve(label)
    api = _dvc_api()
    try:
        params = api.params_show(rev=commit)
        metrics = api.metrics_show(rev=commit)
    except FileNotFoundError as error:
        # dvc.api reads the workspace's params and metrics along with any revision's (and drops them): a file
        # missing from the workspace fails every revision.
        where = label if commit is None or Path(error.filename or "").exists() else "the workspace"
        raise UserError(
            f"compare: {where} has no {error.filename or error}; run `dvc repro` there (or `dvc pull`) first"
        ) from error
    except _unreadable() as error:
        raise UserError(f"compare: {label}: {' '.join(str(error).split())}") from error
    revision = Revision(label, commit, io.flat(params), io.flat(metrics))
    fs = api.DVCFileSystem(rev=commit)  # the workspace's too: it knows which missing files DVC records there
    fewlabel = _read(revision, fs, paths.FEWLABEL_SUMMARY)
    if fewlabel:
        revision.fewlabel = pd.read_csv(BytesIO(fewlabel))
    probes = _probe_draws(revision, fs)
    if probes:  # from the metrics, fresher than the report's table where an experiment ran up to the probe alone
        rows = probe_rows(probes)
        recipes = None if revision.fewlabel is None else revision.fewlabel[~revision.fewlabel.recipe.isin(rows.recipe)]
        revision.fewlabel = pd.concat([recipes, rows], ignore_index=True) if recipes is not None else rows
    for name in _figure_names(revision, fs):
        png = _read(revision, fs, FIGURES / f"{name}.png")
        if png:
            revision.figures[name] = Figure(png)
    revision.draws = _draw_accuracies(revision, fs) | {
        (budget, probe_method(probe, representation), representation != PIXELS): values
        for budget, methods in probes.items()
        for (probe, representation), values in methods.items()
    }
    return revision


def _probe_draws(revision: Revision, fs) -> dict:
    """The probes' accuracy per draw (:func:`~pipeline.fewlabel.results.probes_by_budget`) from the git-tracked
    metrics/baseline.json and metrics/probe.json; empty where a revision has no probe stage."""
    pixels, layers = _read(revision, fs, paths.BASELINE_METRICS), _read(revision, fs, paths.PROBE_METRICS)
    if not (pixels and layers):
        return {}
    try:
        pixels = json.loads(pixels)
        return probes_by_budget(pixels, json.loads(layers), sorted(int(budget) for budget in pixels))
    except (ValueError, KeyError, TypeError, AttributeError):  # a layout of another version
        return {}


def _draw_accuracies(revision: Revision, fs) -> dict[tuple, np.ndarray]:
    """Each few-label method's test accuracy per draw, from the git-tracked metrics files (metrics/baseline.json,
    metrics/classify/<recipe>[-random].json: every budget's); empty where a revision keeps them otherwise."""
    found = {}
    baseline = _read(revision, fs, paths.BASELINE_METRICS)
    for budget, summary in (json.loads(baseline) if baseline else {}).items():
        found[(int(budget), BASELINE, False)] = per_draw(summary)
    for recipe in revision.params.get("classify.recipes", []):
        for init in INITIALISATIONS:
            metrics = _read(revision, fs, paths.classify_metrics(recipe, init))
            try:
                for budget, starts in (json.loads(metrics) if metrics else {}).items():
                    found[(int(budget), recipe, init == "pretrained")] = per_draw(starts[init])
            except (ValueError, KeyError, TypeError, AttributeError):  # a layout of another version: no pairs
                continue
    return found
