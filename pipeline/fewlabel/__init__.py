"""The few-label recipes, found by looking: each sub-package of this folder is one recipe.

A recipe folder holds everything about it:

- ``__init__.py``: ``TITLE`` (its name in tables), ``SUMMARY`` (what it does, for the report), ``ORDER`` (its
  place in tables), ``Params`` (its block of params.yaml, ``classify.<name>``) and, for a recipe that cannot
  train under a tf.distribute strategy, ``DISTRIBUTED = False`` (it then trains on one device whatever
  ``train.strategy`` says), and for a recipe that learns from the label-propagation graph ``LEARNS_FROM_GRAPH =
  True`` (its stages then read the `labels` stage's propagated labels and votes), and for a recipe that runs only
  when ``classify.recipes`` names it, ``BY_DEFAULT = False``;
- ``train.py``: ``train(problem, params, pretrained)``, which trains on one labelled draw (and, for the
  semi-supervised recipes, the unlabelled training images) from the pretrained encoder stack or a random one,
  and returns its scores. Its stages, ``classify@<name>`` and ``random-start@<name>``, run this.

What the recipes share is in ``common.py``; ``results.py`` reads their scores back for the report.
Importing this registry is light (pydantic only): the params schema is built from it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from pipeline.registry import entries, named


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    summary: str
    order: int
    params: type  # a pipeline.schema.Strict model
    distributed: bool  # trains under train.strategy
    learns_from_graph: bool  # reads the labels stage's propagated labels and votes
    by_default: bool  # in classify.recipes when params.yaml does not list them

    def train(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.name}.train")


RECIPES = tuple(
    Recipe(
        package.__name__.rsplit(".", 1)[1],
        package.TITLE,
        package.SUMMARY,
        package.ORDER,
        package.Params,
        getattr(package, "DISTRIBUTED", True),
        getattr(package, "LEARNS_FROM_GRAPH", False),
        getattr(package, "BY_DEFAULT", True),
    )
    for package in entries(__name__, __path__)
)


def recipe(name: str) -> Recipe:
    return named(RECIPES, name, "classify: recipe")
