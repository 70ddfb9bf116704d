"""Write the landing page's results table from the committed notebooks' outputs.

    python tools/results_table.py [--out PATH] [NOTEBOOK ...]

Training chapters emit one record per headline comparison, ``cnnbook-compare
{json}`` (``utils.compare``: baseline and treatment, every seed's score, the
budget), and one per trained model, ``cnnbook-result {json}``
(``utils.report_result``), as HTML comments the reader does not see (printed
lines are read too). This script collects those records from the saved
outputs of chapters/*.ipynb (or the notebooks given) and writes the Markdown
that intro.md includes: the comparisons first (per chapter: both arms' mean
and spread over seeds, the gain and its standard error, the budget), then the
single runs, or a sentence saying there are no results yet. No number on the
page is typed by hand: each comes from a cell that ran.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "_build" / "generated" / "results.md"
# Kept equal to utils.history.RESULT_PREFIX by a test (importing utils would load torch).
PREFIX = "cnnbook-result "
FIELDS = ("model", "profile", "epochs", "train_examples", "test_acc", "examples_per_sec")
# Kept equal to utils.experiment.COMPARE_PREFIX by a test.
COMPARE_PREFIX = "cnnbook-compare "
COMPARE_FIELDS = ("chapter", "baseline", "treatment", "metric", "seeds", "baseline_runs",
                  "treatment_runs", "budget", "profile")


class ResultError(ValueError):
    """A result line that cannot be read."""


def notebook_title(nb: dict, path: Path) -> str:
    """The notebook's page title: its first ``# `` heading, else the file name."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        for line in "".join(cell.get("source", "")).splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return path.stem


def short_title(title: str, path: Path) -> str:
    """``"5. LeNet"`` for ``05_lenet.ipynb`` titled ``"LeNet: Training a ..."``.

    The part of the title before a colon, after the chapter number that the file
    name starts with (if it does): short enough for a table column.
    """
    short = title.split(":")[0].strip() or title
    number = path.stem.split("_")[0]
    return f"{int(number)}. {short}" if number.isdigit() else short


RECORD_COMMENT = re.compile(r"<!--\s*(.*?)\s*-->", re.S)


def output_lines(cell: dict) -> list[str]:
    """The lines a code cell's saved outputs hold: its stdout, and the HTML comments
    in which ``utils.history.emit_record`` hides a record from the reader."""
    lines = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            lines += "".join(out.get("text", "")).splitlines()
        html = out.get("data", {}).get("text/html")
        if html:
            lines += RECORD_COMMENT.findall("".join(html))
    return lines


def read_lines(path: Path, prefix: str = PREFIX,
               fields: tuple[str, ...] = FIELDS) -> list[dict]:
    """Every record after ``prefix`` in the saved outputs of a notebook (printed, or
    hidden in an HTML comment).

    Raises:
        ResultError: a line is not JSON or lacks one of ``fields``.
    """
    nb = json.loads(path.read_text(encoding="utf-8"))
    title = notebook_title(nb, path)
    records = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        for line in output_lines(cell):
            if not line.startswith(prefix):
                continue
            where = f"{path.name} cell {index}"
            try:
                record = json.loads(line[len(prefix):])
            except json.JSONDecodeError as err:
                raise ResultError(
                    f"{where}: {prefix.strip()} line is not JSON ({err}): {line!r}") from err
            missing = [f for f in fields if f not in record]
            if missing:
                raise ResultError(f"{where}: {prefix.strip()} line lacks "
                                  f"{', '.join(missing)}: {line!r}")
            records.append({**record, "notebook": path,
                            "title": short_title(title, path)})
    return records


def read_results(path: Path) -> list[dict]:
    """Every ``cnnbook-result`` record printed in the saved outputs of a notebook."""
    return read_lines(path, PREFIX, FIELDS)


def read_comparisons(path: Path) -> list[dict]:
    """Every ``cnnbook-compare`` record printed in the saved outputs of a notebook."""
    return read_lines(path, COMPARE_PREFIX, COMPARE_FIELDS)


def gain(baseline: list[float], treatment: list[float]) -> tuple[float, float]:
    """Mean of the per-seed differences and its standard error (paired by seed, as
    ``utils.gain``; a test checks that the two agree)."""
    diffs = [t - b for b, t in zip(baseline, treatment, strict=True)]
    sd = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
    return statistics.fmean(diffs), sd / math.sqrt(len(diffs))


def _spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def _budget(b: dict) -> str:
    train = b.get("train_size") or 60_000 - (b.get("val_size") or 0)
    text = f"{int(b['num_epochs'])} epochs on {int(train):,} images"
    if b.get("batch_size"):          # as utils.Budget.updates computes them
        updates = int(b["num_epochs"]) * math.ceil(int(train) / int(b["batch_size"]))
        text = f"{updates:,} updates: {text}"
    return text


def render_comparisons(records: list[dict], link_base: Path = ROOT) -> str:
    """Markdown: one row per headline comparison (empty string if there are none).

    Five columns, so that the table reads without wrapping every cell on a laptop's
    screen: each comparison is written "baseline → treatment" in one cell.
    """
    if not records:
        return ""
    profiles = sorted({r["profile"] for r in records})
    lines = [
        "Each row compares a baseline with a treatment that differs from it in one thing,",
        "each at settings chosen on a validation split, trained from the same seeds and",
        "scored once on the test set: mean ± standard deviation (sd) over the seeds, and the",
        "gain: the mean of the per-seed differences ± its standard error (SE).",
    ]
    if len(profiles) == 1:
        lines.append(f"Every row was trained under the `{profiles[0]}` profile.")
    lines += [
        "",
        "| Chapter | Baseline → treatment | Test accuracy (mean ± sd) "
        "| Gain (± SE), seeds ahead | Updates: epochs on images |",
        "|---|---|---|---|---|",
    ]
    for r in records:
        link = Path(r["notebook"]).resolve().relative_to(link_base.resolve()).as_posix()
        b, t = list(map(float, r["baseline_runs"])), list(map(float, r["treatment_runs"]))
        diff, se = gain(b, t)
        wins = sum(x > y for x, y in zip(t, b, strict=True))
        budget = _budget(r["budget"]).replace(": ", ":<br>").replace(" images", "")
        if len(profiles) > 1:
            budget += f", `{_cell(r['profile'])}` profile"
        lines.append(
            f"| [{_cell(r['title'])}]({link}) | {_cell(r['baseline'])} "
            f"→ {_cell(r['treatment'])} | {_spread(b)} →<br>{_spread(t)} "
            f"| {diff:+.3f} ± {se:.3f},<br>{wins} of {len(t)} "
            f"| {budget} |")
    return "\n".join(lines) + "\n"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(records: list[dict], link_base: Path = ROOT) -> str:
    """Markdown for the landing page: a table of the records, or a sentence if none.

    Args:
        records: what :func:`read_results` returned, in page order.
        link_base: folder of the page that includes the table; links are relative to it.
    """
    if not records:
        return ""
    profiles = sorted({r["profile"] for r in records})
    lines = ["Single training runs, one per model, each at the settings and on the budget of",
             "its chapter: they show what each chapter trained, not what one technique buys",
             "over another (the comparisons above do that)."]
    if len(profiles) == 1:
        lines.append(f"All rows below were trained under the `{profiles[0]}` profile.")
    else:
        lines.append("The profile column says which training budget each row used.")
    lines += [
        "Examples per second were measured on the machine that last executed the notebook,",
        "so they compare models with each other, not your hardware with ours.",
        "",
        "| Chapter | Model | Training images | Epochs | Test accuracy | Examples/s |"
        + (" Profile |" if len(profiles) > 1 else ""),
        "|---|---|---:|---:|---:|---:|" + ("---|" if len(profiles) > 1 else ""),
    ]
    for r in records:
        link = Path(r["notebook"]).resolve().relative_to(link_base.resolve()).as_posix()
        row = (f"| [{_cell(r['title'])}]({link}) | {_cell(r['model'])} "
               f"| {int(r['train_examples']):,} | {int(r['epochs'])} "
               f"| {float(r['test_acc']):.3f} | {int(r['examples_per_sec']):,} |")
        if len(profiles) > 1:
            row += f" {_cell(r['profile'])} |"
        lines.append(row)
    return "\n".join(lines) + "\n"


def page(comparisons: list[dict], records: list[dict], link_base: Path = ROOT) -> str:
    """The included Markdown: comparisons, then single runs, or one sentence if neither."""
    parts = [render_comparisons(comparisons, link_base), render(records, link_base)]
    text = "\n".join(p for p in parts if p)
    return text or ("No chapter has reported a trained model yet; the tables appear here "
                    "once the training chapters have been executed.\n")


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds it (keeps Sphinx from re-reading)."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="default: chapters/*.ipynb")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--link-base", type=Path, default=ROOT,
                        help="folder of the page that includes the table (default: the book root)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    try:
        records = [r for p in paths for r in read_results(p)]
        comparisons = [r for p in paths for r in read_comparisons(p)]
    except ResultError as err:
        print(f"results_table: {err}", file=sys.stderr)
        return 1
    write_if_changed(args.out, page(comparisons, records, args.link_base))
    print(f"results_table: {len(comparisons)} comparison(s) and {len(records)} result(s) "
          f"from {len(paths)} notebook(s) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
