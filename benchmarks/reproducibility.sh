#!/usr/bin/env bash
# Full-scale reproducibility: a fresh clone of the current commit retrains every stage on the full
# Fashion-MNIST (`dvc repro -f`) and must end with the very output hashes recorded in the committed
# dvc.lock and the very metrics committed in metrics/ and reports/metrics.csv. Also measures the peak
# memory of the whole process tree (dvc and the stage it runs, summed).
# Usage: benchmarks/reproducibility.sh [WORKDIR]   (default: a new temporary folder)
set -euo pipefail
source "$(dirname "$0")/fresh_clone.sh" "${1:-}"
make setup data > "$work/setup.log" 2>&1
export PATH="$clone/.venv/bin:$PATH" DVC_NO_ANALYTICS=1 MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true PYTHONHASHSEED=0

start=$(date +%s)
python benchmarks/peak_memory.py "$work/peak_gib" -- dvc repro -f > "$work/repro.log" 2>&1
echo "dvc repro -f in a fresh clone of $(git rev-parse --short HEAD): $(( $(date +%s) - start )) s; peak memory of dvc + stage: $(cat "$work/peak_gib") GiB"

hashes() { grep -E "^ *(- )?path:|^ *md5:" "$1"; }
if cmp -s <(git show HEAD:dvc.lock | hashes /dev/stdin) <(hashes dvc.lock); then
  echo "output hashes in dvc.lock: identical to the committed ones"
else
  echo "output hashes in dvc.lock: DIFFERENT from the committed ones"; git --no-pager diff --stat dvc.lock; status=1
fi
if git diff --quiet -- metrics plots reports/metrics.csv reports/report.md reports/plots; then
  echo "metrics, plots and report.md: identical to the committed ones"
else
  echo "metrics, plots and report.md: DIFFERENT"; git --no-pager diff --stat -- metrics plots reports; status=1
fi
echo "logs in $work"
exit "${status:-0}"
