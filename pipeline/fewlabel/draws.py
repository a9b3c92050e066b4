"""A few-label stage's trainings: its recipe on every labelled draw of every budget, from the pretrained stack's
encoder or from a random one of the same shape. Each training reads only its draw and is seeded by it, so the
stage may deal them out to several processes (:func:`pipeline.fewlabel.processes.map_in_processes`) and get the
same results."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from pipeline.config import PIXELS, LayerParams, Params
from pipeline.data.split import draw_count, draw_seed, labels_of
from pipeline.fewlabel import recipe
from pipeline.fewlabel.common import Problem
from pipeline.fewlabel.labels import read_draws
from pipeline.runtime import io, paths, shards


@dataclass(frozen=True)
class Trained:
    budget: int
    draw: int
    scores: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class DrawTrainings:
    """The trainings of one stage: ``recipe`` (a name of classify.recipes) from the ``start`` (pretrained or
    random), with ``params`` (params.yaml)."""

    params: Params
    recipe: str
    start: str

    def tasks(self) -> list[tuple[int, int]]:
        """(budget, draw) of every training, budget by budget."""
        draws = draw_count(pd.read_csv(paths.SPLIT_TABLE))
        return [(budget, draw) for budget in self.params.split.budgets for draw in range(1, draws + 1)]

    def __call__(self, tasks: list[tuple[int, int]], strategy=None) -> list[Trained]:
        """Train ``tasks`` in order, under ``strategy`` (None: the default one), reading the inputs once; the draws
        share one compiled model of each architecture (:class:`~pipeline.training.CompiledTwins`)."""
        from pipeline.models.autoencoders import weight_names
        from pipeline.training import CompiledTwins, distribution, make_deterministic

        strategy = strategy or distribution("default")
        chosen, params = recipe(self.recipe), self.params
        table = pd.read_csv(paths.SPLIT_TABLE)
        pool = shards.read_subsets(paths.features(PIXELS), ["train"], **params.train.reading())["train"]
        pixels = shards.read_arrays(paths.features(PIXELS), ["valid", "test"])
        layers = {name: LayerParams(**shape) for name, shape in io.read_json(paths.ARCHITECTURE).items()}
        weights = {}
        if self.start == "pretrained":
            weights = {
                name: shards.read_arrays(paths.STACK_MODEL / name, weight_names(layer))
                for name, layer in params.pretrain.layers.items()
            }
        use_validation = params.classify.use_validation_labels
        validation = (pixels["valid"], labels_of(table, "valid")) if use_validation else None
        class_count = len(io.read_json(paths.CARD)["class_names"])
        draws = {budget: read_draws(paths.LABELS / chosen.name / str(budget)) for budget in {b for b, _ in tasks}}
        train, settings = chosen.train().train, getattr(params.classify, chosen.name)
        twins, trained = CompiledTwins(), []
        for budget, draw in tasks:
            started = time.perf_counter()
            rows, labels, graph = draws[budget][draw - 1]
            seed = draw_seed(params.seed, draw)
            make_deterministic(seed)
            problem = Problem(
                layers=layers,
                weights=weights,
                pool=pool,
                labelled_rows=rows,
                labels=labels,
                test=(pixels["test"], labels_of(table, "test")),
                class_count=class_count,
                seed=seed,
                graph=graph,
                validation=validation,
                twins=twins,
            )
            with strategy.scope():
                scores = train(problem, settings, pretrained=self.start == "pretrained")
            trained.append(Trained(budget, draw, scores, time.perf_counter() - started))
        return trained
