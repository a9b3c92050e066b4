import subprocess
import sys

import pytest
import yaml

from pipeline import config
from pipeline.errors import ConfigError
from tests.conftest import ROOT, default_params


def test_shipped_params_are_valid():
    params = config.load(ROOT / "params.yaml")
    assert params.layer_names == ["l1", "l2"]
    assert params.split.budgets == [100, 600, 1000, 3000]


def with_change(path: str, value):
    params = default_params()
    *parents, last = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return params


class _Delete:
    """Marks a key to remove; its repr is stable, so every pytest-xdist worker collects the same test ids."""

    def __repr__(self) -> str:
        return "<deleted>"


DELETE = _Delete()

# (key path, bad value, words the single error line must contain)
BAD = [
    ("data.source", "s3", ["data.source", "'s3'", "idx", "tfds"]),
    ("data.name", "Fashion MNIST", ["data.name", "Fashion MNIST"]),
    ("data.tfds_dir", "../outside", ["data.tfds_dir", "../outside", "inside the repository"]),
    ("data.tfds_dir", "/tmp/abs", ["data.tfds_dir", "/tmp/abs"]),
    ("data.colour", True, ["data.colour", "unknown key"]),
    ("seed", -1, ["seed", "-1", "must be greater than or equal to 0"]),
    ("seed", "abc", ["seed", "'abc'"]),
    ("split.budgets", [], ["split.budgets"]),
    ("split.budgets", [600, 100], ["split.budgets", "strictly increasing"]),
    ("split.budgets", [100, 0], ["split.budgets.1", "0", "greater than 0"]),
    ("split.validation_size", 0, ["split.validation_size", "greater than 0"]),
    ("split.budget", [100], ["split.budget", "unknown key"]),
    ("pretrain.layers.l2.units", -5, ["pretrain.layers.l2.units", "-5", "greater than 0"]),
    ("pretrain.layers.l2.units", 0, ["pretrain.layers.l2.units", "greater than 0"]),
    ("pretrain.layers.l2.input", "pixels", ["layers.l2.input", "'pixels'", "must be 'l1'"]),
    ("pretrain.layers.l1.input", "l2", ["layers.l1.input", "'l2'", "must be 'pixels'"]),
    ("pretrain.layers.l1.activation", "swishy", ["pretrain.layers.l1.activation", "swishy", "selu"]),
    ("pretrain.layers.l1.learning_rate", 0, ["pretrain.layers.l1.learning_rate", "greater than 0"]),
    ("pretrain.layers.l1.epochs", 2.5, ["pretrain.layers.l1.epochs", "2.5"]),
    ("pretrain.layers.l1.unit", 300, ["pretrain.layers.l1.unit", "unknown key"]),
    ("pretrain.layers.l1.tied", "maybe", ["pretrain.layers.l1.tied", "maybe"]),
    ("pretrain.layers", {}, ["pretrain.layers"]),
    ("pretrain.layers.l2.input", DELETE, ["pretrain.layers.l2.input", "required"]),
    ("stack.finetune_epochs", -1, ["stack.finetune_epochs", "-1"]),
    ("report.reconstructions", 1000, ["report.reconstructions", "1000", "less than or equal to 100"]),
    ("classify.recipes", ["supervised", "ladder"], ["classify.recipes.1", "ladder", "propagation"]),
    ("classify.recipes", ["frozen", "frozen"], ["classify.recipes", "once"]),
    ("classify.random_start", ["supervised", "ladder"], ["classify.random_start.1", "ladder", "propagation"]),
    ("classify.recipes", ["propagation"], ["classify", "random_start", "supervised", "does not run"]),
    ("classify.propagation.graph", "codings", ["classify.propagation.graph", "unknown key"]),
    ("classify.initialisations", ["pretrained"], ["classify.initialisations", "unknown key", "random_start"]),
    ("classify.supervised.batch_size", 0, ["classify.supervised.batch_size"]),
    ("classify.propagation.method", "knn", ["classify.propagation.method", "poisson", "laplace"]),
    ("classify.propagation.neighbours", 1, ["classify.propagation.neighbours", "greater than or equal to 2"]),
    ("classify.propagation.patches.grid", 0, ["classify.propagation.patches.grid", "greater than or equal to 1"]),
    ("classify.propagation.patches.size", 3.5, ["classify.propagation.patches.size", "3.5"]),
    ("classify.autoencoder.step", 5, ["classify.autoencoder.step", "unknown key", "allowed here: steps,"]),
    ("split.draws", 0, ["split.draws", "greater than or equal to 1"]),
    ("data", None, ["data: got None", "must be a mapping of keys: source, name"]),
    ("baseline.C", 0, ["baseline.C"]),
    ("mlflow.experiment", "", ["mlflow.experiment"]),
    ("pretrain", DELETE, ["pretrain", "required"]),
    ("pretrain.layers.l1.noise", "salt", ["pretrain.layers.l1.noise", "salt", "gaussian", "dropout"]),
    ("pretrain.layers.l1.noise_level", 1.0, ["pretrain.layers.l1.noise_level", "less than 1"]),
    (
        "pretrain.layers.l1.sparsity",
        "kl",
        ["pretrain.layers.l1.sparsity", "'kl'", "needs activation 'sigmoid'", "'selu'"],
    ),
    ("pretrain.layers.l1.sparsity_target", 0, ["pretrain.layers.l1.sparsity_target", "greater than 0"]),
    ("pretrain.layers.l1.kind", "recurrent", ["pretrain.layers.l1.kind", "recurrent", "'dense' or 'conv'"]),
    ("pretrain.layers.l2.kind", "conv", ["pretrain.layers.l2.kind", "'conv' above the dense layer 'l1'"]),
    ("pretrain.layers.l1.kernel_size", 4, ["pretrain.layers.l1.kernel_size", "got 4", "must be odd"]),
    ("chapter.sparsity.kl_target", 1.5, ["chapter.sparsity.kl_target", "1.5", "less than 1"]),
    ("chapter.tied.units", [], ["chapter.tied.units", "at least 1"]),
    ("chapter.phases.joint_epoch", 3, ["chapter.phases.joint_epoch", "unknown key", "joint_epochs"]),
    ("chapter.conv.filters", [16, 0], ["chapter.conv.filters.1", "greater than 0"]),
    ("chapter.pca", {}, ["chapter.pca", "unknown key", "linear_pca, tied, phases"]),
]


@pytest.mark.parametrize(("path", "value", "words"), BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_bad_values_give_one_line_naming_key_value_and_rule(path, value, words):
    with pytest.raises(ConfigError) as raised:
        config.parse(with_change(path, value))
    message = str(raised.value)
    assert "\n" not in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_not_a_mapping_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping"):
        config.parse([1, 2])
    broken = tmp_path / "params.yaml"
    broken.write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(broken)
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "missing.yaml")


def test_validate_stage_exits_2_with_one_line_and_writes_nothing(tmp_path):
    params = with_change("pretrain.layers.l2.units", -5)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [sys.executable, "-m", "stages.validate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "pretrain.layers.l2.units" in lines[0] and "-5" in lines[0]
    assert not (tmp_path / "data").exists()


def test_check_catches_a_value_dvc_would_trip_over_while_parsing_dvc_yaml(tmp_path, capsys):
    """`split.budgets` feeds dvc.yaml's matrix: DVC would stop with "'Value' object is not iterable"."""
    from pipeline.__main__ import main

    raw = default_params()
    raw["split"]["budgets"] = "lots"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    assert main(["check", str(tmp_path / "params.yaml")]) == 2
    assert (
        capsys.readouterr().err
        == f"error: {tmp_path / 'params.yaml'}: split.budgets: got 'lots', must be a valid list\n"
    )
    assert main(["check", str(ROOT / "params.yaml")]) == 0


def test_params_yaml_spells_out_every_setting_with_the_schemas_default():
    """DVC tracks params.yaml's values, not the schema's defaults: a setting missing from the file would change
    results without rerunning anything. Where the schema has a default, the file's value is that default (layer
    settings aside: each layer sets its own)."""
    from pydantic import BaseModel

    def missing_or_different(model: BaseModel, raw: dict, where: str) -> list[str]:
        found = []
        for name, field in type(model).model_fields.items():
            value, key = getattr(model, name), f"{where}{name}"
            if name not in raw:
                found.append(f"{key}: missing")
            elif isinstance(value, BaseModel):
                found += missing_or_different(value, raw[name], f"{key}.")
            elif isinstance(value, dict):
                found += [
                    problem
                    for layer, settings in value.items()
                    for problem in missing_or_different(settings, raw[name][layer], f"{key}.{layer}.")
                    if problem.endswith("missing")
                ]
            elif not field.is_required() and field.get_default(call_default_factory=True) != value:
                found.append(f"{key}: {value!r} here, {field.get_default(call_default_factory=True)!r} in the schema")
        return found

    raw = default_params()
    assert missing_or_different(config.parse(raw), raw, "") == []


def test_the_architecture_is_the_network_not_how_its_layers_were_pretrained():
    """A random start builds on data/architecture.json: a change to how a layer is pretrained leaves it alone (and
    the random-start stages with it), a change to the network does not."""
    from pipeline.config import PretrainParams

    layers = {"l1": {"input": "pixels", "units": 30}, "l2": {"input": "l1", "units": 10}}
    architecture = PretrainParams(layers=layers).architecture()
    assert list(architecture) == ["l1", "l2"]
    pretrained_otherwise = {"noise": "dropout", "noise_level": 0.5, "sparsity": "l1", "epochs": 3, "batch_size": 7}
    unused = {"kernel_size": 5}  # a dense layer has no filters
    for change in (pretrained_otherwise, unused):
        assert PretrainParams(layers={**layers, "l2": {**layers["l2"], **change}}).architecture() == architecture
    conv = {"l1": {**layers["l1"], "kind": "conv"}, "l2": {**layers["l2"], "kind": "conv"}}
    assert (
        PretrainParams(layers=conv).architecture()
        != PretrainParams(layers={**conv, "l2": {**conv["l2"], **unused}}).architecture()
    )
    for network_change in ({"units": 11}, {"activation": "relu"}, {"tied": True}, {"output_activation": "sigmoid"}):
        changed = PretrainParams(layers={**layers, "l2": {**layers["l2"], **network_change}}).architecture()
        assert changed != architecture, network_change
