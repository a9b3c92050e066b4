import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError
from pipeline.report.render import markdown_escape
from pipeline.runtime import io


def test_failed_write_keeps_the_old_output(tmp_path):
    target = tmp_path / "out.json"
    io.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("killed")
    assert io.read_json(target) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"], "no temporary file is left behind"


def test_array_folders_are_replaced_whole_and_byte_stable(tmp_path):
    folder = tmp_path / "arrays"
    io.write_arrays(folder, {"a": np.arange(3), "nested": {"b": np.ones(2)}})
    first = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.npy")}
    io.write_arrays(folder, {"a": np.arange(3), "nested": {"b": np.ones(2)}})
    assert first == {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.npy")}
    io.write_arrays(folder, {"c": np.zeros(1)})
    assert sorted(p.name for p in folder.iterdir()) == ["c.npy"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arrays"]


def test_pickled_arrays_are_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="not a readable .npy array"):
        io.read_array(path)
    with pytest.raises(DataError, match="missing"):
        io.read_array(tmp_path / "nothing.npy")


def test_markdown_escape_neutralises_markup():
    assert markdown_escape("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert markdown_escape("a|b *c* [d](e)") == r"a\|b \*c\* \[d\](e)"


def test_nothing_is_deserialized_with_pickle():
    """Every array goes through io.read_array (allow_pickle=False); no model is loaded in unsafe mode."""
    import re

    from tests.conftest import ROOT

    unsafe = re.compile(
        r"allow_pickle\s*=\s*True|import pickle|from pickle|safe_mode\s*=\s*False|joblib|"
        r"read_pickle|cloudpickle|\bnp\.load\(|numpy\.load\("
    )
    offenders = []
    for path in [*(ROOT / "pipeline").rglob("*.py"), *(ROOT / "stages").rglob("*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if unsafe.search(line) and not (path.name == "io.py" and "allow_pickle=False" in line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_a_symlinked_data_folder_cannot_lead_outside_the_repository(tmp_path, monkeypatch):
    from pipeline.config import DataParams
    from pipeline.data.prepare import prepare
    from pipeline.errors import ConfigError

    (tmp_path / "elsewhere").mkdir()
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "tfds").symlink_to(tmp_path / "elsewhere")
    monkeypatch.chdir(repo)
    with pytest.raises(
        ConfigError, match=r"data.tfds_dir: got 'data/tfds', which leads to .*elsewhere, outside the repository"
    ):
        prepare(DataParams(source="tfds", tfds_dir="data/tfds"))


def test_comparison_tables_show_what_differs_and_the_change():
    from pipeline.compare import Revision, differing_params, metrics_side_by_side
    from pipeline.report.render import environment

    first = Revision("main", "a" * 40, {"seed": 42, "stack.epochs": 5}, {"mse.stack": 0.5, "mse.old": 1.0})
    second = Revision("<b>exp</b>", "b" * 40, {"seed": 42, "stack.epochs": 7, "new": True}, {"mse.stack": 0.25})
    params = differing_params([first, second])
    assert params.to_dict(orient="index") == {
        "new": {"main": "(absent)", "<b>exp</b>": True},
        "stack.epochs": {"main": 5, "<b>exp</b>": 7},
    }
    table = metrics_side_by_side([first, second])
    assert table.iloc[1].tolist() == ["mse.stack", 0.5, 0.25, -0.25]
    assert table.iloc[0, 2] != table.iloc[0, 2], "a metric missing on one side is NaN, not zero"

    from pipeline.compare import Comparison, fewlabel_side_by_side

    def fewlabel(means, sds, draws):
        return pd.DataFrame(
            {
                "budget": [100, 100],
                "recipe": ["propagation", "supervised"],
                "pretrained": [True, True],
                "draws": draws,
                "mean_accuracy": means,
                "sd_accuracy": sds,
            }
        )

    first.fewlabel = fewlabel([0.70, 0.70], [0.005, 0.03], 5)
    second.fewlabel = fewlabel([0.75, 0.71], [0.005, 0.03], 5)
    accuracy = fewlabel_side_by_side([first, second])
    assert accuracy["main"].tolist() == ["0.7000 ± 0.0050", "0.7000 ± 0.0300"]
    assert accuracy["noise <b>exp</b>"].tolist() == ["exceeds the noise (up)", "within the noise"]
    assert accuracy["change <b>exp</b>"].round(4).tolist() == [0.05, 0.01]

    comparison = Comparison([first, second], params, table, accuracy, figures={})
    markdown = environment().get_template("compare.md.j2").render(comparison=comparison)
    page = environment().get_template("compare.html.j2").render(comparison=comparison)
    assert "| mse.stack | 0.50000 | 0.25000 | -0.25000 |" in markdown
    assert "| mse.old | 1.00000 | - | - |" in markdown
    assert (
        "| 100 | propagation | True | 0.7000 ± 0.0050 | 0.7500 ± 0.0050 | +0.0500 | exceeds the noise (up) |"
        in markdown
    )
    assert "<b>" not in markdown and "<b>" not in page and "&lt;b&gt;exp&lt;/b&gt;" in page


def test_compare_pairs_the_draws_when_both_sides_trained_on_the_same_ones():
    """A steady gain of 0.4 points on every draw hides in draws that spread by 3 points when the means are
    compared (Welch), and stands out paired: but only the same seed and split make the draws the same."""
    from pipeline.compare import Revision, fewlabel_side_by_side

    before = np.array([0.66, 0.70, 0.73, 0.68, 0.71])
    after = before + np.array([0.004, 0.005, 0.003, 0.004, 0.004])

    def revision(label: str, values: np.ndarray, seed: int) -> Revision:
        side = Revision(label, None, params={"seed": seed, "split.draws": 5})
        side.fewlabel = pd.DataFrame(
            {
                "budget": [100],
                "recipe": ["supervised"],
                "pretrained": [True],
                "draws": [5],
                "mean_accuracy": [values.mean()],
                "sd_accuracy": [values.std(ddof=1)],
            }
        )
        side.draws = {(100, "supervised", True): values}
        return side

    paired = fewlabel_side_by_side([revision("main", before, 42), revision("exp", after, 42)])
    assert paired["noise exp"].tolist() == ["exceeds the noise (up)"]
    reseeded = fewlabel_side_by_side([revision("main", before, 42), revision("exp", after, 7)])
    assert reseeded["noise exp"].tolist() == ["within the noise"], "other draws: the means alone, Welch's"
    assert paired["change exp"].round(4).tolist() == reseeded["change exp"].round(4).tolist() == [0.004]
