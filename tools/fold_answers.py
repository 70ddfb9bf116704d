"""Fold exercise answers so that a reader sees each question first.

    python tools/fold_answers.py [NOTEBOOK ...]

In every exercise notebook (default: exercises/*.ipynb), after the first ``##``
heading: the prose of each answer goes into a folded admonition (the heading and
the quoted question stay open), and each code cell gets the ``hide-input`` tag
(its source folds; its output, the checked result, stays). In chapters and
appendix pages, a code cell made only of ``assert`` statements gets
``hide-input`` too: the checks stay executed, the page shows one fold instead of
a wall of asserts. Only sources and tags change, never outputs, so nothing
needs re-executing; running it twice changes nothing. Edit answers as usual:
the fold is a plain MyST admonition with sphinx-togglebutton's ``dropdown``
class (``:::{admonition} Answer``, ``:class: dropdown``, ..., ``:::``).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(ROOT))
from tools.notebooks import notebooks  # noqa: E402

OPEN = ":::{admonition} Answer"
DROPDOWN = ":class: dropdown"
CLOSE = ":::"
FOLDED = "hide-input"


def _lines(cell: dict) -> list[str]:
    return "".join(cell["source"]).split("\n")


def fold_markdown(text: str) -> str:
    """Wrap the answer prose of one markdown cell in a dropdown.

    The cell is cut at each heading; in each piece, the heading, the quoted
    question (``>`` lines) and the blank lines around them stay outside, and the
    rest, if any, goes inside one dropdown.
    """
    if OPEN in text:
        return text
    pieces: list[list[str]] = [[]]
    fenced = False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and line.startswith("#") and pieces[-1]:
            pieces.append([])
        pieces[-1].append(line)
    out: list[str] = []
    for piece in pieces:
        head = 0
        while head < len(piece) and (piece[head].startswith(("#", ">"))
                                     or not piece[head].strip()):
            head += 1
        body = piece[head:]
        while body and not body[-1].strip():
            body.pop()
        keep = piece[:head]
        while keep and not keep[-1].strip():
            keep.pop()
        out += keep
        if body:
            label = OPEN if keep else OPEN + ", continued"
            out += ([""] if keep else []) + [label, DROPDOWN] + body + [CLOSE]
        if piece is not pieces[-1]:
            out.append("")
    return "\n".join(out)


def only_asserts(code: str) -> bool:
    """True for code whose every top-level statement is an ``assert``."""
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    return bool(body) and all(isinstance(node, ast.Assert) for node in body)


def _tag(cell: dict) -> bool:
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    if FOLDED in tags:
        return False
    tags.append(FOLDED)
    return True


def _set_source(cell: dict, text: str) -> bool:
    if "".join(cell["source"]) == text:
        return False
    lines = text.split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
    return True


def fold_notebook(path: Path) -> bool:
    """Fold one notebook in place; True if it changed."""
    nb = json.loads(path.read_text())
    changed = False
    exercise = path.parent.name == "exercises"
    started = False
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            started = started or any(line.startswith("## ") for line in text.split("\n"))
            if exercise and started:
                changed |= _set_source(cell, fold_markdown(text))
        elif cell["cell_type"] == "code" and text.strip():
            if exercise and started or only_asserts(text):
                changed |= _tag(cell)
    if changed:
        path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or notebooks()
    for path in paths:
        if fold_notebook(path):
            print(f"folded {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
