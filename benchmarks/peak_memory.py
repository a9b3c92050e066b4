"""Run a command and report the peak of the summed resident memory of its whole process tree.

`/usr/bin/time` gives only the largest single process; `dvc repro` is dvc plus one stage process at a
time, and what a machine must hold is their sum. Sampled every 0.2 s with psutil (a DVC dependency).
Usage: python benchmarks/peak_memory.py OUTPUT_FILE -- COMMAND ...
"""

from __future__ import annotations

import subprocess
import sys
import time

import psutil


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass  # ended between listing and reading
    return total


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    output, command = argv[0], argv[2:]
    child = subprocess.Popen(command)
    watched = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, tree_rss(watched))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    with open(output, "w") as handle:
        handle.write(f"{peak / 2**30:.2f}\n")
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
