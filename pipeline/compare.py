"""Compare git revisions and DVC experiments side by side (:mod:`pipeline.revisions` reads each): the params that
differ, every metric, the few-label accuracies with whether each change exceeds the draw noise, and the figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import UserError
from pipeline.report.tables import mean_and_spread
from pipeline.revisions import Missing, Revision, load
from pipeline.runtime import io
from pipeline.stats import paired_interval, unpaired_interval, verdict


def differing_params(revisions: list[Revision]) -> pd.DataFrame:
    keys = sorted({key for revision in revisions for key in revision.params})
    rows = {key: [revision.params.get(key, "(absent)") for revision in revisions] for key in keys}
    differing = {key: values for key, values in rows.items() if len({repr(value) for value in values}) > 1}
    return pd.DataFrame.from_dict(differing, orient="index", columns=[r.label for r in revisions])


def metrics_side_by_side(revisions: list[Revision]) -> pd.DataFrame:
    """metric, one value column per revision ("-" where it has none), each later revision's change from the first."""
    names = sorted({name for revision in revisions for name in revision.metrics})
    table = pd.DataFrame({"metric": names}, dtype=object)
    for revision in revisions:
        table[revision.label] = pd.Series([revision.metrics.get(name, float("nan")) for name in names], dtype=object)
    first = _numbers(table[revisions[0].label])
    for revision in revisions[1:]:
        table[f"change {revision.label}"] = _numbers(table[revision.label]) - first
    return table


def _numbers(values: pd.Series) -> pd.Series:
    """Numbers as floats (booleans as 0 and 1), anything else (text, lists, missing) as NaN."""
    return pd.to_numeric(values, errors="coerce").astype(float)


FEWLABEL_KEYS = ["budget", "recipe", "pretrained"]


def fewlabel_side_by_side(revisions: list[Revision]) -> pd.DataFrame:
    """Few-label accuracy as 'mean ± sd' per revision; each later revision's change from the first, and whether it
    exceeds the noise: the 95 % interval of the paired difference over the same draws excludes zero, where both
    trained on the same draws (the same seed, split and data params) and kept each draw's accuracy; otherwise
    Welch's interval of the difference of means."""
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
        shown[revision.label] = [mean_and_spread(m, s) for m, s in zip(mean, spread)]
    for revision in present[1:]:
        changes, verdicts = [], []
        same_draws = revision.split == present[0].split
        for key, row in table.iterrows():
            budget, recipe, pretrained = key
            pair = [side.draws.get((int(budget), recipe, bool(pretrained))) for side in (revision, present[0])]
            if same_draws and all(values is not None and len(values) > 1 for values in pair):
                difference, low, high = paired_interval(*pair)
            else:
                difference, low, high = unpaired_interval(
                    *(
                        (row[f"mean_accuracy {label}"], row[f"sd_accuracy {label}"], row[f"draws {label}"])
                        for label in (revision.label, first)
                    )
                )
            changes.append(difference)
            verdicts.append(
                {"better": "exceeds the noise (up)", "worse": "exceeds the noise (down)"}.get(
                    verdict(low, high), verdict(low, high)
                )
                if not pd.isna(difference)
                else "-"
            )
        shown[f"change {revision.label}"] = changes
        shown[f"noise {revision.label}"] = verdicts
    return shown.reset_index()


def figure_titles(names: set[str]) -> dict[str, str]:
    """Every figure any revision has, in the report's order (its own, then the chapter's, then the rest)."""
    from pipeline.chapter import TECHNIQUES
    from pipeline.report.render import FIGURE_TITLES

    titles = {**FIGURE_TITLES, **{f"chapter_{technique.name}": technique.title for technique in TECHNIQUES}}
    known = [name for name in titles if name in names]
    unknown = sorted(names - set(titles))
    return {name: titles.get(name, name.replace("_", " ").capitalize()) for name in known + unknown}


@dataclass
class Comparison:
    revisions: list[Revision]
    params: pd.DataFrame
    metrics: pd.DataFrame
    fewlabel: pd.DataFrame
    figures: dict[str, str]  # name -> title

    @property
    def missing(self) -> list[Missing]:
        return [missing for revision in self.revisions for missing in revision.missing]

    @property
    def signed_metric_columns(self) -> list[bool]:
        """For each column of the metrics table, whether it holds changes (numbers shown with their sign)."""
        return [str(column).startswith("change ") for column in self.metrics.columns]


def compare(labels: list[str]) -> Comparison:
    if len(labels) < 2:
        raise UserError("compare: give two or more git revisions or DVC experiments (or 'workspace')")
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise UserError(f"compare: '{repeated[0]}' is given twice")
    revisions = [load(label) for label in labels]
    empty = [revision.label for revision in revisions if not revision.metrics]
    if len(empty) == len(revisions):
        raise UserError(f"compare: no DVC metrics at {', '.join(empty)} (`dvc metrics show` finds none there)")
    return Comparison(
        revisions,
        differing_params(revisions),
        metrics_side_by_side(revisions),
        fewlabel_side_by_side(revisions),
        figure_titles({name for revision in revisions for name in revision.figures}),
    )


def write(comparison: Comparison, output: Path) -> list[Path]:
    """index.html (self-contained) and compare.md with its figures beside it; returns what was written."""
    from pipeline.report.render import environment

    rendered = environment()
    figure_files = {
        f"{index}-{name}.png": figure.png
        for index, revision in enumerate(comparison.revisions)
        for name, figure in revision.figures.items()
    }
    io.write_bytes_tree(output / "figures", figure_files)
    for template, name in (("compare.html.j2", "index.html"), ("compare.md.j2", "compare.md")):
        io.write_text(output / name, rendered.get_template(template).render(comparison=comparison))
    return [output / "index.html", output / "compare.md", output / "figures"]
