"""Where the book's notebooks live: the one list the tools and tests share.

The Makefile's ``NOTEBOOKS`` wildcard names the same folders (Make cannot import
Python); ``tests/test_notebooks.py`` checks that the two agree.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIRS = ("chapters", "exercises", "appendix")


def notebooks(root: Path = ROOT, suffix: str = ".ipynb") -> list[Path]:
    """Every notebook of the book (or its paired ``.py`` file), sorted by path."""
    return sorted(p for d in DIRS for p in (root / d).glob(f"*{suffix}"))
