"""Independent trainings in several processes at once, each with its share of the cores.

A few-label stage trains one small network per labelled draw of every budget: thousands of steps of 32 images,
whose cost is mostly the fixed cost of a step (dispatching its ops, handing work to threads), not arithmetic. One
process cannot fill two cores with such steps; two processes with one thread each can
(``benchmarks/draw_processes.py`` measures it). Each process trains whole draws, seeded by the draw as in one
process, so a draw's result does not depend on which process trained it.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence


def map_in_processes(function: Callable, shares: Sequence, processes: int) -> list:
    """``[function(share) for share in shares]``, in ``processes`` fresh processes at once (1: in this one).

    Each process gets ``cores // processes`` threads for TensorFlow's ops (at least one). ``function`` and the
    shares must pickle: a module-level function, or a ``functools.partial`` of one. An exception in a process is
    raised here, as it was raised there.
    """
    if processes <= 1 or len(shares) <= 1:
        return [function(share) for share in shares]
    threads = max(1, (os.cpu_count() or 1) // processes)
    with _environment(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS=str(threads)):
        with multiprocessing.get_context("spawn").Pool(min(processes, len(shares))) as pool:
            return pool.map(function, shares, chunksize=1)


def split_evenly(items: Sequence, count: int) -> list[list]:
    """``items`` dealt round-robin into ``count`` shares (fewer when there are fewer items), order kept in each."""
    count = max(1, min(count, len(items)))
    return [list(items[start::count]) for start in range(count)]


def gathered(per_share: Sequence[Sequence]) -> list:
    """The results of :func:`split_evenly`'s shares (one result per item, in each share's order) back in the order
    of the items."""
    rounds = itertools.zip_longest(*per_share, fillvalue=_NONE)
    return [result for round_ in rounds for result in round_ if result is not _NONE]


_NONE = object()


@contextlib.contextmanager
def _environment(**variables: str) -> Iterator[None]:
    """These variables set while the processes start (they inherit them), the previous values back after."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
