"""Encoder stack + softmax head, every weight trained on the labelled images only."""

from pipeline.schema import LearningRate, PositiveInt, Strict

TITLE = "supervised (encoder + head, labels only)"
SUMMARY = "*supervised* (every weight learns from the labels only)"
ORDER = 1


class Params(Strict):
    steps: PositiveInt = 3000  # Adam updates, the same at every budget
    batch_size: PositiveInt = 32
    learning_rate: LearningRate = 1e-3
