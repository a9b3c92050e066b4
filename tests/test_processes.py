"""Trainings dealt out to processes: the same answers, in the same order, as in one process; errors come back."""

from __future__ import annotations

import functools
import os

import pytest

from pipeline.errors import ConfigError
from pipeline.fewlabel.processes import gathered, map_in_processes, split_evenly


def square_with_threads(share: list[int]) -> list[tuple[int, str | None]]:
    return [(item * item, os.environ.get("TF_NUM_INTRAOP_THREADS")) for item in share]


def refuse(share: list[int], bad: int) -> list[int]:
    if bad in share:
        raise ConfigError(f"classify: got {bad}")
    return share


def test_split_evenly_deals_round_robin_and_never_makes_empty_shares():
    assert split_evenly(list(range(7)), 3) == [[0, 3, 6], [1, 4], [2, 5]]
    assert gathered([[f"r{item}" for item in share] for share in split_evenly(list(range(7)), 3)]) == [
        f"r{item}" for item in range(7)
    ]
    assert gathered(split_evenly([None, 0, None], 2)) == [None, 0, None]
    assert split_evenly([1], 4) == [[1]]
    assert split_evenly([1, 2], 1) == [[1, 2]]


def test_processes_give_what_one_process_gives_with_their_share_of_the_cores():
    shares = split_evenly(list(range(10)), 2)
    before = os.environ.get("TF_NUM_INTRAOP_THREADS")
    in_processes = map_in_processes(square_with_threads, shares, 2)
    assert [[value for value, _ in share] for share in in_processes] == [[0, 4, 16, 36, 64], [1, 9, 25, 49, 81]]
    threads = {threads for share in in_processes for _, threads in share}
    assert threads == {str(max(1, (os.cpu_count() or 1) // 2))}
    assert os.environ.get("TF_NUM_INTRAOP_THREADS") == before  # this process's own settings are left alone


def test_one_process_runs_here():
    assert map_in_processes(square_with_threads, [[3]], 1) == [[(9, os.environ.get("TF_NUM_INTRAOP_THREADS"))]]


def test_an_error_in_a_process_is_raised_here_as_it_was():
    with pytest.raises(ConfigError, match="classify: got 5"):
        map_in_processes(functools.partial(refuse, bad=5), split_evenly(list(range(8)), 2), 2)
