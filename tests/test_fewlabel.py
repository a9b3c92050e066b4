"""Few-label recipes and their statistics: intervals over draws, propagation on a toy graph, every recipe
learning a tiny separable problem."""

import numpy as np
import pytest

from pipeline.config import LayerParams
from pipeline.errors import ConfigError
from pipeline.fewlabel import RECIPES, recipe
from pipeline.fewlabel.common import epochs_for_steps
from pipeline.fewlabel.results import BASELINE, fewlabel_table, mean_table, pretraining_table, verdicts
from pipeline.stats import paired_interval, per_draw, summarise, unpaired_interval, verdict


def test_a_consistent_gain_is_better_and_a_noisy_one_is_within_the_noise():
    baseline = np.array([0.70, 0.72, 0.69, 0.71, 0.70])
    mean, low, high = paired_interval(baseline + np.array([0.05, 0.06, 0.05, 0.04, 0.05]), baseline)
    assert mean == pytest.approx(0.05) and 0 < low < 0.05 < high and verdict(low, high) == "better"
    noisy = baseline + np.array([0.03, -0.02, 0.04, -0.03, 0.01])
    mean, low, high = paired_interval(noisy, baseline)
    assert low < 0 < high and verdict(low, high) == "within the noise"
    assert verdict(*paired_interval(baseline, baseline + 0.05)[1:]) == "worse"
    # The pairing matters: the same gain drowned by draw-to-draw spread is noise for an unpaired comparison.
    spread = np.array([0.60, 0.80, 0.65, 0.75, 0.70])
    assert verdict(*paired_interval(spread + 0.01, spread)[1:]) == "better"
    assert (
        verdict(
            *unpaired_interval((spread.mean() + 0.01, spread.std(ddof=1), 5), (spread.mean(), spread.std(ddof=1), 5))[
                1:
            ]
        )
        == "within the noise"
    )


def test_one_draw_gives_no_interval_and_the_report_says_so():
    mean, low, high = paired_interval([0.8], [0.7])
    assert mean == pytest.approx(0.1) and np.isnan(low) and np.isnan(high) and verdict(low, high) == "no interval"
    summary = summarise([{"test_accuracy": 0.8}])
    assert summary["test_accuracy_sd"] is None and per_draw(summary).tolist() == [0.8]
    accuracies = {
        100: {
            (BASELINE, None): np.array([0.7]),
            ("supervised", "pretrained"): np.array([0.8]),
            ("supervised", "random"): np.array([0.75]),
        }
    }
    [sentence] = verdicts(accuracies)
    assert "1 draw)" in sentence and "no interval can be given" in sentence and "beats" not in sentence
    table = fewlabel_table(accuracies)
    assert table["diff_vs_pixels_low"].isna().all() and table["draws"].eq(1).all()
    assert pretraining_table(accuracies).to_dict("records") == [
        {"labels": 100, "supervised (encoder + head, labels only)": "+5.0, one draw"}
    ]


def test_fewlabel_table_and_verdicts_over_several_draws():
    baseline = np.array([0.70, 0.71, 0.69])
    accuracies = {
        100: {
            (BASELINE, None): baseline,
            ("propagation", "pretrained"): baseline + [0.08, 0.07, 0.09],
            ("propagation", "random"): baseline + [0.01, -0.02, 0.02],
        }
    }
    table = fewlabel_table(accuracies)
    assert list(table.columns) == [
        "budget",
        "recipe",
        "pretrained",
        "draws",
        "mean_accuracy",
        "sd_accuracy",
        "diff_vs_pixels_low",
        "diff_vs_pixels_high",
    ]
    best = table[(table.recipe == "propagation") & table.pretrained].iloc[0]
    assert best.mean_accuracy == pytest.approx(0.78) and 0 < best.diff_vs_pixels_low < 0.08 < best.diff_vs_pixels_high
    assert table[table.recipe == BASELINE].pretrained.tolist() == [False]
    [sentence] = verdicts(accuracies)
    assert "beats logistic regression" in sentence and "the pretrained start beats the random start" in sentence
    assert mean_table(accuracies).loc[100, "propagation_random"] == pytest.approx(0.7033, abs=1e-4)


def test_what_pretraining_contributes_is_a_verdict_per_recipe_and_budget():
    baseline = np.array([0.70, 0.71, 0.69, 0.72])
    accuracies = {
        budget: {
            (BASELINE, None): baseline,
            ("supervised", "pretrained"): baseline + [0.02, 0.01, 0.02, 0.01],
            ("supervised", "random"): baseline,
            ("frozen", "pretrained"): baseline + shift,
            ("frozen", "random"): baseline,
        }
        for budget, shift in ((100, [0.01, -0.01, 0.02, -0.02]), (1000, [-0.03, -0.02, -0.03, -0.02]))
    }
    table = pretraining_table(accuracies).set_index("labels")
    supervised, frozen = recipe("supervised").title, recipe("frozen").title
    assert list(table.columns) == [supervised, frozen]
    assert table.loc[100, supervised].startswith("+1.5 (+0.6 to +2.4): better")
    assert table.loc[100, frozen].endswith("within the noise") and table.loc[1000, frozen].endswith("worse")
    random_only = {100: {key: values for key, values in accuracies[100].items() if key[1] != "pretrained"}}
    assert pretraining_table(random_only).empty, "no pretrained start: nothing to say"


def test_poisson_learning_recovers_labels_on_a_toy_graph():
    from sklearn.datasets import make_blobs

    from pipeline.fewlabel.propagation.graph import connect, weights
    from pipeline.fewlabel.propagation.spread import propagate

    def knn_graph(points, count):
        return weights(connect(points, points[:1], count), count)

    points, labels = make_blobs(n_samples=600, centers=[(0, 0), (8, 0), (0, 8)], cluster_std=1.0, random_state=0)
    rows = np.array([np.flatnonzero(labels == label)[0] for label in range(3)])  # one label per class
    for method in ("poisson", "laplace"):
        predicted = propagate(knn_graph(points, 10), rows, labels[rows], 3, method)
        assert np.mean(predicted == labels) > 0.95, method
    with pytest.raises(ValueError, match=r"classes \[2\] have no labelled node"):
        propagate(knn_graph(points, 10), rows[:2], labels[rows[:2]], 3)
    far, far_labels = make_blobs(n_samples=60, centers=[(0, 0), (100, 0)], cluster_std=1.0, random_state=0)
    only_first = np.flatnonzero(far_labels == 0)[:2]
    with pytest.raises(ConfigError, match="graph of the 60 images falls apart into 2 parts, 1 without any labelled"):
        propagate(knn_graph(far, 3), only_first, np.array([0, 1]), 2)


@pytest.fixture(scope="module")
def separable():
    """Tiny images of ten class templates with noise (clusters a nearest-neighbour graph can see), and a
    2-layer stack pretrained on them."""
    pytest.importorskip("keras")
    from pipeline.data.synthetic import class_templates
    from pipeline.greedy import pretrain_layer
    from pipeline.training import make_deterministic

    rng = np.random.default_rng(1)
    templates = class_templates(10, 28, rng).reshape(10, -1).astype(np.float32)

    def images(count):
        labels = np.arange(count) % 10
        pictures = templates[labels] * rng.uniform(0.7, 1.0, (count, 1)) + rng.normal(0, 0.1, (count, 784))
        return np.clip(pictures, 0, 1).astype(np.float32), labels.astype(np.int64)

    (train, train_labels), (test, test_labels) = images(500), images(200)
    pixels = {"train": train, "valid": test[:50], "test": test}
    layers = {
        "l1": LayerParams(input="pixels", units=32, output_activation="sigmoid", epochs=5, batch_size=32),
        "l2": LayerParams(input="l1", units=16, epochs=5, batch_size=32),
    }
    make_deterministic(0)
    first = pretrain_layer("l1", layers["l1"], pixels, seed=0)
    second = pretrain_layer("l2", layers["l2"], first.codings, seed=0)
    return (
        layers,
        {"l1": first.weights, "l2": second.weights},
        pixels,
        {"train_labels": train_labels, "test_labels": test_labels},
    )


def separable_problem(separable):
    """The tiny separable problem with 3 labels per class, the generators seeded."""
    from pipeline.fewlabel.common import Problem
    from pipeline.training import make_deterministic

    layers, weights, pixels, data = separable
    labels = data["train_labels"].astype(np.int64)
    rows = np.concatenate([np.flatnonzero(labels == label)[:3] for label in range(10)])  # 30 labels
    make_deterministic(0)
    return Problem(
        layers=layers,
        weights=weights,
        pool=pixels["train"],
        labelled_rows=rows,
        labels=labels[rows],
        test=(pixels["test"], data["test_labels"].astype(np.int64)),
        class_count=10,
        seed=0,
    )


TINY_GRAPH = {"patches": {"centroids": 50, "dims": 20}, "neighbours": 10}  # classify.propagation's, for tiny images


def with_graph(problem, settings: dict):
    """The problem with what the graph (of patch features, ``settings``'s) says on its draw: the labels stage's."""
    from pipeline.fewlabel.propagation import Params
    from pipeline.fewlabel.propagation.graph import build, weights
    from pipeline.fewlabel.propagation.spread import graph_labels

    params = Params(**settings)
    neighbours = build(problem.whole_pool(), problem.test[0], params, seed=1)
    problem.graph = graph_labels(
        neighbours,
        weights(neighbours, params.neighbours),
        problem.labelled_rows,
        problem.labels,
        problem.class_count,
        params.method,
        params.neighbours,
    )
    return problem


@pytest.mark.parametrize(
    "name, settings",
    [
        ("supervised", {"steps": 90, "batch_size": 10}),
        ("frozen", {"steps": 180, "batch_size": 10, "learning_rate": 0.01}),  # the head alone learns slowly
        ("autoencoder", {"steps": 150, "labelled_batch": 10, "unlabelled_batch": 32}),
        (
            "propagation",
            {"patches": {"centroids": 50, "dims": 20}, "neighbours": 10, "epochs": 5, "batch_size": 32, "flip": False},
        ),  # the synthetic class templates are not mirror-symmetric
        ("frozen_propagation", {}),  # reads the graph of TINY_GRAPH
    ],
)
@pytest.mark.parametrize("pretrained", [True, False])
def test_each_recipe_beats_chance_on_a_tiny_separable_dataset(separable, name, settings, pretrained):
    problem = separable_problem(separable)
    chosen = recipe(name)
    if chosen.learns_from_graph:
        problem = with_graph(problem, settings if name == "propagation" else TINY_GRAPH)
        assert np.mean(problem.graph.propagated == separable[3]["train_labels"]) > 0.5
    metrics = chosen.train().train(problem, chosen.params(**settings), pretrained=pretrained)
    assert metrics["test_accuracy"] > 0.4, metrics  # chance is 0.1
    assert metrics["labels_seen"] == 30
    if name == "propagation":
        assert metrics["network_test_accuracy"] > 0.4


@pytest.mark.parametrize(
    "name, settings",
    [
        ("supervised", {"steps": 40, "batch_size": 10}),
        ("frozen", {"steps": 40, "batch_size": 10}),
        ("autoencoder", {"steps": 40, "labelled_batch": 10, "unlabelled_batch": 32}),
        ("propagation", {"patches": {"centroids": 50, "dims": 20}, "epochs": 1, "batch_size": 32, "flip": False}),
    ],
)
def test_a_stage_trains_every_draw_in_one_compiled_model_to_the_scores_of_fresh_ones(separable, name, settings):
    """A stage's draws share its compiled train step and its predictors (CompiledTwins): the scores of each draw,
    at two budgets, from either start, must be those of a draw trained alone, and the step compiled once."""
    from dataclasses import replace

    from pipeline.training import CompiledTwins, make_deterministic

    chosen = recipe(name)
    params = chosen.params(**settings)
    base = separable_problem(separable)
    draws = [(slice(None), 0, True), (slice(0, None, 2), 1, False), (slice(1, None, 2), 2, True)]  # 30, 15, 15 labels

    def scores(twins) -> list[dict]:
        results = []
        for rows, seed, pretrained in draws:
            problem = replace(base, labelled_rows=base.labelled_rows[rows], labels=base.labels[rows])
            problem = with_graph(problem, settings) if chosen.learns_from_graph else problem
            make_deterministic(seed)
            results.append(chosen.train().train(replace(problem, seed=seed, twins=twins), params, pretrained))
        return results

    twins = CompiledTwins()
    assert scores(twins) == scores(None)
    assert len(twins._compiled) + len(twins._kept) == 1, "one train step for the stage's draws"


def test_frozen_propagation_reads_the_codings_and_leaves_the_encoder_as_it_found_it(separable):
    """Its answer is the read-outs' on the frozen codings, the graph's vote mixed in by vote_weight: at 1 the
    vote alone, whatever the encoder; at 0 the start changes the answer, and the encoder's weights stay as given.
    What it reports as trained is the read-out's network; more neighbours than images is as many as there are."""
    from pipeline.stats import accuracy

    chosen = recipe("frozen_propagation")
    problem = with_graph(separable_problem(separable), TINY_GRAPH)
    given = {name: {key: value.copy() for key, value in weights.items()} for name, weights in problem.weights.items()}
    vote = accuracy(problem.graph.test_vote, problem.test[1])
    for pretrained in (True, False):
        alone = chosen.train().train(problem, chosen.params(vote_weight=1.0), pretrained)
        assert alone["test_accuracy"] == vote
    starts = [
        chosen.train().train(problem, chosen.params(), pretrained)["test_accuracy"] for pretrained in (True, False)
    ]
    assert starts[0] != starts[1]
    network = chosen.train().train(problem, chosen.params(neighbours=0, hidden_units=7), True)
    top = list(problem.layers.values())[-1].units
    assert network["trainable_parameters"] == (top + 1) * 7 + (7 + 1) * problem.class_count
    every_image = chosen.train().train(problem, chosen.params(neighbours=len(problem.pool) + 1), True)
    assert every_image["test_accuracy"] > 1 / problem.class_count
    for name, weights in given.items():
        for key, value in weights.items():
            assert np.array_equal(problem.weights[name][key], value)


def test_the_frozen_recipe_trains_its_head_on_cached_codings_to_the_weights_of_the_whole_frozen_model(separable):
    """The frozen encoder runs once on the labelled images, not at every step: the same training, faster."""
    from pipeline.fewlabel.common import head_on_codings, predict, train_classifier
    from pipeline.models.autoencoders import classifier
    from pipeline.stats import accuracy
    from pipeline.training import fit, make_deterministic

    problem = separable_problem(separable)
    training = dict(
        epochs=epochs_for_steps(60, 30, 10),
        batch_size=10,
        learning_rate=0.01,
        loss="sparse_categorical_crossentropy",
        history=False,
    )
    trained = {}
    for way in ("whole", "cached"):
        make_deterministic(0)
        model = classifier(problem.layers, problem.pool.shape[1], 10, problem.weights, trainable_encoder=False)
        initial = model.get_weights()
        if way == "whole":  # the encoder runs at every step, its weights untouched
            fit(model, *problem.labelled, **training)
        else:
            head, encode = head_on_codings(model)
            fit(head, encode(problem.labelled[0]), problem.labels, **training)
        trained[way] = model.get_weights()
        assert np.array_equal(initial[0], trained[way][0]) and not np.allclose(initial[-2], trained[way][-2])
    for whole, cached in zip(trained["whole"], trained["cached"], strict=True):
        np.testing.assert_allclose(cached, whole, rtol=1e-4, atol=1e-5)

    make_deterministic(0)  # the recipe itself: the same answers
    settings = recipe("frozen").params(steps=60, batch_size=10, learning_rate=0.01)
    metrics = train_classifier(problem, settings, pretrained=True, trainable_encoder=False)
    model.set_weights(trained["whole"])
    assert metrics["test_accuracy"] == accuracy(predict(model, problem.test[0]), problem.test[1])
    assert metrics["trainable_parameters"] == trained["whole"][-2].size + 10


def test_training_on_the_labels_makes_as_many_updates_at_every_budget():
    assert epochs_for_steps(3000, 100, 32) == 750  # 4 batches an epoch
    assert epochs_for_steps(3000, 3000, 32) == 32  # 94 batches: 3,008 updates
    assert epochs_for_steps(10, 1000, 32) == 1
    for count in (1, 31, 32, 33, 1000):
        batches = -(-count // 32)
        epochs = epochs_for_steps(500, count, 32)
        assert (epochs - 1) * batches < 500 <= epochs * batches, count  # the fewest epochs that make 500


def test_propagation_answers_with_the_network_without_the_vote_and_with_the_graph_alone_at_full_vote(separable):
    chosen = recipe("propagation")
    settings = {"patches": {"centroids": 50, "dims": 20}, "epochs": 2, "batch_size": 32, "flip": False}

    def run(vote_weight: float, learning_rate: float) -> dict[str, float]:
        params = chosen.params(**settings, vote_weight=vote_weight, learning_rate=learning_rate)
        return chosen.train().train(with_graph(separable_problem(separable), settings), params, pretrained=False)

    alone = run(0, 1e-3)
    assert alone["test_accuracy"] == alone["network_test_accuracy"]
    trained, untrained = run(1, 1e-3), run(1, 1e-9)  # networks far apart, one of them near chance
    assert untrained["network_test_accuracy"] < 0.3 < trained["network_test_accuracy"]
    assert trained["test_accuracy"] == untrained["test_accuracy"] > 0.9  # the graph's answer, whatever the network


def test_draws_spread_in_two_processes_get_the_labels_and_votes_of_one():
    from pipeline.fewlabel.propagation.graph import connect, weights
    from pipeline.fewlabel.propagation.spread import graph_labels, spread_draws

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 5)) * 4
    classes = np.repeat(np.arange(3), 100)
    points = (centres[classes] + rng.normal(size=(300, 5))).astype(np.float32)
    neighbours = connect(points, points[::7] + 0.1, 8)
    graph = weights(neighbours, 8)
    draws = [(rows, classes[rows]) for rows in (rng.choice(300, 9, replace=False) for _ in range(3))]
    draws = [(rows, labels) for rows, labels in draws if len(set(labels)) == 3]
    alone = [graph_labels(neighbours, graph, rows, labels, 3, "laplace", 8) for rows, labels in draws]
    for processes in (1, 2):
        spread = spread_draws(neighbours, graph, draws, 3, "laplace", 8, processes)
        assert len(spread) == len(draws)
        for one, other in zip(alone, spread, strict=True):
            assert np.array_equal(one.propagated, other.propagated)
            assert np.array_equal(one.test_vote, other.test_vote)
            assert np.array_equal(one.labelled_vote, other.labelled_vote)
    assert np.mean(alone[0].propagated == classes) > 0.9  # and the labels are worth spreading


def test_the_vote_carries_the_graphs_labels_to_new_points():
    from sklearn.datasets import make_blobs

    from pipeline.fewlabel.propagation.graph import connect
    from pipeline.fewlabel.propagation.spread import vote

    centres = [(0, 0), (8, 0), (0, 8)]
    points, labels = make_blobs(n_samples=600, centers=centres, cluster_std=1.0, random_state=0)
    new_points, new_labels = make_blobs(n_samples=90, centers=centres, cluster_std=1.0, random_state=1)
    labels, new_labels = labels + (labels == 2), new_labels + (new_labels == 2)  # classes 0, 1 and 3: none of 2
    neighbours = connect(points, new_points, 10)
    shares = vote(neighbours.test_indices, labels, class_count=4)
    assert shares.shape == (90, 4) and shares.dtype == np.float32 and np.allclose(shares.sum(axis=1), 1)
    assert not shares[:, 2].any()  # no class 2 there
    assert np.mean(np.argmax(shares, axis=1) == new_labels) > 0.95
    own = vote(neighbours.indices[:, :10], labels, class_count=4)  # each point among its own nearest
    assert np.mean(np.argmax(own, axis=1) == labels) > 0.95


def bars(count: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """28x28 images of one thin bar each, vertical (class 0) or horizontal (class 1), anywhere in the image."""
    labels = np.arange(count) % 2
    images = np.zeros((count, 28, 28), np.float32)
    for image, label, (across, along) in zip(images, labels, rng.integers(0, 23, (count, 2))):
        image[along : along + 6, across] = 1
        if label:
            image[:] = image.T
    return (np.clip(images + rng.normal(0, 0.05, images.shape), 0, 1)).reshape(count, -1), labels


def test_patch_features_join_images_of_a_class_that_pixels_keep_apart():
    from sklearn.neighbors import NearestNeighbors

    from pipeline.fewlabel.propagation import PatchParams
    from pipeline.fewlabel.propagation.patches import fit_patch_features

    images, labels = bars(200, np.random.default_rng(0))
    settings = PatchParams(centroids=32, grid=2, dims=16)
    features, featurise = fit_patch_features(images, 28, settings, seed=3)
    assert features.shape == (200, 16) and features.dtype == np.float32
    np.testing.assert_array_equal(features, fit_patch_features(images, 28, settings, seed=3)[0])  # a seed's bytes
    np.testing.assert_allclose(featurise(images[:50]), features[:50], atol=1e-5)

    def neighbours_alike(points, queries=None, query_labels=labels, skip=1):
        found = NearestNeighbors(n_neighbors=5 + skip).fit(points)
        nearest = found.kneighbors(points if queries is None else queries, return_distance=False)[:, skip:]
        return np.mean(labels[nearest] == query_labels[:, None])

    # bars of one orientation rarely overlap in pixels; their edges' orientation is what the patches see
    assert neighbours_alike(images) < 0.6
    assert neighbours_alike(features) > 0.95
    # and new bars, never seen by k-means or the whitening, find bars of their own orientation
    new_images, new_labels = bars(100, np.random.default_rng(1))
    assert neighbours_alike(features, featurise(new_images), new_labels, skip=0) > 0.95


def test_patch_features_refuse_settings_the_images_cannot_meet():
    from pipeline.fewlabel.propagation import PatchParams
    from pipeline.fewlabel.propagation.patches import fit_patch_features

    small = np.random.default_rng(0).random((40, 100), np.float32)  # 40 images of 10 x 10 pixels
    with pytest.raises(
        ConfigError, match="5-pixel patches of 10-pixel images leave 6 positions per row, fewer than grid 8"
    ):
        fit_patch_features(small, 10, PatchParams(grid=8), seed=0)
    with pytest.raises(ConfigError, match="patches.dims: got 50, must be at most the 36 features and images there are"):
        fit_patch_features(small, 10, PatchParams(centroids=4), seed=0)


def test_a_patch_graph_of_images_that_are_not_square_is_refused():
    from pipeline.fewlabel.propagation import Params
    from pipeline.fewlabel.propagation.graph import build

    rows = np.random.default_rng(0).random((30, 50), np.float32)
    with pytest.raises(ConfigError, match="the patch graph needs square images, got 50 pixels"):
        build(rows, rows, Params(), seed=0)


def test_flip_shift_gives_each_image_a_mirrored_or_shifted_copy_of_itself():
    import tensorflow as tf

    from pipeline.fewlabel.propagation.train import flip_shift

    side, shift = 4, 1
    images = np.random.default_rng(0).random((64, side * side)).astype(np.float32) + 1  # no zeros of their own
    augmented = flip_shift(side, True, shift)(tf.constant(images), tf.constant([3, 4], tf.int64)).numpy()

    def candidates(image):
        padded = np.pad(image.reshape(side, side), shift)
        for top in range(2 * shift + 1):
            for left in range(2 * shift + 1):
                window = padded[top : top + side, left : left + side]
                yield window.ravel()
                yield np.fliplr(window).ravel()

    for image, result in zip(images, augmented):
        assert any(np.array_equal(result, candidate) for candidate in candidates(image))
    assert not np.array_equal(augmented, images), "something moved"
    again = flip_shift(side, True, shift)(tf.constant(images), tf.constant([3, 4], tf.int64)).numpy()
    assert np.array_equal(again, augmented), "a pure function of its seed"
    assert flip_shift(side, False, 0) is None


def test_every_recipe_folder_declares_what_the_registry_reads():
    """A new folder under pipeline/fewlabel/ is a recipe: its title, summary, place, params and train."""
    from pipeline.config import RECIPES
    from pipeline.fewlabel import RECIPES as REGISTERED

    assert (
        RECIPES
        == tuple(declared.name for declared in REGISTERED)
        == ("supervised", "frozen", "autoencoder", "propagation", "frozen_propagation")
    )
    for declared in REGISTERED:
        assert declared.title and declared.summary and callable(declared.train().train)
        assert declared.params().model_dump(), "every setting has a default"


def test_a_recipe_on_request_runs_only_where_params_name_it():
    """A recipe folder with BY_DEFAULT = False is valid in classify.recipes but not among its defaults."""
    from pipeline.config import ClassifySettings

    on_request = [declared.name for declared in RECIPES if not declared.by_default]
    assert on_request == ["frozen_propagation"]
    assert not set(on_request) & set(ClassifySettings().recipes)
    named = ClassifySettings(recipes=["propagation", *on_request], random_start=on_request)
    assert named.recipes == ["propagation", *on_request]


@pytest.mark.parametrize("name", [declared.name for declared in RECIPES if declared.learns_from_graph])
def test_a_graph_recipe_without_the_graphs_labels_says_which_stage_computes_them(separable, name):
    chosen = recipe(name)
    with pytest.raises(ValueError, match=f"^{name}: .*the labels stage computes them$"):
        chosen.train().train(separable_problem(separable), chosen.params(), True)


def test_the_graph_table_says_what_the_network_adds_to_the_graph_alone():
    from pipeline.fewlabel.results import graph_table

    whole = np.array([0.80, 0.815, 0.79])
    labels = {"100": summarise([{"vote_test_accuracy": value} for value in (0.79, 0.80, 0.78)], "vote_test_accuracy")}
    table = graph_table(labels, {100: {("propagation", "pretrained"): whole, (BASELINE, None): whole - 0.1}})
    (row,) = table.to_dict("records")
    assert row["labels"] == 100 and row["graph alone"] == "0.7900" and row["graph and network"] == "0.8017"
    assert row["the network adds (points)"].startswith("+1.2 (") and row["the network adds (points)"].endswith("better")
    assert graph_table({}, {100: {("supervised", "pretrained"): whole}}).empty, "no propagation, no table"


def test_the_probe_reads_classes_off_codings_on_every_draw_and_pairs_them_with_the_pixels():
    """Codings that carry the class (a coordinate per class) against pixels that hide it in noise: both probes
    score every draw of every budget, and the codings' paired gain over the pixels is an interval above 0."""
    import pandas as pd

    from pipeline.config import BaselineParams
    from pipeline.fewlabel.probe import probe_draws
    from pipeline.fewlabel.probe_results import pays_sentence, pays_table, probe_rows, probes_by_budget

    rng = np.random.default_rng(0)
    classes, train_count, test_count = 4, 400, 200
    train_labels, test_labels = rng.integers(0, classes, train_count), rng.integers(0, classes, test_count)
    table = pd.DataFrame(
        {
            "subset": ["train"] * train_count + ["test"] * test_count,
            "row": [*range(train_count), *range(test_count)],
            "label": [*train_labels, *test_labels],
            **{f"rank_{draw}": [*rng.permutation(train_count) // classes, *[-1] * test_count] for draw in (1, 2, 3)},
        }
    )

    def images(labels, signal):
        return (signal * np.eye(classes)[labels] + rng.normal(size=(len(labels), classes))).astype(np.float32)

    pixels = {"train": images(train_labels, 0.5), "test": images(test_labels, 0.5)}
    codings = {"train": images(train_labels, 6.0), "test": images(test_labels, 6.0)}
    settings = BaselineParams(neighbours=3)
    on_pixels = probe_draws(pixels, table, [8, 40], settings, seed=1)
    on_codings = probe_draws(codings, table, [8, 40], settings, seed=1)
    assert on_pixels.keys() == {"8", "40"} and on_pixels["8"]["draw_3"].keys() == {
        "test_accuracy",
        "neighbours_test_accuracy",
    }
    assert on_codings["40"]["neighbours_test_accuracy_mean"] > 0.95 > 0.6 > on_pixels["40"]["test_accuracy_mean"]
    assert probe_draws(codings, table, [8, 40], settings, seed=1) == on_codings, "the same bytes on a rerun"
    assert probe_draws(codings, table, [8, 40], settings, seed=1, processes=2) == on_codings, "and in 2 processes"

    probes = probes_by_budget(on_pixels, {"l1": on_codings}, [8, 40])
    rows = probe_rows(probes).set_index(["budget", "recipe"])
    assert set(rows.index.get_level_values("recipe")) == {
        "nearest_neighbours",
        "logistic_regression_on_l1",
        "nearest_neighbours_on_l1",
    }
    assert rows.loc[(40, "nearest_neighbours_on_l1"), "diff_vs_pixels_low"] > 0
    assert np.isnan(rows.loc[(40, "nearest_neighbours"), "diff_vs_pixels_low"])

    class Params:  # what pays_table reads of params.yaml
        baseline = settings
        pretrain = type("Pretrain", (), {"layers": {"l1": LayerParams(input="pixels", units=4)}})

    pays = pays_table(Params, probes, {40: {("supervised", "pretrained"): np.array([0.9, 0.92, 0.91])}})
    assert pays["codings"].tolist() == [
        "pixels (no pretraining)",
        "pixels (no pretraining)",
        "l1: 4 units, no noise, not sparse",
        "l1: 4 units, no noise, not sparse",
        "the whole stack",
    ]
    assert pays.loc[3, "40 labels"].endswith(": better") and pays.loc[4, "40 labels"].startswith("0.9100 (supervised")
    sentence = pays_sentence(probes)
    assert sentence.startswith("With 8 labels, the largest gain over the pixels is l1's codings read by ")
    assert "which beats the same probe on the pixels by +" in sentence


def test_the_study_bars_say_yes_only_when_the_interval_clears_them():
    from pipeline.fewlabel.bars import bars_table
    from pipeline.fewlabel.results import BASELINE

    pixels = np.array([0.60, 0.62, 0.61, 0.63, 0.60])
    frozen = np.array([0.80, 0.81, 0.79, 0.80, 0.82])
    probes = {
        100: {
            ("logistic", "pixels"): pixels,
            ("neighbours", "pixels"): pixels,
            ("logistic", "l1"): pixels + [0.06, 0.055, 0.07, 0.05, 0.065],  # +6 points, steadily
            ("neighbours", "l1"): pixels + [0.0, 0.2, -0.1, 0.0, 0.1],  # +4 on average, noisily
        }
    }
    accuracies = {
        100: {
            (BASELINE, None): pixels,
            ("supervised", "pretrained"): pixels + 0.1,  # +10 over its twin, but at 0.71
            ("supervised", "random"): pixels,
            ("frozen", "pretrained"): frozen,  # +4 over its twin, at 0.80
            ("frozen", "random"): frozen - [0.04, 0.035, 0.05, 0.03, 0.045],
        },
        1000: {(BASELINE, None): pixels + 0.2, ("propagation", "pretrained"): np.full(5, 0.875)},
    }
    table = bars_table(probes, accuracies)
    assert list(table["reached"]) == ["yes", "yes", "no", "yes"]
    assert table["this run"][0].startswith("l1 read by logistic regression: 0.6720, +6.0")
    assert table["this run"][1].startswith("frozen encoder") and "0.8040, +4.0" in table["this run"][1]
    assert "0.8040" in table["this run"][2] and "88.0 % at 640 labels" in table["bar"][3]
    assert list(bars_table({}, {3000: accuracies[1000]})["question"]) == []  # no bar for a budget the run lacks
