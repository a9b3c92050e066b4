"""A small network and the nearest neighbours read the frozen encoder's codings of every training image, each with
its propagated label (true where known). The encoder runs once over the images; scikit-learn runs on one thread, so
the answer does not depend on how the stage's draws are dealt to processes."""

from __future__ import annotations

from pipeline.fewlabel.common import Problem, head_on_codings, voted_scores
from pipeline.fewlabel.frozen_propagation import Params


def read_outs(params: Params, seed: int) -> list:
    """The read-outs, fresh, each on standardised codings: a network of one hidden ReLU layer (Adam, ``epochs``
    passes over the images) and, unless ``neighbours`` is 0, a distance-weighted vote of the nearest codings."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    network = MLPClassifier(
        (params.hidden_units,),
        batch_size=params.batch_size,
        learning_rate_init=params.learning_rate,
        max_iter=params.epochs,
        random_state=seed,
    )
    models = [network] + ([KNeighborsClassifier(params.neighbours, weights="distance")] if params.neighbours else [])
    return [make_pipeline(StandardScaler(), model) for model in models]


def read(params: Params, seed: int, codings, targets, *coded) -> list:
    """Class probabilities of each array in ``coded``: the read-outs' average, fitted on ``codings`` and ``targets``.
    The network trains exactly ``epochs`` passes (scikit-learn warns that it has not converged: that is the setting)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    fitted = read_outs(params.model_copy(update={"neighbours": min(params.neighbours, len(codings))}), seed)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for model in fitted:
            model.fit(codings, targets)
        return [sum(model.predict_proba(images) for model in fitted) / len(fitted) for images in coded]


def train(problem: Problem, params: Params, pretrained: bool) -> dict[str, float]:
    graph = problem.graph_labels("frozen_propagation")
    model = problem.classifier(pretrained, trainable_encoder=False)
    _, encode = head_on_codings(model, problem.twins)
    codings = encode(problem.whole_pool())
    targets = graph.targets(problem.labelled_rows, problem.labels)
    test, labelled = read(
        params, problem.seed, codings, targets, encode(problem.test[0]), codings[problem.labelled_rows]
    )
    metrics = voted_scores(model, problem, test, labelled, params.vote_weight)
    metrics["trainable_parameters"] = network_parameters(codings.shape[1], params.hidden_units, problem.class_count)
    return metrics


def network_parameters(inputs: int, hidden: int, classes: int) -> int:
    """What the read-out's network learns (the frozen model's own head is never trained); the neighbours learn
    nothing."""
    return (inputs + 1) * hidden + (hidden + 1) * classes
