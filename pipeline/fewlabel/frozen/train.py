"""The encoder kept fixed, the head alone trained: a linear probe of the codings."""

from pipeline.fewlabel.common import Problem, train_classifier


def train(problem: Problem, params, pretrained: bool) -> dict[str, float]:
    return train_classifier(problem, params, pretrained, trainable_encoder=False)
