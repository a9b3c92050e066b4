"""Training one autoencoder at a time, the chapter's two ways, against training the whole stack at once."""

from pydantic import Field

from pipeline.schema import PositiveInt, TrainingParams, Units

TITLE = "Training one autoencoder at a time"
ORDER = 3
STREAMS = False  # its phases hold the frozen layers' outputs for every training image, as the chapter does
METHODS = ("separate_graphs", "phases_no_cache", "phases_cache", "joint")  # (a), (b) twice, (c): metric prefixes
BOOK_VALIDATION_MSE = ([100, 30], 0.0132)  # the book's joint stack on Fashion-MNIST: its sizes and its number


class Params(TrainingParams):
    """Greedy training three ways plus the joint baseline; ``epochs`` per layer, ``joint_epochs`` for the baseline."""

    units: Units = Field(default_factory=lambda: [100, 30])
    joint_epochs: PositiveInt = 20
