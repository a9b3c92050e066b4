import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.config import DataParams
from pipeline.data.idx import IDX_FILES, decode_idx, encode_idx, load_idx_directory, write_idx_directory
from pipeline.data.known import KNOWN_DATASETS
from pipeline.data.prepare import prepare
from pipeline.data.split import draw_count, labelled, make_split, subset_images
from pipeline.data.synthetic import make_dataset
from pipeline.errors import ConfigError, DataError
from tests.conftest import ROOT, tiny_params

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / IDX_FILES["train_images"]).exists(), reason="dataset-fashion-mnist not installed (make data)"
)


def custom(idx_dir) -> DataParams:
    return DataParams(idx_dir=str(idx_dir), name="custom", class_names=[str(i) for i in range(10)])


def test_idx_round_trip():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(decode_idx(encode_idx(images)), images)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"", "bad magic"),
        (b"\x08\x03\x00\x00" + b"\x00" * 12, "bad magic"),
        (b"\x00\x00\x0d\x01\x00\x00\x00\x01" + b"\x00" * 4, "element type 0x0d"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
        (encode_idx(np.zeros((3, 2, 2), np.uint8))[:-1], "promises shape (3, 2, 2)"),
    ],
)
def test_malformed_idx_is_refused(payload, words):
    with pytest.raises(DataError, match=words.replace("(", r"\(").replace(")", r"\)")):
        decode_idx(payload, "file.gz")


def test_directory_errors_name_the_file(tmp_path, tiny_idx):
    with pytest.raises(DataError, match=f"no directory at {tmp_path / 'nowhere'}; to get it: sudo apt-get"):
        load_idx_directory(tmp_path / "nowhere", KNOWN_DATASETS["fashion_mnist"].install_hint)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="lacks train-images-idx3-ubyte.gz"):
        load_idx_directory(tmp_path / "empty")

    broken = tmp_path / "broken"
    write_idx_directory(broken, make_dataset(50, 20))
    target = broken / IDX_FILES["train_images"]
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(DataError, match=f"{target}: corrupt or truncated gzip"):
        load_idx_directory(broken)


def test_prepare_checks_counts_and_labels(tmp_path):
    arrays = make_dataset(50, 20)
    arrays["train_labels"] = arrays["train_labels"][:-1]
    write_idx_directory(tmp_path, arrays)
    with pytest.raises(DataError, match="49 labels for 50 images"):
        prepare(custom(tmp_path))
    arrays = make_dataset(50, 20)
    write_idx_directory(tmp_path, arrays)
    with pytest.raises(DataError, match="label 9 found, but there are 3 class names"):
        prepare(DataParams(idx_dir=str(tmp_path), name="custom", class_names=["a", "b", "c"]))
    with pytest.raises(ConfigError, match="data.name: got 'custom'.*set data.class_names"):
        prepare(DataParams(idx_dir=str(tmp_path), name="custom"))


def test_known_dataset_with_other_content_is_refused(tiny_idx):
    with pytest.raises(DataError, match="does not match the known fashion_mnist"):
        prepare(DataParams(idx_dir=str(tiny_idx), name="fashion_mnist"))


def test_card_describes_the_data(tiny_idx):
    arrays, card = prepare(custom(tiny_idx))
    assert card["counts"]["train"]["images"] == 600
    assert sum(card["counts"]["test"]["per_class"]) == 200
    assert card["verified_against_known_hashes"] is False
    assert len(card["sha256"]["train_images"]) == 64
    assert arrays["train_images"].shape == (600, 28, 28)


@needs_fashion
def test_real_fashion_mnist_matches_recorded_hashes():
    arrays, card = prepare(DataParams())
    assert card["verified_against_known_hashes"] is True
    assert card["counts"]["train"]["per_class"] == [6000] * 10
    assert card["class_names"][0] == "T-shirt/top"


def test_split_draws_are_class_balanced_nested_independent_and_disjoint_from_validation_and_test():
    labels = np.repeat(np.arange(10), 60).astype(np.uint8)
    test_labels = np.arange(100, dtype=np.uint8) % 10
    table = make_split(labels, test_labels, 10, validation_size=100, budgets=[20, 50], seed=3, draws=3)
    again = make_split(labels, test_labels, 10, validation_size=100, budgets=[20, 50], seed=3, draws=3)
    other = make_split(labels, test_labels, 10, validation_size=100, budgets=[20, 50], seed=4, draws=3)
    assert table.equals(again) and not table.equals(other)
    assert draw_count(table) == 3
    valid = table[table.subset == "valid"]
    assert len(valid) == 100 and (valid.label.value_counts() == 10).all()
    train = table[table.subset == "train"].set_index("row")
    chosen_sets = []
    for draw in (1, 2, 3):
        small_rows, small_labels = labelled(table, 20, draw)
        large_rows, large_labels = labelled(table, 50, draw)
        assert (np.bincount(small_labels) == 2).all() and (np.bincount(large_labels) == 5).all(), "class-balanced"
        assert set(small_rows) <= set(large_rows), "budgets are nested within a draw"
        assert np.array_equal(train.loc[large_rows, "label"].to_numpy(), large_labels)
        # rows index the train subset only: never a validation or test image
        assert set(train.loc[large_rows, "source_index"]).isdisjoint(valid.source_index)
        chosen_sets.append(frozenset(large_rows))
    assert len(set(chosen_sets)) == 3, "each draw picks its own labelled images"
    # one draw is the same whatever the number of draws: adding draws keeps the earlier ones
    fewer = make_split(labels, test_labels, 10, validation_size=100, budgets=[20, 50], seed=3, draws=1)
    assert np.array_equal(labelled(fewer, 50, 1)[0], labelled(table, 50, 1)[0])


def test_split_refuses_budgets_a_class_cannot_fill():
    labels = np.repeat(np.arange(10), 20).astype(np.uint8)
    with pytest.raises(ConfigError, match="split.budgets: got 15, must be a multiple of the 10 classes"):
        make_split(labels, labels, 10, validation_size=50, budgets=[15], seed=0)
    with pytest.raises(
        ConfigError, match="split.budgets: got 200, needs 20 labelled images of class 0, which has only 15"
    ):
        make_split(labels, labels, 10, validation_size=50, budgets=[200], seed=0)
    with pytest.raises(ConfigError, match="split.validation_size: got 200"):
        make_split(labels, labels, 10, validation_size=200, budgets=[10], seed=0)


def test_subset_images_scale_to_unit_interval():
    arrays = make_dataset(60, 20)
    table = make_split(arrays["train_labels"], arrays["test_labels"], 10, validation_size=10, budgets=[10], seed=0)
    images = subset_images(arrays["train_images"], arrays["test_images"], table)
    assert images["train"].shape == (50, 784) and images["train"].dtype == np.float32
    assert 0 <= images["test"].min() and images["test"].max() <= 1
    first = table[table.subset == "valid"].iloc[0]
    assert np.array_equal(images["valid"][0], arrays["train_images"][first.source_index].reshape(-1) / np.float32(255))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _wrong_magic(path: Path) -> None:
    payload = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(b"\x08\x08" + payload[2:], mtime=0))


def _drop_a_label(path: Path) -> None:
    labels = decode_idx(gzip.decompress(path.read_bytes()))
    path.write_bytes(gzip.compress(encode_idx(labels[:-1]), mtime=0))


def _empty(directory: Path) -> None:
    for name in IDX_FILES.values():
        (directory / name).unlink()


# (what is wrong, file it is done to or None for the directory, change, params.data overrides, words of the error)
BAD_DATA = [
    ("truncated gzip", "train_images", _truncate, {}, ["train-images-idx3-ubyte.gz: corrupt or truncated gzip"]),
    ("corrupted gzip", "test_images", _flip_middle_byte, {}, ["t10k-images-idx3-ubyte.gz: corrupt or truncated gzip"]),
    (
        "wrong IDX magic",
        "train_labels",
        _wrong_magic,
        {},
        ["train-labels-idx1-ubyte.gz: not an IDX file (bad magic number 0808"],
    ),
    ("counts disagree", "test_labels", _drop_a_label, {}, ["t10k-labels-idx1-ubyte.gz: 199 labels for 200 images"]),
    (
        "checksum of a known dataset",
        None,
        None,
        {"name": "fashion_mnist", "class_names": None},
        ["train-images-idx3-ubyte.gz: decoded content does not match the known fashion_mnist"],
    ),
    ("empty directory", None, _empty, {}, ["data.idx_dir:", "lacks train-images-idx3-ubyte.gz, train-labels"]),
    (
        "missing directory",
        None,
        None,
        {"idx_dir": "/nonexistent/fashion"},
        ["data.idx_dir: no directory at /nonexistent/fashion"],
    ),
]


FETCH = [sys.executable, "-m", "stages.fetch"]


@pytest.fixture(scope="module")
def fetched(tmp_path_factory, tiny_idx) -> Path:
    """A folder with tiny IDX data and a repository in which `fetch` has already succeeded once."""
    folder = tmp_path_factory.mktemp("fetched")
    shutil.copytree(tiny_idx, folder / "idx")
    (folder / "repo").mkdir()
    (folder / "repo" / "params.yaml").write_text(yaml.safe_dump(tiny_params(folder / "idx")))
    subprocess.run(FETCH, cwd=folder / "repo", env=_stage_env(folder), check=True, capture_output=True)
    return folder


def _stage_env(folder: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlflow.db"}


def _files(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize(("what", "target", "change", "data", "words"), BAD_DATA, ids=[case[0] for case in BAD_DATA])
def test_fetch_stage_refuses_bad_data_in_one_line_and_keeps_the_previous_output(
    fetched, tmp_path, what, target, change, data, words
):
    """The real stage, run as DVC runs it: exit 2, one line naming the file, prepared output untouched."""
    shutil.copytree(fetched, tmp_path, dirs_exist_ok=True)
    repo, idx_dir = tmp_path / "repo", tmp_path / "idx"
    before = _files(repo / "data")
    if change is not None:
        change(idx_dir / IDX_FILES[target] if target else idx_dir)
    params = tiny_params(idx_dir)
    params["data"].update(data)
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run(FETCH, cwd=repo, env=_stage_env(tmp_path), capture_output=True, text=True)

    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: "), errors
    for word in words:
        assert word in errors[0], f"{word!r} not in {errors[0]!r}"
    assert _files(repo / "data") == before, f"{what}: the previous prepared output must stay as it was"
