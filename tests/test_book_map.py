"""tools/book_map.py: the landing page's map of the book, generated from _toc.yml."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("book_map", REPO / "tools" / "book_map.py")
book_map = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(book_map)


def test_every_page_of_the_book_is_on_the_map():
    parts = book_map.toc_parts(REPO / "_toc.yml")
    text = book_map.render(parts)
    for caption, entries in parts:
        assert f"| {caption} |" in text
        for entry in entries:
            if not entry.startswith("exercises/"):
                assert f"]({entry}." in text, entry
    chapters = sorted(p.stem for p in (REPO / "chapters").glob("*.ipynb"))
    assert all(f"[answers](exercises/{c}.ipynb)" in text for c in chapters)
    assert "not recorded" not in text, "a notebook was saved without execution timestamps"


def notebook(tmp_path: Path, start: str, end: str, words: int) -> Path:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# A Page\n" + "w " * words},
             {"cell_type": "code", "metadata": {"execution": {
                 "iopub.execute_input": start, "shell.execute_reply": start}}, "source": "1",
              "outputs": [], "execution_count": 1},
             {"cell_type": "code", "metadata": {"execution": {
                 "iopub.execute_input": end, "shell.execute_reply": end}}, "source": "2",
              "outputs": [], "execution_count": 2}]
    path = tmp_path / "chapters" / "99_page.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def test_reading_and_run_time(tmp_path, monkeypatch):
    notebook(tmp_path, "2026-12-02T03:00:00.000000Z", "2026-12-02T03:02:30.500000Z", 397)
    monkeypatch.setitem(book_map.DESCRIPTIONS, "chapters/99_page", "Does a thing.")
    link, what, reading, run, answers = book_map.page_row("chapters/99_page", tmp_path)
    assert link == "[A Page](chapters/99_page.ipynb)" and what == "Does a thing."
    assert reading == "3 min"          # 400 words (with "# A Page" and the code) at 200/min
    assert run == "3 min" and answers == ""   # 150.5 s, shown in minutes from 90 s on
    assert book_map._duration(45) == "45 s" and book_map._duration(600) == "10 min"


def test_a_page_without_description_or_file_is_named(tmp_path):
    with pytest.raises(book_map.MapError, match="no one-line description"):
        book_map.page_row("chapters/99_unknown", tmp_path)
    book_map.DESCRIPTIONS["chapters/98_missing"] = "x"
    try:
        with pytest.raises(book_map.MapError, match="neither"):
            book_map.page_row("chapters/98_missing", tmp_path)
    finally:
        del book_map.DESCRIPTIONS["chapters/98_missing"]


def test_the_teaser_is_a_png_saved_by_one_chapter_cell():
    png = book_map.teaser_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
