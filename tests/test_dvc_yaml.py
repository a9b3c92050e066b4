"""dvc.yaml against the code: every module a stage runs is one of its dependencies, and every output path is the
one pipeline/runtime/paths.py gives, so neither can drift from the other unnoticed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipeline.chapter import TECHNIQUES
from pipeline.config import PIXELS, load
from pipeline.fewlabel import RECIPES
from pipeline.runtime import paths
from tests.conftest import ROOT

# The params schema: checked by the validate stage; the other stages see it through the params they declare.
SCHEMA = {
    "pipeline/config.py",
    "pipeline/schema.py",
    "pipeline/errors.py",
    "pipeline/registry.py",
    "pipeline/chapter/__init__.py",
    *(f"pipeline/chapter/{technique.name}/__init__.py" for technique in TECHNIQUES),
    "pipeline/fewlabel/__init__.py",
    *(f"pipeline/fewlabel/{recipe.name}/__init__.py" for recipe in RECIPES),
}


def module_file(name: str) -> Path | None:
    path = ROOT / name.replace(".", "/")
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported(name: str) -> set[str]:
    """Our modules (pipeline.*, stages.*) that ``name`` imports, at any depth and inside functions too, as paths."""
    found, pending = set(), [name]
    while pending:
        module = pending.pop()
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py too
            path = module_file(".".join(parts[:depth]))
            if path is None or str(path.relative_to(ROOT)) in found:
                continue
            found.add(str(path.relative_to(ROOT)))
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    pending += [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    pending += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return {path for path in found if path.startswith(("pipeline/", "stages/")) and has_code(ROOT / path)}


def has_code(path: Path) -> bool:
    """More than a docstring: an empty package __init__.py runs nothing a stage could depend on."""
    body = ast.parse(path.read_text()).body
    return len(body) > (1 if body and isinstance(body[0], ast.Expr) else 0)


@pytest.fixture(scope="module")
def stages():
    """The stages as DVC resolves them from this dvc.yaml and params.yaml (foreach and matrix expanded)."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        return {
            stage.addressing: (
                stage.cmd,
                [str(dep.def_path) for dep in stage.deps],
                [str(out.def_path) for out in stage.outs],
            )
            for stage in repo.index.stages
            if stage.addressing.split("@")[0] != "dvc.yaml"
        }


def code_of(cmd: str) -> set[str]:
    """The modules a stage's command runs: its script and, for a chapter technique, the technique's train.py."""
    script, arguments = cmd.split()[2], cmd.split()[3:]
    modules = imported(script)
    if script == "stages.chapter":
        modules |= imported(f"pipeline.chapter.{arguments[0]}.train")
    if script == "stages.classify":
        modules |= imported(f"pipeline.fewlabel.{arguments[0]}.train")
    if script == "stages.report":
        modules |= set().union(*(imported(f"pipeline.chapter.{t.name}.report") for t in TECHNIQUES))
    return modules


def test_every_module_a_stage_imports_is_one_of_its_dependencies(stages):
    missing = {}
    for name, (cmd, deps, _) in stages.items():
        uncovered = {
            module
            for module in code_of(cmd) - SCHEMA
            if not any(module == dep or module.startswith(dep.rstrip("/") + "/") for dep in deps)
        }
        if uncovered:
            missing[name] = sorted(uncovered)
    assert missing == {}


def test_every_stage_output_is_where_pipeline_paths_says(stages):
    params = load(ROOT / "params.yaml")
    layers = params.layer_names
    expected = {
        str(paths.SCHEMA),
        str(paths.PREPARED),
        str(paths.CARD),
        str(paths.SPLIT_TABLE),
        str(paths.features(PIXELS)),
        *(
            str(path)
            for name in layers
            for path in (
                paths.pretrain_model(name),
                paths.features(name),
                paths.pretrain_metrics(name),
                paths.pretrain_history(name),
            )
        ),
        str(paths.STACK_MODEL),
        str(paths.RECONSTRUCTIONS),
        str(paths.STACK_METRICS),
        str(paths.STACK_HISTORY),
        str(paths.GRAPH),
        str(paths.LABELS),
        str(paths.LABELS_METRICS),
        str(paths.ARCHITECTURE),
        *(str(paths.classify_metrics(recipe)) for recipe in params.classify.recipes),
        *(str(paths.classify_metrics(recipe, "random")) for recipe in params.classify.random_start),
        str(paths.BASELINE_METRICS),
        str(paths.PROBE_METRICS),
        *(
            str(path)
            for technique in TECHNIQUES
            for path in (paths.chapter_arrays(technique.name), paths.chapter_metrics(technique.name))
        ),
        *(str(paths.chapter_history(technique.name)) for technique in TECHNIQUES if not technique.reads_layers),
        *(
            str(path)
            for path in (
                paths.REPORT_HTML,
                paths.REPORT_FIGURES,
                paths.REPORT_MARKDOWN,
                paths.METRICS_TABLE,
                paths.FEWLABEL_SUMMARY,
                paths.SUMMARY,
                paths.ACCURACY_PLOT,
            )
        ),
    }
    written = {out for _, _, outs in stages.values() for out in outs}
    assert written == expected


def test_each_technique_of_the_registry_is_a_stage(stages):
    assert {technique.stage for technique in TECHNIQUES} <= set(stages)
    assert {name for name in stages if name.startswith("chapter@")} == {
        f"chapter@{technique.name}" for technique in TECHNIQUES if not technique.reads_layers
    }


def test_the_accuracy_plot_names_every_method_the_report_writes():
    import yaml

    from pipeline.fewlabel.results import plot_columns

    (plot,) = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    assert plot["Test accuracy against labels"]["y"] == {str(paths.ACCURACY_PLOT): plot_columns()}


def test_what_the_images_and_labels_alone_feed_depends_on_no_pretraining(stages):
    """The graph, the labels and the random starts list no output of the pretraining among their dependencies, so
    DVC never reruns them for a pretraining change (a random start follows the encoder's shape through
    data/architecture.json, which only a change of the layers' shape changes)."""
    independent = [name for name in stages if name in ("graph", "labels") or name.startswith("random-start@")]
    assert {"graph", "labels"} < set(independent)
    pretrained = ("models/", *(str(paths.features(name)) for name in load(ROOT / "params.yaml").layer_names))
    for name in independent:
        assert not [dep for dep in stages[name][1] if dep.startswith(pretrained)], name
    assert all("models/stack" in deps for name, (_, deps, _) in stages.items() if name.startswith("classify@"))
