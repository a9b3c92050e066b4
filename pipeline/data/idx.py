"""IDX files (the MNIST family's format), gzip-compressed, decoded with numpy only."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from pipeline.errors import DataError

# The four files of a dataset, by the names we give their arrays.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
UNSIGNED_BYTE = 0x08


def decode_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode one uncompressed IDX payload of unsigned bytes; refuse anything malformed."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{source}: not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    if data[2] != UNSIGNED_BYTE:
        raise DataError(f"{source}: IDX element type 0x{data[2]:02x} is not supported (only unsigned bytes, 0x08)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{source}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise DataError(f"{source}: IDX header promises shape {shape} ({expected} bytes) but the file has {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def read_idx_gz(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: corrupt or truncated gzip file ({error})") from None
    return decode_idx(data, str(path))


def load_idx_directory(directory: str | Path, hint: str = "") -> dict[str, np.ndarray]:
    directory = Path(directory)
    if not directory.is_dir():
        how = f"; to get it: {hint}" if hint else ""
        raise DataError(f"data.idx_dir: no directory at {directory}{how}")
    missing = [name for name in IDX_FILES.values() if not (directory / name).exists()]
    if missing:
        how = f"; to get it: {hint}" if hint else ""
        raise DataError(f"data.idx_dir: {directory} lacks {', '.join(missing)}{how}")
    return {key: read_idx_gz(directory / name) for key, name in IDX_FILES.items()}


def encode_idx(array: np.ndarray) -> bytes:
    """The inverse of :func:`decode_idx`; used to write small IDX datasets for tests and demos."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, UNSIGNED_BYTE, array.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return header + array.tobytes()


def write_idx_directory(directory: str | Path, arrays: dict[str, np.ndarray]) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for key, name in IDX_FILES.items():
        (directory / name).write_bytes(gzip.compress(encode_idx(arrays[key]), mtime=0))
