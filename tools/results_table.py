"""Write the landing page's results table from the committed notebooks' outputs.

    python tools/results_table.py [--out PATH] [NOTEBOOK ...]

Training chapters print one line per trained model, ``cnnbook-result {json}``
(``utils.report_result``). This script collects those lines from the saved
outputs of chapters/*.ipynb (or the notebooks given) and writes a Markdown
table that intro.md includes, or a sentence saying there are no results yet.
No number in the table is typed by hand: each comes from a cell that ran.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "_build" / "generated" / "results.md"
# Kept equal to utils.history.RESULT_PREFIX by a test (importing utils would load torch).
PREFIX = "cnnbook-result "
FIELDS = ("model", "profile", "epochs", "train_examples", "test_acc", "examples_per_sec")


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


def read_results(path: Path) -> list[dict]:
    """Every ``cnnbook-result`` record printed in the saved outputs of a notebook.

    Raises:
        ResultError: a result line is not JSON or lacks a field.
    """
    nb = json.loads(path.read_text(encoding="utf-8"))
    title = notebook_title(nb, path)
    records = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") != "stream" or out.get("name") != "stdout":
                continue
            for line in "".join(out.get("text", "")).splitlines():
                if not line.startswith(PREFIX):
                    continue
                where = f"{path.name} cell {index}"
                try:
                    record = json.loads(line[len(PREFIX):])
                except json.JSONDecodeError as err:
                    raise ResultError(
                        f"{where}: result line is not JSON ({err}): {line!r}") from err
                missing = [f for f in FIELDS if f not in record]
                if missing:
                    raise ResultError(f"{where}: result line lacks {', '.join(missing)}: {line!r}")
                records.append({**record, "notebook": path,
                                "title": short_title(title, path)})
    return records


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(records: list[dict], link_base: Path = ROOT) -> str:
    """Markdown for the landing page: a table of the records, or a sentence if none.

    Args:
        records: what :func:`read_results` returned, in page order.
        link_base: folder of the page that includes the table; links are relative to it.
    """
    if not records:
        return ("No chapter has reported a trained model yet; the table appears here once "
                "the training chapters have been executed.\n")
    profiles = sorted({r["profile"] for r in records})
    lines = []
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
    except ResultError as err:
        print(f"results_table: {err}", file=sys.stderr)
        return 1
    write_if_changed(args.out, render(records, args.link_base))
    print(f"results_table: {len(records)} result(s) from {len(paths)} notebook(s) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
