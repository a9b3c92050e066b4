"""The chapter's techniques, found by looking: each sub-package of this folder is one technique.

A technique folder holds everything about it:

- ``__init__.py``: ``TITLE`` (its report section), ``ORDER`` (its place in the chapter) and ``Params`` (its
  block of params.yaml, under ``chapter.<name>``; ``features`` has its own top-level block); ``STREAMS = False``
  for a technique on the pixels whose ``run`` needs the training images in memory (the others take a shard
  folder as a stream when ``train.input`` says so); ``DISTRIBUTED = False`` for one that runs on one device
  whatever ``train.strategy`` says;
- ``train.py``: ``run``, what it trains and measures (its DVC stage, ``chapter@<name>``, runs this);
- ``report.py``: ``table`` and ``figure``, drawn from what ``run`` returned;
- ``section.md.j2``: its text in the report, the last paragraph being the figure's caption.

Importing this registry is light (pydantic only): the params schema is built from it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pipeline.registry import entries, named

FOLDER = Path(__file__).parent


@dataclass(frozen=True)
class Technique:
    name: str
    title: str
    order: int
    params: type  # a pipeline.schema.Strict model
    reads_layers: bool  # trains on the pretrain layers (features) rather than on the pixels
    streams: bool  # its run takes the training images as a stream (pipeline.runtime.shards.Sharded)
    distributed: bool  # runs under train.strategy

    @property
    def stage(self) -> str:
        """Its stage in dvc.yaml."""
        return self.name if self.reads_layers else f"chapter@{self.name}"

    def params_of(self, params):
        """Its block of the loaded params.yaml."""
        return getattr(params, self.name) if self.reads_layers else getattr(params.chapter, self.name)

    @property
    def folder(self) -> Path:
        return FOLDER / self.name

    def package(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.name}")

    def train(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.name}.train")

    def report(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.name}.report")


TECHNIQUES = tuple(
    Technique(
        package.__name__.rsplit(".", 1)[1],
        package.TITLE,
        package.ORDER,
        package.Params,
        getattr(package, "READS_LAYERS", False),
        getattr(package, "STREAMS", not getattr(package, "READS_LAYERS", False)),
        getattr(package, "DISTRIBUTED", True),
    )
    for package in entries(__name__, __path__)
)


def technique(name: str) -> Technique:
    return named(TECHNIQUES, name, "chapter: technique")
