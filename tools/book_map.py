"""Write the landing page's map of the book: every page of _toc.yml, by part.

    python tools/book_map.py [--out PATH]

For each chapter (and appendix page) in the order of ``_toc.yml``: its title,
what it does (one line, from ``DESCRIPTIONS`` below: the only hand-written
column), the reading time (words of its text and code at 200 words a minute),
the run time of the saved outputs (first cell started to last cell finished,
from the execution timestamps that Jupyter stores in every cell; the run under
the ``quick`` profile that the page shows), and a link to its exercises. The
intro page includes the Markdown this writes, so no time on it is typed.

It also writes the landing page's teaser figure: the saved PNG output of the one
chapter cell tagged ``teaser``.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import math
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "_build" / "generated" / "map.md"
WORDS_PER_MINUTE = 200
DESCRIPTIONS = {
    "chapters/01_convolution": "Derives the convolutional layer from a fully connected one "
                               "and writes it from scratch.",
    "chapters/02_padding_stride": "Controls the output shape and predicts it with one "
                                  "formula.",
    "chapters/03_channels": "Mixes input channels into output channels; the 1x1 "
                            "convolution.",
    "chapters/04_pooling": "Summarizes neighbourhoods with maximum and average pooling.",
    "chapters/05_lenet": "Puts the pieces together, trains LeNet on Fashion-MNIST and "
                         "measures what ReLU and max pooling buy.",
    "chapters/06_batch_norm": "Normalizes activations during training and measures what it "
                              "buys at each learning rate.",
    "chapters/07_resnet": "Adds residual connections and builds a ResNet.",
    "chapters/08_classic_networks": "AlexNet, VGG, NiN, GoogLeNet and DenseNet: their "
                                    "blocks, shapes and costs.",
    "chapters/09_modules": "Opens the box: modules, parameters, initialization, custom "
                           "layers, saving, devices.",
    "chapters/10_augmentation": "Varies the training images on the device and measures what "
                                "it buys, and what it costs.",
    "chapters/11_distributed": "Data parallelism with DistributedDataParallel and "
                               "torchrun: two processes match one, measured.",
    "appendix/cheat_sheet": "The formulas of chapters 1-6 on one page, each checked by a "
                            "cell.",
    "appendix/utils_fast": "What the book's helpers do to keep training fast, measured.",
    "appendix/from_d2l": "Each d2l helper and its counterpart here, with what differs.",
    "appendix/running": "Running the notebooks locally, on Colab, with or without a GPU.",
    "references": "The papers the chapters cite.",
}


class MapError(ValueError):
    """A page of the table of contents that the map cannot describe."""


def toc_parts(toc_path: Path) -> list[tuple[str, list[str]]]:
    """``[(caption, [file, ...]), ...]`` in the order of ``_toc.yml``."""
    toc = yaml.safe_load(toc_path.read_text())
    return [(part["caption"], [c["file"] for c in part.get("chapters", [])])
            for part in toc.get("parts", [])]


def _source(cell: dict) -> str:
    return "".join(cell.get("source", ""))


def reading_minutes(text: str) -> int:
    """Minutes to read ``text`` at ``WORDS_PER_MINUTE`` (at least 1)."""
    return max(1, math.ceil(len(re.findall(r"\S+", text)) / WORDS_PER_MINUTE))


def _timestamp(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def run_seconds(nb: dict) -> float | None:
    """Seconds from the first code cell's start to the last one's end, if recorded."""
    stamps = [c.get("metadata", {}).get("execution", {}) for c in nb["cells"]
              if c["cell_type"] == "code" and _source(c).strip()]
    if not stamps or "iopub.execute_input" not in stamps[0] \
            or "shell.execute_reply" not in stamps[-1]:
        return None
    return (_timestamp(stamps[-1]["shell.execute_reply"])
            - _timestamp(stamps[0]["iopub.execute_input"])).total_seconds()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def page_row(entry: str, root: Path = ROOT) -> tuple[str, str, str, str, str]:
    """(link, description, reading time, run time, exercises link) for one TOC entry."""
    if entry not in DESCRIPTIONS:
        raise MapError(f"{entry} has no one-line description: add it to DESCRIPTIONS in "
                       "tools/book_map.py")
    notebook, markdown = root / f"{entry}.ipynb", root / f"{entry}.md"
    if notebook.is_file():
        nb = json.loads(notebook.read_text())
        text = "\n".join(_source(c) for c in nb["cells"])
        title = next((line[2:].strip() for c in nb["cells"] if c["cell_type"] == "markdown"
                      for line in _source(c).splitlines() if line.startswith("# ")), entry)
        run = _duration(run_seconds(nb))
        link = f"[{title}]({entry}.ipynb)"
    elif markdown.is_file():
        text = markdown.read_text()
        title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")),
                     entry)
        run, link = "", f"[{title}]({entry}.md)"
    else:
        raise MapError(f"{entry} is in _toc.yml but neither {entry}.ipynb nor {entry}.md "
                       "exists")
    exercises = root / "exercises" / (Path(entry).name + ".ipynb")
    answers = (f"[answers](exercises/{exercises.name})"
               if entry.startswith("chapters/") and exercises.is_file() else "")
    return link, DESCRIPTIONS[entry], f"{reading_minutes(text)} min", run, answers


def render(parts: list[tuple[str, list[str]]], root: Path = ROOT) -> str:
    """The Markdown table of every page except the exercises' (linked from their chapter)."""
    lines = ["| Part | Page | What it does | Reading | Run time | Exercises |",
             "|---|---|---|---:|---:|---|"]
    for caption, entries in parts:
        first = True
        for entry in entries:
            if entry.startswith("exercises/"):
                continue
            link, what, reading, run, answers = page_row(entry, root)
            lines.append(f"| {caption if first else ''} | {link} | {what} | {reading} | "
                         f"{run} | {answers} |")
            first = False
    return "\n".join(lines) + "\n"


def teaser_png(root: Path = ROOT) -> bytes:
    """The PNG saved by the one code cell of chapters/ tagged ``teaser``."""
    found = []
    for path in sorted((root / "chapters").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if "teaser" in cell.get("metadata", {}).get("tags", []):
                pngs = [o["data"]["image/png"] for o in cell.get("outputs", [])
                        if "image/png" in o.get("data", {})]
                if not pngs:
                    raise MapError(f"the teaser cell of {path.name} has no saved PNG: "
                                   "execute the notebook")
                found.append(pngs[0])
    if len(found) != 1:
        raise MapError(f"expected one code cell tagged 'teaser' in chapters/, found "
                       f"{len(found)}")
    data = found[0]
    return base64.b64decode("".join(data) if isinstance(data, list) else data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        text = render(toc_parts(ROOT / "_toc.yml"))
        teaser = teaser_png()
    except MapError as err:
        print(f"book_map: {err}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.out.is_file() or args.out.read_text() != text:
        args.out.write_text(text)
    image = args.out.parent / "teaser.png"
    if not image.is_file() or image.read_bytes() != teaser:
        image.write_bytes(teaser)
    print(f"book_map: {text.count(chr(10)) - 2} pages -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
