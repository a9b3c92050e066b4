# Sourced by the benchmarks: clone the current commit into WORKDIR ($1, default a new temporary folder)
# and enter it. Sets $work and $clone.
source_repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")/.." rev-parse --show-toplevel)
work=${1:-$(mktemp -d)}
clone="$work/layerwise"
git clone -q "$source_repo" "$clone"
cd "$clone"
