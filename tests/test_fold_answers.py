"""tools/fold_answers.py: exercise answers folded so that the question comes first."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tools.notebooks import notebooks

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("fold_answers",
                                               REPO / "tools" / "fold_answers.py")
fold = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fold)
NOTEBOOKS = notebooks()


def test_the_question_stays_open_and_the_answer_folds():
    text = "## 3. Audio\n\n> What does a stride of 2 mean?\n\nIt halves the rate.\n"
    folded = fold.fold_markdown(text)
    assert folded == ("## 3. Audio\n\n> What does a stride of 2 mean?\n\n"
                      ":::{admonition} Answer\n:class: dropdown\nIt halves the rate.\n:::")
    assert fold.fold_markdown(folded) == folded                   # idempotent
    assert fold.fold_markdown("More prose.") == \
        ":::{admonition} Answer, continued\n:class: dropdown\nMore prose.\n:::"
    assert fold.fold_markdown("## 4. Only a heading\n\n> and a question") == \
        "## 4. Only a heading\n\n> and a question"


def test_headings_inside_code_fences_do_not_cut_the_answer():
    text = "## 1. Q\n\n> q?\n\nSee:\n\n```python\n# a comment\nx = 1\n```\n\nDone."
    folded = fold.fold_markdown(text)
    assert folded.count(":::{admonition}") == 1 and folded.endswith("Done.\n:::")


def test_only_asserts():
    assert fold.only_asserts("assert a\nassert b, 'why'")
    assert not fold.only_asserts("print(a)\nassert a")
    assert not fold.only_asserts("") and not fold.only_asserts("def (")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(REPO)) for p in NOTEBOOKS])
def test_the_committed_notebooks_are_folded(path):
    """Run `python tools/fold_answers.py` (then `make sync`) when this fails."""
    nb = json.loads(path.read_text())
    started = False
    for i, cell in enumerate(nb["cells"]):
        text = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "markdown":
            started = started or any(line.startswith("## ") for line in text.split("\n"))
            if path.parent.name == "exercises" and started:
                assert fold.fold_markdown(text) == text, f"cell {i}: answer prose not folded"
        elif text.strip() and (path.parent.name == "exercises" and started
                               or fold.only_asserts(text)):
            assert fold.FOLDED in tags, f"cell {i}: code not folded (hide-input)"
