"""How far this machine's metrics drift from a committed run of the same commit: every measure in metrics/.

The pipeline is bitwise reproducible on the same CPU family with the same lock file; on another CPU the
floating-point path differs (other SIMD kernels, other thread splits) and every number moves a little. Run the
default pipeline here (`dvc repro -f` in a clone of the commit whose metrics are committed), then:

    python benchmarks/metric_drift.py [REV] [--tolerance 1e-3]

It compares the working tree's metrics with REV's (default HEAD) through `dvc.api.metrics_show`, prints for each
metrics file the largest relative difference and where it is, then every metric beyond the tolerance, and ends
with one line: `largest relative drift: <x> (<metric>)`. Exit status 0 when every metric is within tolerance.
A metrics file that REV (or the working tree) lacks, or whose bytes this machine's DVC cache lacks, is left out
with one line on stderr.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import dvc.api
import pandas as pd
from dvc_data.index import DataIndexError


def numbers(rev: str | None) -> pd.Series:
    """Every finite number of every metrics file, as `file:key.path`, through `dvc.api.metrics_show` per file
    (all files at once flatten into one namespace, where equal keys of different files collide)."""
    rows = {}
    for path in sorted(Path("metrics").rglob("*.json")):
        try:
            values = pd.json_normalize(dvc.api.metrics_show(path.as_posix(), rev=rev), sep=".")
        except (FileNotFoundError, DataIndexError) as error:
            print(
                f"metric_drift: {path} left out, not readable at {rev or 'the working tree'} ({error}): absent "
                "there, or a DVC output not in this machine's cache (`dvc pull` with a DVC remote brings it)",
                file=sys.stderr,
            )
            continue
        for key, value in values.iloc[0].items() if len(values) else []:
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                rows[f"{path.as_posix()}:{key}"] = float(value)
    return pd.Series(rows, dtype=float)


def drift(here: pd.Series, there: pd.Series) -> pd.DataFrame:
    both = pd.concat({"here": here, "committed": there}, axis=1).dropna()
    scale = both[["here", "committed"]].abs().max(axis=1).where(lambda s: s > 0, 1.0)
    both["relative"] = (both["here"] - both["committed"]).abs() / scale
    both["file"] = both.index.str.split(":").str[0]
    return both


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("rev", nargs="?", default="HEAD")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args(argv)
    table = drift(numbers(None), numbers(args.rev))
    if table.empty:
        print(f"no metric in common with {args.rev}", file=sys.stderr)
        return 2
    print(f"{len(table)} metrics compared with {args.rev}")
    for file, group in table.groupby("file"):
        worst = group["relative"].idxmax()
        print(f"  {file}: largest relative difference {group['relative'].max():.2e} ({worst.split(':', 1)[1]})")
    beyond = table[table["relative"] > args.tolerance].sort_values("relative", ascending=False)
    for name, row in beyond.iterrows():
        print(
            f"  beyond {args.tolerance:g}: {name}: {row['committed']:.6g} -> {row['here']:.6g} ({row['relative']:.2e})"
        )
    worst = table["relative"].idxmax()
    print(f"largest relative drift: {table['relative'].max():.2e} ({worst})")
    return 0 if beyond.empty else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
