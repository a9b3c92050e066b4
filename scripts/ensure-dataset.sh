#!/usr/bin/env bash
# Make sure the default dataset (Fashion-MNIST, Debian package dataset-fashion-mnist) is on disk.
set -euo pipefail
dir=${1:-/usr/share/datasets/fashion-mnist}
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
have_all() { for f in "${files[@]}"; do [ -s "$dir/$f" ] || return 1; done; }

have_all && exit 0
echo "Fashion-MNIST is not in $dir; installing Debian's dataset-fashion-mnist ..."
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist
fi
if ! have_all; then
  cat >&2 <<MSG
error: Fashion-MNIST is still missing from $dir.
  Without apt-get: copy the four IDX files (${files[*]})
  into a folder and set data.idx_dir in params.yaml to it, or use data.source: tfds
  with a tensorflow-datasets data_dir that already holds fashion_mnist.
MSG
  exit 2
fi
