"""What the pretrained neurons learned, read off the main pipeline's greedy layers."""

from typing import Annotated

from pydantic import Field

from pipeline.schema import LearningRate, PositiveInt, Strict

TITLE = "Visualizing the features"
ORDER = 4
READS_LAYERS = True  # its stage reads the pretrain layers, not the pixels: `features` in dvc.yaml
DISTRIBUTED = False  # it trains no network: a gradient ascent on images, on one device


class Params(Strict):
    neurons: Annotated[int, Field(ge=1, le=32)] = 8
    top_images: Annotated[int, Field(ge=1, le=16)] = 5
    ascent_steps: PositiveInt = 200
    ascent_rate: LearningRate = 0.05
