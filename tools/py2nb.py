"""Turn a percent-format script into a notebook (no outputs), for authoring.

    python tools/py2nb.py source.py chapters/NN_topic.ipynb

``# %%`` starts a code cell and ``# %% [markdown]`` a Markdown cell whose lines
begin with ``# `` (the prefix is removed). Then run ``make execute NB=...`` to
fill in the outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def convert(text: str) -> nbformat.NotebookNode:
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
        elif cells:
            cells[-1][1].append(line)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if kind == "markdown":
            body = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in lines)
            nb.cells.append(nbformat.v4.new_markdown_cell(body))
        else:
            nb.cells.append(nbformat.v4.new_code_cell("\n".join(lines)))
    return nb


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    nb = convert(Path(sys.argv[1]).read_text())
    nbformat.write(nb, sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
