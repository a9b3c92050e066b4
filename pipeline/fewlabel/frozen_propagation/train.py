"""A logistic regression reads the frozen encoder's codings of every training image, each with its propagated label
(true where known). The encoder runs once over the images; lbfgs runs on one thread, so the answer does not depend
on how the stage's draws are dealt to processes."""

from __future__ import annotations

from pipeline.fewlabel.common import Problem, head_on_codings, scores
from pipeline.fewlabel.frozen_propagation import Params


def regression(params: Params, seed: int):
    """The read-out, fresh: a logistic regression on standardised columns (on the raw codings lbfgs needs many more
    iterations)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=params.C, max_iter=params.max_iter, random_state=seed))


def train(problem: Problem, params: Params, pretrained: bool) -> dict[str, float]:
    from threadpoolctl import threadpool_limits

    from pipeline.models.autoencoders import classifier

    if problem.graph is None:
        raise ValueError("frozen_propagation: the problem carries no graph labels; the labels stage computes them")
    model = classifier(
        problem.layers,
        problem.pool.shape[1],
        problem.class_count,
        encoder_weights=problem.weights if pretrained else None,
        trainable_encoder=False,
    )
    _, encode = head_on_codings(model, problem.twins)
    codings = encode(problem.whole_pool())
    read_out = regression(params, problem.seed)
    with threadpool_limits(limits=1):
        read_out.fit(codings, problem.graph.targets(problem.labelled_rows, problem.labels))
        test, labelled = (
            read_out.predict_proba(coded) for coded in (encode(problem.test[0]), codings[problem.labelled_rows])
        )
    weight = params.vote_weight
    return scores(
        model,
        problem,
        test_answers=(1 - weight) * test + weight * problem.graph.test_vote,
        labelled_answers=(1 - weight) * labelled + weight * problem.graph.labelled_vote,
    )
