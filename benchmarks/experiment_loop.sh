#!/usr/bin/env bash
# The experiment loop a user lives in, timed: from the committed state (a clean work tree whose outputs are all in
# the local DVC cache), one `dvc exp run` per change, each timed alone; the work tree is restored between them.
#   - a change to each recipe's params block (its learning rate): prints `classify change: <N> s (<change>)`;
#   - the pretraining change `pretrain.layers.l2.units=200` last: its final line is `pretrain change: <N> s`.
# Each experiment stays listed in `dvc exp show`; `python -m pipeline compare HEAD <name>` shows its effect on every
# recipe's few-label accuracy, draw by draw. Usage: bash benchmarks/experiment_loop.sh [recipe ...]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .venv ] && source .venv/bin/activate
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "experiment_loop: the work tree differs from the commit; commit or stash first" >&2
  exit 2
fi
if [ "$(dvc status --json)" != "{}" ]; then
  echo "experiment_loop: \`dvc status\` is not clean: run \`dvc repro\` (or \`dvc pull\`) first" >&2
  exit 2
fi
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || mapfile -t recipes < <(python -c 'from pipeline import config; print("\n".join(config.load().classify.recipes))')

restore() { git checkout --quiet -- . && dvc checkout --quiet --force >/dev/null 2>&1; }
timed() {  # timed LABEL SET: one experiment from the committed state, its seconds
  local label=$1 change=$2 log
  log=$(mktemp)
  local start=$SECONDS
  if ! dvc exp run -S "$change" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "experiment_loop: \`dvc exp run -S $change\` failed (log: $log)" >&2
    restore
    exit 1
  fi
  local took=$((SECONDS - start))
  local name
  name=$(sed -n "s/.*Ran experiment(s): \([^ ]*\).*/\1/p" "$log" | tail -n 1)
  echo "# $change: $(grep -c "^Running stage" "$log") stages ran: $(grep "^Running stage" "$log" | sed "s/Running stage '\(.*\)':/\1/" | tr '\n' ' ')(experiment ${name:-?})"
  restore
  echo "$label: $took s ($change)"
}

for recipe in "${recipes[@]}"; do
  rate=$(python -c "from pipeline import config; print(getattr(config.load().classify, '$recipe').learning_rate * 2)")
  timed "classify change" "classify.$recipe.learning_rate=$rate"
done
timed "pretrain change" "pretrain.layers.l2.units=200" | sed 's/ (pretrain.layers.l2.units=200)$//'
