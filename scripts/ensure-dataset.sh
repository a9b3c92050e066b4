#!/usr/bin/env bash
# Make sure the dataset that params.yaml asks for is on disk. For the default (Fashion-MNIST in the
# folder of Debian's dataset-fashion-mnist package) install that package when it is missing.
# Usage: scripts/ensure-dataset.sh PYTHON
set -euo pipefail
python=${1:-python3}
debian_dir=/usr/share/datasets/fashion-mnist
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

mapfile -t setting < <("$python" - <<'PY'
import yaml
data = (yaml.safe_load(open("params.yaml")) or {}).get("data") or {}
print(data.get("source", "idx"))
print(data.get("idx_dir", "/usr/share/datasets/fashion-mnist"))
PY
)
source=${setting[0]}
dir=${setting[1]}
have_all() { for f in "${files[@]}"; do [ -s "$dir/$f" ] || return 1; done; }

if [ "$source" != idx ]; then
  exit 0  # tensorflow-datasets: the fetch stage reads data.tfds_dir and says what is missing
fi
have_all && exit 0
if [ "$dir" != "$debian_dir" ]; then
  echo "error: data.idx_dir: $dir lacks some of ${files[*]}; put the dataset's IDX files there" >&2
  exit 2
fi
echo "Fashion-MNIST is not in $dir; installing Debian's dataset-fashion-mnist ..."
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist
fi
if ! have_all; then
  cat >&2 <<MSG
error: Fashion-MNIST is still missing from $dir (apt-get is unavailable or failed).
  Copy the four IDX files (${files[*]}) into a folder and set data.idx_dir in params.yaml to it,
  or set data.source: tfds with a tensorflow-datasets data_dir (data.tfds_dir) that holds fashion_mnist.
MSG
  exit 2
fi
