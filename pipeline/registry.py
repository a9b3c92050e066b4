"""Registries found by looking: each sub-package of a folder is one entry (a chapter technique, a few-label
recipe), declaring its ``TITLE``, its ``ORDER`` and its ``Params``. Adding one is adding a folder."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Sequence
from types import ModuleType

from pipeline.errors import ConfigError


def entries(package: str, path: Iterable[str]) -> list[ModuleType]:
    """The sub-packages of ``package`` (whose ``__path__`` is ``path``), imported, in their declared ORDER."""
    found = [
        importlib.import_module(f"{package}.{module.name}")
        for module in pkgutil.iter_modules(list(path))
        if module.ispkg
    ]
    orders = [entry.ORDER for entry in found]
    if len(set(orders)) != len(orders):
        raise ValueError(f"{package}: two entries share an ORDER: {sorted(orders)}")
    return sorted(found, key=lambda entry: entry.ORDER)


def named(found: Sequence, name: str, key: str):
    """The entry called ``name``, or the one-line error that lists the others (``key`` says where it was asked)."""
    for entry in found:
        if entry.name == name:
            return entry
    raise ConfigError(f"{key}: got '{name}', must be one of {[entry.name for entry in found]}")
