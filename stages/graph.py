"""Stage `graph`: the label-propagation graph of every training image, on their patch features, and each test
image's nearest training images. It depends on the images alone, so it is built once per dataset: no budget, label
draw or encoder changes it."""

from pipeline import config
from pipeline.config import PIXELS
from pipeline.data.split import draw_seed
from pipeline.fewlabel.propagation.graph import build
from pipeline.runtime import io, paths, shards, tracking
from pipeline.runtime.stage import run, stage_name


def main(argv: list[str]) -> None:
    params = config.load()
    settings = params.classify.propagation
    pixels = shards.read_arrays(paths.features(PIXELS), ["train", "test"])  # the graph links every image: all at once
    neighbours = build(pixels["train"], pixels["test"], settings, seed=draw_seed(params.seed, 0))
    io.write_arrays(paths.GRAPH, neighbours._asdict())
    print(f"graph: {len(neighbours.indices):,} training images, {settings.neighbours} neighbours each", flush=True)
    with tracking.stage_run(
        stage_name("graph"),
        params.mlflow.experiment,
        {"seed": params.seed, "neighbours": settings.neighbours, **settings.patches.model_dump()},
        inputs=[paths.features(PIXELS)],
    ):
        pass


if __name__ == "__main__":
    run(main)
