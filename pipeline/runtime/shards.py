"""A subset's rows as one `.npy` file or as a folder of `.npy` shards read in order, and tf.data streams of them.

A shard folder ``train/`` holds ``00000.npy``, ``00001.npy``, ...: every shard is an ordinary array that numpy
reads, and the concatenation of the shards in name order is the subset. A single file ``train.npy`` is a subset
of one shard. Streams read a few shards at a time (numpy, inside a tf.data pipeline), so a training stage holds
those, not the subset.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError, DataError
from pipeline.runtime import io

SHARD_SUFFIX = ".npy"


def _shard_name(index: int) -> str:
    return f"{index:05d}{SHARD_SUFFIX}"


@dataclass(frozen=True)
class Shard:
    path: Path
    rows: int


@dataclass(frozen=True)
class Sharded:
    """One subset on disk, known from the shards' headers alone (nothing is loaded until asked)."""

    location: Path  # the single file, or the shard folder
    shards: tuple[Shard, ...]
    row_shape: tuple[int, ...]
    dtype: np.dtype
    shuffle_rows: int = 0  # set by streamed(): the rows of each shuffled block when trained on as a stream

    @classmethod
    def open(cls, folder: str | Path, subset: str) -> Sharded:
        """``folder/subset.npy`` or the shards in ``folder/subset/``; a one-line error when neither is there."""
        single, many = Path(folder) / f"{subset}{SHARD_SUFFIX}", Path(folder) / subset
        if single.is_file():
            files, location = [single], single
        elif many.is_dir():
            files, location = sorted(many.glob(f"*{SHARD_SUFFIX}")), many
            if not files:
                raise DataError(f"{many}: a shard folder without .npy shards")
        else:
            raise DataError(f"{single}: missing, and no shard folder {many}/ (run the stage that produces it)")
        shards, layouts = [], set()
        for path in files:
            shape, dtype = _header(path)
            shards.append(Shard(path, shape[0]))
            layouts.add((shape[1:], dtype.str))
        if len(layouts) != 1:
            raise DataError(f"{location}: shards of different row shapes or dtypes {sorted(layouts)}")
        (row_shape, dtype), *_ = layouts
        return cls(location, tuple(shards), row_shape, np.dtype(dtype))

    @property
    def rows(self) -> int:
        return sum(shard.rows for shard in self.shards)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.rows, *self.row_shape)

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.rows * self.row_bytes

    @property
    def is_folder(self) -> bool:
        return self.location.is_dir()

    def __len__(self) -> int:
        return self.rows

    def streamed(self, shuffle_rows: int) -> Sharded:
        """This subset to be trained on as a stream (:func:`pipeline.training.fit`), shuffled in blocks of about
        ``shuffle_rows`` rows (the ``train.shuffle_rows`` param)."""
        return replace(self, shuffle_rows=shuffle_rows)

    def chunks(self) -> Iterator[np.ndarray]:
        """The shards in order, one in memory at a time."""
        for shard in self.shards:
            yield io.read_array(shard.path)

    def load(self) -> np.ndarray:
        """The whole subset in memory."""
        return np.concatenate(list(self.chunks())) if len(self.shards) > 1 else io.read_array(self.shards[0].path)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Rows by index (any order), reading only the shards that hold them."""
        rows = np.asarray(rows, dtype=np.int64)
        outside = rows[(rows < 0) | (rows >= self.rows)]
        if outside.size:
            raise DataError(f"{self.location}: row {outside[0]} asked of {self.rows} rows")
        out = np.empty((len(rows), *self.row_shape), dtype=self.dtype)
        starts = np.cumsum([0, *(shard.rows for shard in self.shards)])
        owner = np.searchsorted(starts, rows, side="right") - 1
        for index in np.unique(owner):
            chosen = owner == index
            mapped = io.read_array(self.shards[index].path, memory_map=True)
            out[chosen] = mapped[rows[chosen] - starts[index]]
            del mapped
        return out

    def blocks(self, shard_order=None, *, shards_per_block: int = 1, shuffle_seed=None):
        """A tf.data stream of row blocks: the shards in ``shard_order`` (indices, a tensor too; default: in
        order), ``shards_per_block`` consecutive ones concatenated into one ``(rows, *row_shape)`` tensor; with a
        ``shuffle_seed`` (non-negative integers, a tensor too) each block's rows in an order drawn from (the seed,
        the block's number).

        Whole shards, not rows, are the stream's elements: tf.data's cost is per element, and a row of a few
        hundred floats is too small to pay it (``Dataset.rebatch`` makes batches of any size from the blocks).
        numpy reads a block: a shard's rows gathered from its memory map in the shuffled order (when a block
        joins several shards, they are read and joined first).
        TensorFlow's ``read_file``, ``decode_raw`` and ``stateless_shuffle`` took about 6x the CPU time for the
        same blocks (measured on l1's codings, 60k x 300), time that training needs on a small machine.
        """
        import tensorflow as tf

        order = tf.range(len(self.shards), dtype=tf.int64) if shard_order is None else tf.cast(shard_order, tf.int64)
        seed = tf.zeros([0], tf.int64) if shuffle_seed is None else tf.reshape(tf.cast(shuffle_seed, tf.int64), [-1])

        def read(number, indices, seed):
            block = replace(self, shards=tuple(self.shards[index] for index in indices))
            if not seed.size:
                return block.load()
            source = io.read_array(block.shards[0].path, memory_map=True) if len(indices) == 1 else block.load()
            # a last word of 1: numpy's SeedSequence ignores trailing zeros, so block 0 would draw from the
            # very generator that (seed, epoch) names
            return source[np.random.default_rng([*seed.tolist(), int(number), 1]).permutation(len(source))]

        def read_block(number, indices):
            rows = tf.numpy_function(read, [number, indices, seed], tf.as_dtype(self.dtype), stateful=False)
            return tf.ensure_shape(rows, (None, *self.row_shape))

        # One block read while the one before is used: two blocks in memory, however many shards there are
        # (tf.data's autotuning would read further ahead).
        blocks = tf.data.Dataset.from_tensor_slices(order).batch(shards_per_block).enumerate().map(read_block)
        return bounded(blocks.prefetch(1))


def bounded(dataset):
    """``dataset`` with tf.data's autotuning off: it would otherwise buffer further ahead the more shards there are
    (measured: 24 shards held about 400 MB more than 6), and memory would grow with the data."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a `.npy` file, read without its data; its size must be what they promise."""
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(handle)
            header_bytes = handle.tell()
    except (ValueError, OSError) as error:
        raise DataError(f"{path}: not a readable .npy array ({error})") from None
    if fortran_order or dtype.hasobject or not shape:
        raise DataError(f"{path}: must be a C-ordered numeric array with rows, got shape {shape} dtype {dtype}")
    expected = header_bytes + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if path.stat().st_size != expected:
        raise DataError(f"{path}: {path.stat().st_size} bytes where its header promises {expected} (cut short?)")
    return tuple(shape), dtype


def write_subsets(directory: str | Path, subsets: Mapping[str, np.ndarray | Iterable[np.ndarray]]) -> None:
    """Write a folder of subsets atomically: an array is one ``<subset>.npy``; an iterable of arrays (chunks) is
    a shard folder ``<subset>/``, one shard per chunk, written as the chunks come (one in memory at a time)."""
    with io.atomic_path(directory, directory=True) as temporary:
        for subset, value in subsets.items():
            if isinstance(value, np.ndarray):
                np.save(temporary / f"{subset}{SHARD_SUFFIX}", np.ascontiguousarray(value), allow_pickle=False)
                continue
            (temporary / subset).mkdir()
            for index, chunk in enumerate(value):
                np.save(temporary / subset / _shard_name(index), np.ascontiguousarray(chunk), allow_pickle=False)


def shard_rows(array: np.ndarray, rows: int) -> Iterator[np.ndarray]:
    """An in-memory array cut into shards of ``rows`` rows (the last may be shorter)."""
    for start in range(0, len(array), rows):
        yield array[start : start + rows]


def open_subsets(folder: str | Path, subsets: Iterable[str]) -> dict[str, Sharded]:
    return {subset: Sharded.open(folder, subset) for subset in subsets}


def read_arrays(directory: str | Path, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Each name's ``.npy`` file, or its shard folder read whole."""
    return {name: subset.load() for name, subset in open_subsets(directory, names).items()}


def read_subsets(
    folder: str | Path,
    subsets: Iterable[str],
    *,
    mode: str = "arrays",
    stream_above_bytes: int = 0,
    shuffle_rows: int = 0,
) -> dict[str, np.ndarray | Sharded]:
    """The subsets of a features folder, for training. Shard folders are left on disk as :class:`Sharded`, to be
    streamed in blocks of ``shuffle_rows``, when ``mode`` is ``stream``, or ``auto`` and they hold more than
    ``stream_above_bytes``; everything else is loaded whole (single files always: only shards stream)."""
    opened = open_subsets(folder, subsets)
    sharded = {name: subset for name, subset in opened.items() if subset.is_folder}
    if mode == "stream" and not sharded:
        raise ConfigError(
            f"train.input: stream needs shards, but {folder} holds single files; set split.shard_rows "
            "(or write the images as shards, docs/scaling.md)"
        )
    streamed = mode == "stream" or (mode == "auto" and sum(s.nbytes for s in sharded.values()) > stream_above_bytes)
    return {
        name: subset.streamed(shuffle_rows) if streamed and subset.is_folder else subset.load()
        for name, subset in opened.items()
    }
