"""The plain recipe: encoder stack + softmax head trained on the labelled images only."""

from pipeline.fewlabel.common import Problem, train_classifier


def train(problem: Problem, params, pretrained: bool) -> dict[str, float]:
    return train_classifier(problem, params, pretrained)
