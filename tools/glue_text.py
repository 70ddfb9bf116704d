"""Write each measured value into the prose, so that every surface shows it.

    python tools/glue_text.py [--check] [NOTEBOOK ...]

A notebook's code stores a measured value with ``utils.glue(name, value)``; its
Markdown names the value where the sentence needs it. MyST-NB's role
``{glue:text}`name:.3f``` fills it in on the website only: Jupyter, VS Code and
Colab show the raw role and no number. So the prose holds the value itself,
inside a span that names where it comes from::

    test accuracy <span data-glue="bn_test:.3f">0.842</span> after ...

which every surface renders as the number. This script (``make execute`` runs
it after executing a notebook) turns each ``{glue:text}`` role into such a span
and rewrites the text of every span from the notebook's saved glue outputs,
formatted exactly as MyST-NB would; then it brings the paired script (.py) in
line. ``--check`` changes nothing and fails on a raw role, on a span naming a
value the notebook does not glue, and on a span whose text is not its value
(tests/test_notebooks.py runs it on every notebook).

With no notebooks it treats every notebook under chapters/, exercises/ and appendix/.
"""

from __future__ import annotations

import argparse
import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
from myst_nb.core.variables import format_plain_text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.notebooks import notebooks  # noqa: E402

ROLE = re.compile(r"\{glue:text\}`([^`]+)`")
SPAN = re.compile(r'<span data-glue="([^"]+)">(.*?)</span>', re.S)
PREFIX = "application/papermill.record/"


def glued_values(nb: dict) -> dict[str, str]:
    """Each glued name's text/plain, from the saved outputs (the last glue of a name wins)."""
    values = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            data = out.get("data", {})
            text = data.get(PREFIX + "text/plain", data.get("text/plain"))
            if name is not None and text is not None:
                values[name] = "".join(text)
    return values


def render(spec: str, values: dict[str, str]) -> str:
    """The HTML-escaped text of ``name:format`` as MyST-NB's glue:text role writes it.

    Raises:
        KeyError: the notebook glues no value of that name.
    """
    name, fmt = spec.rsplit(":", 1) if ":" in spec else (spec, "s")   # as MyST-NB splits
    if name not in values:
        raise KeyError(name)
    return html.escape(format_plain_text(values[name], fmt), quote=False)


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def problems(nb: dict) -> list[str]:
    """What --check reports for one notebook (empty: the prose shows every value)."""
    values, found = glued_values(nb), []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        text = _source(cell)
        found += [f"markdown cell {i}: raw role {m.group(0)!r} (run tools/glue_text.py)"
                  for m in ROLE.finditer(text)]
        for m in SPAN.finditer(text):
            try:
                want = render(m.group(1), values)
            except KeyError as err:
                found.append(f"markdown cell {i}: {m.group(1)!r} names {err}, which this "
                             "notebook does not glue")
                continue
            if m.group(2) != want:
                found.append(f"markdown cell {i}: {m.group(1)!r} reads {m.group(2)!r}, "
                             f"the saved output gives {want!r} (run tools/glue_text.py)")
    return found


def fill(nb: dict) -> int:
    """Rewrite roles and spans in place from the saved outputs; the number changed.

    Raises:
        KeyError: a role or span names a value the notebook does not glue.
    """
    values, changed = glued_values(nb), 0

    def span(spec: str) -> str:
        return f'<span data-glue="{spec}">{render(spec, values)}</span>'

    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        old = _source(cell)
        new = ROLE.sub(lambda m: span(m.group(1)), old)
        new = SPAN.sub(lambda m: span(m.group(1)), new)
        if new != old:
            cell["source"] = new
            changed += 1
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true",
                        help="change nothing; fail on a raw role or a span that is not its value")
    args = parser.parse_args(argv)
    paths = args.notebooks or notebooks()
    failed = False
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if args.check:
            for problem in problems(nb):
                print(f"{path}: {problem}", file=sys.stderr)
                failed = True
            continue
        try:
            changed = fill(nb)
        except KeyError as err:
            print(f"{path}: the prose names {err}, which this notebook does not glue "
                  "(utils.glue(name, value) in a code cell)", file=sys.stderr)
            failed = True
            continue
        if changed:
            nbformat.write(nb, path)
            subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(path)],
                           check=True, cwd=ROOT)
            print(f"{path}: {changed} markdown cell(s) rewritten")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
