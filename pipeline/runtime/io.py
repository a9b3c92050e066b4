"""Byte-stable, atomic writes: a killed stage never leaves an output that looks finished.

Everything is written under a temporary name beside its target and renamed into place, so the
target is either the old complete output or the new complete output. Arrays are `.npy` (no
timestamps, unlike `.npz`) and are read back with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from pipeline.errors import DataError


@contextlib.contextmanager
def atomic_path(target: str | Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    if directory:
        temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(handle)
        temporary = Path(name)
    try:
        yield temporary
        if directory:
            _replace_directory(temporary, target)
        else:
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
    finally:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        elif temporary.exists():
            temporary.unlink()


def remove_leftovers(target: Path) -> None:
    """Delete what a killed writer of ``target`` left behind (SIGKILL skips every ``finally``)."""
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*"):
        if not leftover.name.endswith((".tmp", ".old")):
            continue
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()


def _replace_directory(source: Path, target: Path) -> None:
    os.chmod(source, 0o755)
    if target.is_dir() and not target.is_symlink():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(source, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        if target.exists() or target.is_symlink():
            target.unlink()
        os.replace(source, target)


def write_arrays(
    directory: str | Path, arrays: Mapping[str, np.ndarray | Mapping], json_files: Mapping[str, object] | None = None
) -> None:
    """Write a folder of `.npy` files (one per name; a nested mapping is a subfolder) atomically.

    ``json_files`` (file name -> data) travel in the same folder, so they are replaced together.
    """
    with atomic_path(directory, directory=True) as temporary:
        _save_tree(temporary, arrays)
        for name, data in (json_files or {}).items():
            (temporary / name).write_text(_json_text(data))


def _save_tree(folder: Path, arrays: Mapping[str, np.ndarray | Mapping]) -> None:
    for name, value in arrays.items():
        if isinstance(value, Mapping):
            (folder / name).mkdir()
            _save_tree(folder / name, value)
        else:
            np.save(folder / f"{name}.npy", np.asarray(value, order="C"), allow_pickle=False)  # keeps 0-d arrays 0-d


def read_array(path: str | Path, memory_map: bool = False) -> np.ndarray:
    """An array, in memory or (``memory_map``) mapped from the file, so that only the rows used are read."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: missing (run the stage that produces it: dvc repro)")
    try:
        return np.load(path, mmap_mode="r" if memory_map else None, allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{path}: not a readable .npy array ({error})") from None


def read_array_folder(directory: str | Path) -> dict[str, np.ndarray]:
    """Every ``.npy`` file directly in a folder, by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: missing (run the stage that produces it: dvc repro)")
    return {path.stem: read_array(path) for path in sorted(directory.glob("*.npy"))}


def write_json(path: str | Path, data: object, sort_keys: bool = True) -> None:
    """Sorted keys by default, so a dict built in another order gives the same bytes; unsorted where the order
    is meant (budgets in increasing order)."""
    with atomic_path(path) as temporary:
        temporary.write_text(_json_text(data, sort_keys))


def _json_text(data: object, sort_keys: bool = True) -> str:
    return json.dumps(data, indent=2, sort_keys=sort_keys) + "\n"


def read_json(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: missing (run the stage that produces it: dvc repro)")
    return json.loads(path.read_text())


def write_csv(path: str | Path, table, index: bool = False) -> None:
    """A pandas table as CSV, atomically."""
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=index)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def write_bytes_tree(directory: str | Path, files: Mapping[str, bytes]) -> None:
    """Replace a whole folder of small files at once."""
    with atomic_path(directory, directory=True) as temporary:
        for name, data in files.items():
            (temporary / name).write_bytes(data)


def content_hash(path: str | Path) -> str:
    """SHA-256 of a file, or of a folder's relative paths and file hashes in sorted order."""
    path = Path(path)
    if not path.is_dir():
        return _file_hash(path)
    digest = hashlib.sha256()
    for item in sorted(item for item in path.rglob("*") if item.is_file()):
        digest.update(f"{item.relative_to(path).as_posix()}\0{_file_hash(item)}\0".encode())
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def flat(tree: Mapping) -> dict:
    """Nested keys joined by dots ({"a": {"b": 1}} -> {"a.b": 1}); lists stay values."""
    import pandas as pd

    return pd.json_normalize(dict(tree), sep=".").to_dict(orient="records")[0] if tree else {}
