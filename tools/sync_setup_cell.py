"""Write tools/setup_cell.py into the first code cell of every notebook and script.

    python tools/sync_setup_cell.py

The setup cell is the same in every notebook (tests/test_notebooks.py checks
it); edit tools/setup_cell.py, then run this. Only the cell's source changes:
it prints nothing, so the saved outputs stay valid.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(ROOT))
from tools.notebooks import notebooks  # noqa: E402

START = "# Setup: make the book's `utils` importable"


def main() -> None:
    """Rewrite the setup cell of every notebook and paired script that differs."""
    setup = (ROOT / "tools" / "setup_cell.py").read_text().strip()
    for path in notebooks():
        nb = json.loads(path.read_text())
        cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
        if "".join(cell["source"]).strip() != setup:
            lines = setup.splitlines(keepends=True)
            cell["source"] = lines
            path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
            print("updated", path.relative_to(ROOT))
        script = path.with_suffix(".py")
        text = script.read_text()
        pattern = re.compile(r"(# %% tags=\[\"hide-input\"\]\n)" + re.escape(START)
                             + r".*?(?=\n\n# %%)", re.S)
        updated, count = pattern.subn(lambda m: m.group(1) + setup, text, count=1)
        if count != 1:
            raise SystemExit(f"{script}: no setup cell found after a hide-input marker")
        if updated != text:
            script.write_text(updated)
            print("updated", script.relative_to(ROOT))


if __name__ == "__main__":
    main()
