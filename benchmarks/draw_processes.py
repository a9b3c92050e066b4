"""A few-label stage's trainings in one process against several at once, side by side on this machine: the
seconds of each and whether every draw's scores are the same.

Usage (after `dvc repro`, which writes the inputs): python benchmarks/draw_processes.py [recipe] [budgets] [processes]
e.g. python benchmarks/draw_processes.py supervised 100,1000 2
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import config  # noqa: E402
from pipeline.fewlabel.draws import DrawTrainings  # noqa: E402
from pipeline.fewlabel.processes import map_in_processes, split_evenly  # noqa: E402


def main(recipe: str = "supervised", budgets: str = "100,1000", processes: str = "2") -> None:
    params = config.load()
    trainings = DrawTrainings(params, recipe, "pretrained")
    chosen = {int(budget) for budget in budgets.split(",")}
    tasks = [task for task in trainings.tasks() if task[0] in chosen]
    timings, scores = {}, {}
    for count in (1, int(processes)):
        started = time.perf_counter()
        shares = map_in_processes(trainings, split_evenly(tasks, count), count)
        timings[count] = time.perf_counter() - started
        scores[count] = {(done.budget, done.draw): done.scores for share in shares for done in share}
    same = scores[1] == scores[int(processes)]
    print(
        f"{recipe}, {len(tasks)} trainings (budgets {budgets}): 1 process {timings[1]:.1f} s, {processes} processes "
        f"{timings[int(processes)]:.1f} s: {timings[1] / timings[int(processes)]:.2f}x; "
        f"every draw's scores {'identical' if same else 'DIFFERENT'}"
    )
    if not same:
        for task in tasks:
            print(f"  {task}: {scores[1][task]['test_accuracy']} vs {scores[int(processes)][task]['test_accuracy']}")


if __name__ == "__main__":
    main(*sys.argv[1:])
