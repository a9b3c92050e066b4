"""Tables of the report: built as DataFrames, written as Markdown (which the HTML page is rendered from)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

import pandas as pd

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def markdown_escape(value: object) -> str:
    """A string from params or data, made inert in Markdown and in the HTML rendered from it."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(value), quote=False))


def number(value, digits: int = 4, signed: bool = False) -> str:
    """Floats to fixed digits; a metric missing from one side (NaN) shows as a dash."""
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:{'+' if signed else ''}.{digits}f}"
    return str(value)


def mean_and_spread(mean: float, spread: float | None) -> str:
    """An accuracy over the label draws as 'mean ± sd': the mean alone for one draw (no spread), a dash for none."""
    if mean != mean:
        return "-"
    return f"{mean:.4f}" if spread is None or spread != spread else f"{mean:.4f} ± {spread:.4f}"


def markdown_table(table: pd.DataFrame, digits: int = 5) -> str:
    """A pipe table: numbers right-aligned, text left-aligned, every cell escaped."""
    cells = table.map(lambda value: markdown_escape(number(value, digits)))
    cells.columns = [markdown_escape(column) for column in table.columns]
    alignment = ["right" if _numeric(table[column]) else "left" for column in table.columns]
    return cells.to_markdown(index=False, disable_numparse=True, colalign=alignment)


def _numeric(values: pd.Series) -> bool:
    """Numbers, or text that reads as one ('0.7471 ± 0.0158', '-'): right-aligned."""
    return pd.api.types.is_numeric_dtype(values) or all(re.match(r"^([-+]?\d|-$)", str(value)) for value in values)


def model_rows(metrics: Mapping, models: Mapping[str, str], columns: Mapping[str, str]) -> pd.DataFrame:
    """One row per model, one column per measure, from a technique's ``<model>_<measure>`` metric keys."""
    return pd.DataFrame(
        [
            {"model": label, **{title: metrics.get(f"{model}_{key}", float("nan")) for key, title in columns.items()}}
            for model, label in models.items()
        ]
    )
