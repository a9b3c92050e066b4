"""Beyond one machine and beyond memory: sharded subsets, streamed training, tf.distribute strategies."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.errors import ConfigError, DataError
from pipeline.runtime.shards import Sharded, open_subsets, read_arrays, read_subsets, shard_rows, write_subsets
from tests.conftest import ROOT, default_params, free_port

keras = pytest.importorskip("keras")


def numbered_rows(count: int, width: int = 3) -> np.ndarray:
    """Row i holds i in every column: a batch tells which rows it came from."""
    return np.repeat(np.arange(count, dtype=np.float32)[:, None], width, axis=1)


def test_a_subset_written_as_shards_reads_back_whole_by_row_and_as_a_stream(tmp_path):
    rows = numbered_rows(25)
    write_subsets(tmp_path / "features", {"train": shard_rows(rows, 10), "test": rows[:4]})
    assert sorted(path.name for path in (tmp_path / "features" / "train").iterdir()) == [
        "00000.npy",
        "00001.npy",
        "00002.npy",
    ]
    train = Sharded.open(tmp_path / "features", "train")
    assert (train.rows, train.shape, train.nbytes, train.is_folder) == (25, (25, 3), 25 * 3 * 4, True)
    assert np.array_equal(train.load(), rows)
    assert np.array_equal(train.take(np.array([24, 0, 13, 13])), rows[[24, 0, 13, 13]])
    assert np.array_equal(np.concatenate(list(train.blocks().as_numpy_iterator())), rows)
    blocks = list(train.blocks([2, 0, 1], shards_per_block=2).as_numpy_iterator())
    assert [len(block) for block in blocks] == [15, 10] and np.array_equal(
        blocks[0], rows[[*range(20, 25), *range(10)]]
    )
    seeds = ([7, 1], [7, 1], [7, 2])
    shuffled = [list(train.blocks([2, 0, 1], shards_per_block=2, shuffle_seed=seed)) for seed in seeds]
    assert [sorted(block[:, 0].numpy()) for block in shuffled[0]] == [sorted(block[:, 0]) for block in blocks]
    assert all(np.array_equal(a, b) for a, b in zip(shuffled[0], shuffled[1], strict=True)), "a pure function"
    assert not np.array_equal(shuffled[0][0], blocks[0]) and not np.array_equal(shuffled[0][0], shuffled[2][0])
    assert np.array_equal(read_arrays(tmp_path / "features", ["train", "test"])["train"], rows)
    assert not Sharded.open(tmp_path / "features", "test").is_folder
    subsets = ["train", "test"]
    assert isinstance(read_subsets(tmp_path / "features", subsets, mode="arrays")["train"], np.ndarray)
    auto = read_subsets(tmp_path / "features", subsets, mode="auto", stream_above_bytes=100)
    assert isinstance(auto["train"], Sharded) and isinstance(auto["test"], np.ndarray), "only shards stream"
    small = read_subsets(tmp_path / "features", subsets, mode="auto", stream_above_bytes=1000)
    assert isinstance(small["train"], np.ndarray)
    with pytest.raises(ConfigError, match="train.input: stream needs shards, but .* holds single files"):
        read_subsets(tmp_path / "features", ["test"], mode="stream")


def test_bad_shards_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match=r"train.npy: missing, and no shard folder"):
        Sharded.open(tmp_path, "train")
    write_subsets(tmp_path / "mixed", {"train": [numbered_rows(4, 3), numbered_rows(4, 5)]})
    with pytest.raises(DataError, match="shards of different row shapes"):
        Sharded.open(tmp_path / "mixed", "train")
    (tmp_path / "broken" / "train").mkdir(parents=True)
    (tmp_path / "broken" / "train" / "00000.npy").write_bytes(b"not an array")
    with pytest.raises(DataError, match="00000.npy: not a readable .npy array"):
        open_subsets(tmp_path / "broken", ["train"])
    write_subsets(tmp_path / "ok", {"train": [numbered_rows(8)]})
    with pytest.raises(DataError, match="row 30 asked of 8 rows"):
        Sharded.open(tmp_path / "ok", "train").take(np.array([30]))
    shard = tmp_path / "ok" / "train" / "00000.npy"
    shard.write_bytes(shard.read_bytes()[:-12])  # a copy cut short: the last row missing
    with pytest.raises(DataError, match=r"00000.npy: 212 bytes where its header promises 224 \(cut short\?\)"):
        Sharded.open(tmp_path / "ok", "train")


def streamed_fit(folder: Path, *, epochs=3, seen=None, checkpoint=None, callbacks=()):
    """A reconstruction of the rows in ``folder``'s train shards, streamed; ``seen`` collects every batch's rows."""
    import tensorflow as tf

    from pipeline.training import fit, make_deterministic

    def record(images, batch_seed):
        def note(values):
            seen.append(values.numpy()[:, 0].astype(int))
            return values

        return tf.py_function(note, [images], tf.float32)

    make_deterministic(0)
    train = Sharded.open(folder, "train").streamed(shuffle_rows=6)
    model = keras.Sequential([keras.Input(train.row_shape), keras.layers.Dense(2), keras.layers.Dense(3)])
    history = fit(
        model,
        train,
        train,
        epochs=epochs,
        batch_size=4,
        learning_rate=1e-3,
        loss="mse",
        seed=5,
        checkpoint=checkpoint,
        callbacks=list(callbacks),
        augment=record if seen is not None else None,
    )
    return [np.asarray(weight) for weight in model.weights], history


def test_a_streamed_epoch_sees_every_row_once_in_a_fresh_order(tmp_path):
    write_subsets(tmp_path, {"train": shard_rows(numbered_rows(26), 5)})
    seen: list[np.ndarray] = []
    streamed_fit(tmp_path, seen=seen)
    epochs = np.split(np.concatenate(seen), 3)
    for epoch in epochs:
        assert sorted(epoch) == list(range(26)), "each row once per epoch"
    assert len({tuple(epoch) for epoch in epochs}) == 3, "each epoch its own order"
    again: list[np.ndarray] = []
    streamed_fit(tmp_path, seen=again)
    batches = lambda found: sorted(tuple(batch) for batch in found)  # noqa: E731 (augmented in parallel)
    assert batches(seen) == batches(again), "the order is a function of the seed"


class StopAfterEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_an_interrupted_streamed_fit_resumes_to_the_same_bytes(tmp_path):
    from pipeline.training import Checkpoint

    write_subsets(tmp_path, {"train": shard_rows(numbered_rows(26) / 26, 5)})
    whole, whole_history = streamed_fit(tmp_path, checkpoint=Checkpoint(tmp_path / "whole", "f"))
    with pytest.raises(KeyboardInterrupt):
        streamed_fit(tmp_path, checkpoint=Checkpoint(tmp_path / "cut", "f"), callbacks=[StopAfterEpoch()])
    resumed, resumed_history = streamed_fit(tmp_path, checkpoint=Checkpoint(tmp_path / "cut", "f"))
    assert all(a.tobytes() == b.tobytes() for a, b in zip(whole, resumed, strict=True))
    assert whole_history.to_csv() == resumed_history.to_csv()


def test_multi_worker_without_tf_config_is_a_one_line_error(monkeypatch):
    from pipeline.training import distribution

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="train.strategy: multi_worker needs TF_CONFIG"):
        distribution("multi_worker")


# --- tf.distribute: each run is a process of its own (logical devices and TF_CONFIG are per process) -----------


def fit_under(strategy: str, output: Path, *extra: str, workers: int = 1) -> list[dict]:
    """Run tests/fit_under_strategy.py as ``workers`` processes (a loopback cluster when more than one)."""
    ports = [free_port() for _ in range(workers)]
    processes = []
    for index in range(workers):
        environment = dict(os.environ)
        if strategy == "multi_worker":
            cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
            environment["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.fit_under_strategy", strategy, str(output), *extra],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    return [{"code": process.wait(timeout=300), "log": process.stdout.read()} for process in processes]


def finished(output: Path, runs: list[dict]) -> dict:
    assert all(run["code"] == 0 for run in runs), "\n".join(run["log"][-3000:] for run in runs)
    return json.loads(output.read_text())


# Summation order is the only difference (a global batch's gradient summed per replica, then across replicas);
# measured here: 1e-7 relative. The bar is 1 %.
TOLERANCE = 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("streamed", [False, True], ids=["arrays", "stream"])
def test_mirrored_over_two_cpu_devices_and_two_workers_on_loopback_follow_the_single_device_curve(tmp_path, streamed):
    from tests.fit_under_strategy import data

    extra = []
    if streamed:
        write_subsets(tmp_path / "shards", {"train": shard_rows(data(), 300)})
        extra = ["--stream", str(tmp_path / "shards")]
    single = finished(tmp_path / "one.json", fit_under("default", tmp_path / "one.json", *extra))
    mirrored = finished(tmp_path / "mirrored.json", fit_under("mirrored", tmp_path / "mirrored.json", *extra))
    workers = finished(
        tmp_path / "workers.json", fit_under("multi_worker", tmp_path / "workers.json", *extra, workers=2)
    )
    assert (single["replicas"], mirrored["replicas"], workers["replicas"]) == (1, 2, 2)
    for run in (mirrored, workers):
        for curve in ("loss", "val_loss"):
            expected, got = np.array(single["history"][curve]), np.array(run["history"][curve])
            assert np.allclose(got, expected, rtol=TOLERANCE, atol=0), (curve, expected, got)
    assert single["history"]["loss"][-1] < single["history"]["loss"][0] / 2, "the fit learns something"


@pytest.mark.slow
@pytest.mark.parametrize("labelled_batch", [15, 1], ids=["uneven shares", "an empty share"])
def test_the_semi_supervised_autoencoder_recipe_trains_alike_on_one_device_two_cpus_and_two_workers(
    tmp_path, labelled_batch
):
    """Its own training loop: each replica takes its share of every step's labelled and unlabelled batch."""
    runs = {
        name: finished(
            tmp_path / f"{name}.json",
            fit_under(name, tmp_path / f"{name}.json", "--semi-supervised", str(labelled_batch), **kw),
        )
        for name, kw in (("default", {}), ("mirrored", {}), ("multi_worker", {"workers": 2}))
    }
    assert [run["replicas"] for run in runs.values()] == [1, 2, 2]
    if labelled_batch > 1:  # one label a step teaches little in 200 steps; it tests the empty share
        assert runs["default"]["accuracy"] > 0.5, "it learns (chance: 1/8)"
    for name in ("mirrored", "multi_worker"):
        got, expected = np.array(runs[name]["predictions"]), np.array(runs["default"]["predictions"])
        assert np.allclose(got, expected, rtol=0, atol=TOLERANCE), (name, np.abs(got - expected).max())


@pytest.mark.slow
@pytest.mark.parametrize("strategy,workers", [("mirrored", 1), ("multi_worker", 2)])
def test_a_killed_distributed_fit_resumes_to_the_bytes_of_an_uninterrupted_one(tmp_path, strategy, workers):
    whole = finished(tmp_path / "whole.json", fit_under(strategy, tmp_path / "whole.json", workers=workers))
    stopped = fit_under(strategy, tmp_path / "cut.json", "--stop-after", "3", workers=workers)
    assert [run["code"] for run in stopped] == [3] * workers, [run["log"][-2000:] for run in stopped]
    resumed_runs = fit_under(strategy, tmp_path / "cut.json", workers=workers)
    resumed = finished(tmp_path / "cut.json", resumed_runs)
    assert "resuming after epoch 2" in resumed_runs[0]["log"]
    assert resumed["weights"] == whole["weights"]
    assert resumed["history"] == whole["history"]


# --- memory: the real pretrain stage under a hard memory limit ----------------------------------------------------

# RLIMIT_DATA caps heap and private mappings (thread stacks too). Measured here with 200,000 rows: the streamed
# stage runs under 3 GiB, not under 2; the whole-array path fails under 3 GiB and runs under 4. With 300,000 rows
# (940 MB) the whole-array path needs about 0.6 GiB more still.
ROWS, WIDTH = 300_000, 784
MEMORY_LIMIT = 3 * 2**30


def pretrain_in(folder: Path, train_input: str) -> subprocess.CompletedProcess:
    params = default_params()
    params["pretrain"]["layers"]["l1"].update(units=32, epochs=1, batch_size=256)
    params["train"].update(input=train_input)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "stages.pretrain", "l1"],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=limit_memory,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_the_streamed_pretrain_stage_fits_in_a_memory_limit_that_the_whole_array_path_exceeds(tmp_path):
    rng = np.random.default_rng(0)
    pixels = tmp_path / "data" / "features" / "pixels"

    def chunks():
        for _ in range(ROWS // 10_000):
            yield rng.random((10_000, WIDTH), dtype=np.float32)

    small = {subset: rng.random((500, WIDTH), dtype=np.float32) for subset in ("valid", "test")}
    write_subsets(pixels, {"train": chunks(), **small})

    streamed = pretrain_in(tmp_path, "stream")
    assert streamed.returncode == 0, streamed.stderr[-3000:]
    codings = Sharded.open(tmp_path / "data" / "features" / "l1", "train")
    assert (codings.rows, codings.row_shape, len(codings.shards)) == (ROWS, (32,), ROWS // 10_000), "as shards"

    whole = pretrain_in(tmp_path, "arrays")
    assert whole.returncode != 0, "the whole-array path should not fit in the limit"
    # numpy's MemoryError, or TensorFlow failing to allocate: an abort or a segmentation fault (a signal)
    out_of_memory = ("Unable to allocate", "MemoryError", "bad_alloc", "pthread_create() failed")
    assert whole.returncode < 0 or any(sign in whole.stderr for sign in out_of_memory), whole.stderr[-2000:]
    assert Sharded.open(tmp_path / "data" / "features" / "l1", "train").rows == ROWS, "the failed run kept them"
