"""The Colab path, walked offline: a notebook alone in an empty folder, a kernel in
which `google.colab` is importable, and the setup cell cloning the book.

Colab opens one notebook from GitHub in /content, with nothing else there. The
setup cell then sees no `utils/` above the notebook, sees `google.colab` in
`sys.modules`, and clones the repository beside the notebook. Here the clone
comes from this checkout's committed HEAD (through ``CNNBOOK_REPO_URL``), so
the test checks what CI checks: the committed book.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tools.notebooks import notebooks

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = notebooks()
# What Colab preinstalls among the third-party modules a notebook may import.
COLAB_PREINSTALLED = {"torch", "torchvision", "numpy", "matplotlib", "PIL", "IPython",
                      "scipy", "pandas", "sklearn"}
# Modules the setup cell installs on Colab only (none today), by lower bound.
SETUP_INSTALLS: dict[str, str] = {}
# Imported inside `try: ... except ImportError`, with a fallback: not needed on Colab.
OPTIONAL = {"myst_nb"}
LOCAL = {"utils"} | {p.stem for p in (REPO / "scripts").glob("*.py")}  # in the clone


def imported_modules(code: str) -> set[str]:
    """Top-level names of the modules `code` imports (IPython magics skipped)."""
    lines = [line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))]
    names = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def third_party(names: set[str]) -> set[str]:
    return {n for n in names if n not in sys.stdlib_module_names and n != "__future__"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(REPO)) for p in NOTEBOOKS])
def test_notebooks_import_only_what_colab_has(path):
    nb = json.loads(path.read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    missing = third_party(imported_modules(code)) - COLAB_PREINSTALLED - set(SETUP_INSTALLS) \
        - LOCAL
    assert not missing, (f"{sorted(missing)} are not preinstalled on Colab: install them in "
                         "tools/setup_cell.py on Colab only, by lower bound, and list them "
                         "in SETUP_INSTALLS")


def test_utils_imports_only_what_colab_has():
    used = set()
    for path in (REPO / "utils").glob("*.py"):
        used |= imported_modules(path.read_text())
    assert OPTIONAL <= used, "OPTIONAL lists a module utils no longer imports"
    missing = third_party(used) - COLAB_PREINSTALLED - set(SETUP_INSTALLS) - OPTIONAL
    assert not missing, f"utils imports {sorted(missing)}, which Colab does not preinstall"
    for name in OPTIONAL:   # each optional import really has a fallback
        for path in (REPO / "utils").glob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Try) and name in imported_modules(
                        ast.unparse(ast.Module(body=node.body, type_ignores=[]))):
                    assert any(isinstance(h.type, ast.Name) and h.type.id == "ImportError"
                               for h in node.handlers), f"{path.name}: {name} without fallback"


def fake_colab(site: Path) -> None:
    """A stand-in `google.colab`, imported at interpreter start as on Colab."""
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "__init__.py").write_text("")
    (site / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab."""\n')
    (site / "sitecustomize.py").write_text("import google.colab  # noqa: F401\n")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to clone the book")
def test_a_chapter_runs_on_simulated_colab(tmp_path, monkeypatch):
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    content, site = tmp_path / "content", tmp_path / "site"
    content.mkdir()
    fake_colab(site)
    chapter = REPO / "chapters" / "02_padding_stride.ipynb"
    shutil.copy(chapter, content / chapter.name)
    nb = nbformat.read(content / chapter.name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import google.colab, utils\n"
        "print('utils from', Path(utils.__file__).resolve().parent.parent)"))
    monkeypatch.setenv("PYTHONPATH", str(site))           # nothing else: no clone on the path
    monkeypatch.setenv("CNNBOOK_REPO_URL", REPO.resolve().as_uri())
    monkeypatch.delenv("CNNBOOK_DATA", raising=False)     # Colab has no data copy
    monkeypatch.chdir(content)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(content)}}).execute()
    printed = "".join(out.get("text", "") for out in nb.cells[-1].outputs)
    assert printed.strip() == f"utils from {(content / 'cnnbook').resolve()}"
    clone = content / "cnnbook"
    assert (clone / "utils" / "__init__.py").is_file()
    cloned_head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"],
                                 capture_output=True, text=True, check=True).stdout
    assert cloned_head == head.stdout
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors
    assert sorted(os.listdir(content)) == sorted([chapter.name, "cnnbook"])
