#!/usr/bin/env bash
# Measures the README's numbers on this machine, from a clean clone of the current commit:
#   1. `make run` (venv + pinned install + dataset check + full `dvc repro`), wall time and peak memory
#   2. a second `dvc repro` right after (nothing should rerun)
#   3. a classify change (classify.supervised.learning_rate: which stages rerun, and how long they take)
#   4. `dvc repro -f` and whether every output hash in dvc.lock is unchanged
# Usage: benchmarks/pipeline_timings.sh [WORKDIR]   (default: a new temporary folder)
set -euo pipefail
source "$(dirname "$0")/fresh_clone.sh" "${1:-}"
log="$work/timings.log"
: > "$log"

seconds() { local start=$1; echo $(( $(date +%s) - start )); }

start=$(date +%s)
/usr/bin/time -f "%M" -o "$work/peak_kb" make run > "$work/make_run.log" 2>&1
echo "make run (clean clone, install included): $(seconds "$start") s; largest process peak RSS $(( $(cat "$work/peak_kb") / 1024 )) MiB" | tee -a "$log"

export PATH="$clone/.venv/bin:$PATH" DVC_NO_ANALYTICS=1 MLFLOW_DISABLE_TELEMETRY=true
start=$(date +%s%N)
dvc repro > "$work/second.log" 2>&1
echo "second dvc repro: $(( ($(date +%s%N) - start) / 1000000 )) ms, stages rerun: $(grep -c "Running stage" "$work/second.log" || true)" | tee -a "$log"

cp dvc.lock "$work/dvc.lock.first"
sed -i '/^  supervised:/,/^  frozen:/ s/^    learning_rate: 0.001$/    learning_rate: 0.0011/' params.yaml  # classify.supervised only
grep -q "^    learning_rate: 0.0011" params.yaml
start=$(date +%s)
dvc repro > "$work/classify_change.log" 2>&1
echo "classify.supervised.learning_rate change: $(seconds "$start") s, reran: $(grep -o "Running stage '[^']*'" "$work/classify_change.log" | cut -d"'" -f2 | tr '\n' ' ')" | tee -a "$log"
git checkout -q params.yaml
dvc repro > /dev/null 2>&1

cp dvc.lock "$work/dvc.lock.before_force"
start=$(date +%s)
dvc repro -f > "$work/forced.log" 2>&1
if cmp -s <(grep -E "md5:|path:" "$work/dvc.lock.before_force") <(grep -E "md5:|path:" dvc.lock); then same=identical; else same=DIFFERENT; fi
echo "dvc repro -f: $(seconds "$start") s; output hashes in dvc.lock: $same" | tee -a "$log"
echo "logs in $work"
