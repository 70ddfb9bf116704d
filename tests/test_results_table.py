"""tools/results_table.py: the landing page's results table, built from notebook outputs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import utils.experiment
import utils.history

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("results_table", REPO / "tools" / "results_table.py")
results_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(results_table)


def result_line(**fields: object) -> str:
    record = {"model": "LeNet", "profile": "quick", "epochs": 10, "train_examples": 60000,
              "test_acc": 0.8123,
              "examples_per_sec": 23456, **fields}
    return results_table.PREFIX + json.dumps(record) + "\n"


def write_notebook(path: Path, title: str, *stdout: str) -> Path:
    nb = new_notebook()
    nb.cells.append(new_markdown_cell(f"# {title}\n\nWhy it matters."))
    for i, text in enumerate(stdout, start=1):
        cell = new_code_cell("utils.report_result(...)", execution_count=i)
        cell.outputs = [new_output("stream", name="stdout", text=text)]
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_prefix_matches_utils() -> None:
    assert results_table.PREFIX == utils.history.RESULT_PREFIX


def test_table_from_a_fake_notebook(tmp_path: Path) -> None:
    nb = write_notebook(
        tmp_path / "chapters" / "05_lenet.ipynb", "LeNet",
        "epoch 1/10 ...\n" + result_line(),
        result_line(model="LeNet | modern", test_acc=0.9, examples_per_sec=1234567))
    out = tmp_path / "results.md"
    assert results_table.main([str(nb), "--out", str(out), "--link-base", str(tmp_path)]) == 0
    text = out.read_text()
    assert "`quick` profile" in text
    rows = [line for line in text.splitlines() if line.startswith("| [")]
    assert rows == [
        "| [5. LeNet](chapters/05_lenet.ipynb) | LeNet | 60,000 | 10 | 0.812 | 23,456 |",
        "| [5. LeNet](chapters/05_lenet.ipynb) | LeNet \\| modern | 60,000 | 10 | 0.900 "
        "| 1,234,567 |",
    ]


def test_short_titles() -> None:
    assert results_table.short_title("LeNet: Training a Convolutional Network",
                                     Path("chapters/05_lenet.ipynb")) == "5. LeNet"
    resnet = results_table.short_title("Residual Networks (ResNet)",
                                       Path("chapters/07_resnet.ipynb"))
    assert resnet == "7. Residual Networks (ResNet)"
    assert results_table.short_title("Scratch: notes", Path("scratch.ipynb")) == "Scratch"


def test_mixed_profiles_get_a_column(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "a.ipynb", "A", result_line(), result_line(profile="full"))
    text = results_table.render(results_table.read_results(nb), tmp_path)
    assert "| Profile |" in text
    assert text.rstrip().endswith("| full |")


def test_no_results_gives_a_sentence(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "a.ipynb", "A", "no result lines here\n")
    out = tmp_path / "results.md"
    assert results_table.main([str(nb), "--out", str(out)]) == 0
    text = out.read_text()
    assert "No chapter has reported a trained model yet" in text
    assert "|" not in text


def test_bad_result_line_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    nb = write_notebook(tmp_path / "bad.ipynb", "Bad", results_table.PREFIX + "{not json\n")
    assert results_table.main([str(nb), "--out", str(tmp_path / "r.md")]) == 1
    assert "bad.ipynb cell 1: cnnbook-result line is not JSON" in capsys.readouterr().err
    nb = write_notebook(tmp_path / "short.ipynb", "Short",
                        results_table.PREFIX + json.dumps({"model": "x"}) + "\n")
    with pytest.raises(results_table.ResultError, match="lacks profile, epochs"):
        results_table.read_results(nb)


def test_unchanged_table_is_not_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    assert results_table.write_if_changed(out, "x\n")
    assert not results_table.write_if_changed(out, "x\n")
    assert results_table.write_if_changed(out, "y\n")


def compare_line(**fields: object) -> str:
    record = {"chapter": "06_batch_norm", "baseline": "LeNet", "treatment": "LeNet + BN",
              "metric": "test_acc", "seeds": [0, 1, 2], "baseline_runs": [0.80, 0.82, 0.81],
              "treatment_runs": [0.85, 0.86, 0.80], "profile": "quick",
              "budget": {"num_epochs": 4, "train_size": 12000, "val_size": 5000}, **fields}
    return results_table.COMPARE_PREFIX + json.dumps(record) + "\n"


def test_compare_prefix_and_gain_match_utils() -> None:
    assert results_table.COMPARE_PREFIX == utils.experiment.COMPARE_PREFIX
    for b, t in [([0.8, 0.82, 0.81], [0.85, 0.86, 0.8]), ([0.5], [0.7]), ([0.1, 0.2], [0.3, 0.2])]:
        paired = utils.experiment.gain(b, t)
        assert results_table.gain(b, t) == pytest.approx((paired.mean, paired.se))
    with pytest.raises(ValueError):                         # unpaired lists are refused
        results_table.gain([0.1, 0.2], [0.3])
    budget = {"num_epochs": 4, "batch_size": 64, "train_size": 12_000}
    assert results_table._budget(budget) == "752 updates: 4 epochs on 12,000 images"
    assert str(utils.Budget(**budget).updates) in results_table._budget(budget)


def test_comparisons_come_first_with_mean_spread_gain_and_wins(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "chapters" / "06_batch_norm.ipynb", "Batch Normalization",
                        compare_line(), result_line(model="LeNet + BN"))
    out = tmp_path / "results.md"
    assert results_table.main([str(nb), "--out", str(out), "--link-base", str(tmp_path)]) == 0
    text = out.read_text()
    assert text.index("Baseline → treatment") < text.index("Single training runs")
    assert "Every row was trained under the `quick` profile." in text
    row = next(line for line in text.splitlines() if "→ LeNet + BN |" in line)
    paired = utils.experiment.gain([0.80, 0.82, 0.81], [0.85, 0.86, 0.80])
    assert row == ("| [6. Batch Normalization](chapters/06_batch_norm.ipynb) | LeNet "
                   "→ LeNet + BN | 0.810 ± 0.010 →<br>0.837 ± 0.032 "
                   f"| {paired.mean:+.3f} ± {paired.se:.3f},<br>2 of 3 "
                   "| 4 epochs on 12,000 |")


def test_bad_compare_line_is_reported(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "c.ipynb", "C",
                        results_table.COMPARE_PREFIX + json.dumps({"chapter": "x"}) + "\n")
    with pytest.raises(results_table.ResultError, match="cnnbook-compare line lacks baseline"):
        results_table.read_comparisons(nb)


def test_a_record_emitted_in_a_notebook_is_hidden_from_the_reader_and_read(tmp_path: Path):
    """In a kernel, emit_record saves an HTML comment (Jupyter, Colab and the site show
    nothing), not a printed line; the table reads it back, "--" in a name included."""
    from nbclient import NotebookClient
    record = {"model": "LeNet -- no pooling", "profile": "quick", "epochs": 1,
              "train_examples": 100, "test_acc": 0.5, "examples_per_sec": 10}
    nb = new_notebook()
    nb.cells.append(new_markdown_cell("# Emitting\n\nA record."))
    nb.cells.append(new_code_cell(
        "import utils\n"
        f"utils.history.emit_record(utils.history.RESULT_PREFIX, {record!r})"))
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = nb.cells[1].outputs
    assert [o.output_type for o in outputs] == ["display_data"], outputs
    html = outputs[0].data["text/html"]
    assert set(outputs[0].data) == {"text/html"} and html.startswith("<!-- cnnbook-result ")
    assert "--" not in html[4:-3], html
    path = tmp_path / "chapters" / "05_emit.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    [got] = results_table.read_results(path)
    assert {k: got[k] for k in record} == record
