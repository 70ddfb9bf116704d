"""Notebook hygiene: what nbval cannot see, checked on the committed files."""

from __future__ import annotations

import ast
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
import yaml

from tools.notebooks import DIRS, notebooks

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = notebooks()
SETUP = (REPO / "tools" / "setup_cell.py").read_text().strip()
LOCAL_PATHS = sorted({str(REPO) + "/", str(REPO.parent) + "/", os.path.expanduser("~") + "/",
                      tempfile.gettempdir() + "/"} - {"//"})


def cells(path: Path, kind: str | None = None) -> list[dict]:
    nb = json.loads(path.read_text())
    return [c for c in nb["cells"] if kind is None or c["cell_type"] == kind]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def ids(paths):
    return [str(p.relative_to(REPO)) for p in paths]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks under chapters/, exercises/ or appendix/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_executed_in_order_without_errors(path):
    counts = []
    for i, cell in enumerate(cells(path, "code")):
        if not source(cell).strip():
            continue
        assert cell["execution_count"] is not None, f"code cell {i} was never executed"
        counts.append(cell["execution_count"])
        for out in cell["outputs"]:
            where = f"code cell {i}"
            assert out["output_type"] != "error", f"{where} has an error output"
            assert not (out["output_type"] == "stream" and out["name"] == "stderr"), \
                f"{where} wrote to stderr: {''.join(out['text'])[:200]!r}"
            data = out.get("data", {})
            assert "application/vnd.jupyter.widget-view+json" not in data, \
                f"{where} has a widget output"
            text = "".join(out.get("text", "")) + "".join(data.get("text/plain", ""))
            for local in LOCAL_PATHS:
                assert local not in text, f"{where} shows the local path {local}"
    assert counts == list(range(1, len(counts) + 1)), "not executed top to bottom once"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_shape_of_the_notebook(path):
    markdown = cells(path, "markdown")
    code = cells(path, "code")
    assert markdown and source(markdown[0]).startswith("# "), "first cell must be the title"
    titles = [line for c in markdown for line in source(c).splitlines()
              if line.startswith("# ")]
    assert len(titles) == 1, f"one '# ' title per notebook, found {titles}"
    assert source(code[0]).strip() == SETUP, "first code cell must be tools/setup_cell.py"
    if path.parent.name == "chapters":
        headings = [line.strip() for c in markdown for line in source(c).splitlines()]
        assert "## Summary" in headings and "## Exercises" in headings


def test_setup_cell_and_config_share_the_repository_url():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    url = re.search(r'REPO_URL = "([^"]+)"', SETUP).group(1)
    assert url == config["repository"]["url"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_markdown_heading_inside_a_code_cell(path):
    """A '# ## Heading' line in a code cell is prose that lost its Markdown marker in the
    paired script: the section vanishes from the page."""
    for i, cell in enumerate(cells(path, "code")):
        heading = re.search(r"^# #+ \S.*$", source(cell), re.M)
        assert heading is None, f"code cell {i} holds a heading: {heading.group(0)!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_nbval_is_told_by_tags_not_comments(path):
    """A reader sees a cell's source, not its tags: nbval's instructions are tags
    (`nbval-ignore-output`, `nbval-skip`, ...), never a `# NBVAL_...` comment."""
    for i, cell in enumerate(cells(path, "code")):
        marker = re.search(r"^\s*#\s*NBVAL\w*", source(cell), re.M)
        assert marker is None, (f"code cell {i}: {marker.group(0).strip()!r} is shown to the "
                                "reader; use the cell tag instead (e.g. nbval-ignore-output)")


TRAINERS = {"train", "train_seeds", "sweep"}
FOLLOW = 3      # the checking cell is one of the 3 code cells after the ignored ones


def is_ignored(cell: dict) -> bool:
    """nbval ignores the cell's output (its marker comment, or the cell tag)."""
    return (source(cell).lstrip().startswith("# NBVAL_IGNORE_OUTPUT")
            or "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []))


def parse(cell: dict) -> ast.Module:
    """The cell as Python: IPython's magics and shell lines become ``pass``."""
    lines = ["pass" if line.lstrip().startswith(("%", "!")) else line
             for line in source(cell).splitlines()]
    return ast.parse("\n".join(lines))


def called(tree: ast.AST) -> set[str]:
    """Names of the functions a tree calls: ``f(...)``, ``utils.f(...)``, ``obj.f(...)``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def trainers(code: list[dict]) -> set[str]:
    """utils' training functions and every notebook function that calls one, however
    indirectly (a fixed point over the notebook's function definitions)."""
    defs = {node.name: node for cell in code for node in ast.walk(parse(cell))
            if isinstance(node, ast.FunctionDef)}
    found = set(TRAINERS)
    while True:
        more = {name for name, node in defs.items() if name not in found and called(node) & found}
        if not more:
            return found
        found |= more


def defined(tree: ast.Module) -> set[str]:
    """Names a cell binds at its top level (``x = ...``, ``x[k] = ...``, ``for x in``, ...)."""
    names = set()
    for stmt in tree.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(
                    node.ctx, ast.Store):
                base = node.value
                while isinstance(base, (ast.Subscript, ast.Attribute)):
                    base = base.value
                if isinstance(base, ast.Name):
                    names.add(base.id)
            if isinstance(node, (ast.FunctionDef, ast.Lambda)) and node is not stmt:
                break
    return names


def asserted(tree: ast.Module) -> set[str]:
    """Names that the cell's ``assert`` statements mention, with the names a ``for``
    loop iterates over when its body asserts (``for r in runs.values(): assert ...``)."""
    def names(node: ast.AST) -> set[str]:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            found |= names(node)
        elif isinstance(node, ast.For) and any(isinstance(n, ast.Assert) for n in ast.walk(node)):
            found |= names(node.iter)
    return found


def unchecked_training(code: list[dict]) -> list[str]:
    """What :func:`test_ignored_training_outputs_are_followed_by_asserts` reports: a
    cell that trains with its output ignored (directly, or through a notebook function
    that trains) must be followed, after any further ignored cells, by a cell that
    asserts on something the ignored cells defined, within the next FOLLOW code cells
    and before the next cell that trains."""
    train_names = trainers(code)
    problems = []
    i = 0
    while i < len(code):
        cell = code[i]
        if not (is_ignored(cell) and called(parse(cell)) & train_names):
            i += 1
            continue
        names = set()
        j, ok = i, False
        while j < len(code) and is_ignored(code[j]):      # the run of ignored cells
            if j > i and asserted(parse(code[j])) & names:  # an ignored cell that checks
                ok = True
            names |= defined(parse(code[j]))
            j += 1
        if ok:
            i = j
            continue
        # the checking cell: one of the next few cells whose output nbval compares (a
        # figure or a table may stand between), and before the next training cell
        window = []
        for k in range(j, min(j + FOLLOW, len(code))):
            window.append(k)
            if asserted(parse(code[k])) & names:
                ok = True
                break
            if called(parse(code[k])) & train_names:     # training again: too late
                break
            if is_ignored(code[k]):      # an ignored cell that derives from the runs
                names |= defined(parse(code[k]))
        if not ok:
            problems.append(
                f"code cell {i} trains ({', '.join(sorted(called(parse(cell)) & train_names))}) "
                f"with its output ignored, and none of the code cells {window} after it "
                f"asserts on one of {sorted(names)}")
        i = j
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_ignored_training_outputs_are_followed_by_asserts(path):
    problems = unchecked_training([c for c in cells(path, "code") if source(c).strip()])
    assert not problems, "\n".join(problems)


def test_the_training_check_finds_what_it_should():
    def cell(text, ignored=False, tag=False):
        return {"cell_type": "code", "source": ("# NBVAL_IGNORE_OUTPUT\n" if ignored else "")
                + text, "metadata": {"tags": ["nbval-ignore-output"] if tag else []}}
    helper = cell("def run_arm(lr):\n    return utils.train_seeds(make, a, b, 1, lr)\n"
                  "def twice(lr):\n    return [run_arm(lr), run_arm(lr)]")
    trained = cell("%matplotlib inline\nruns = twice(0.1)\nbest = max(runs)", ignored=True)
    figure = cell("plt.plot([1, 2])")
    # a notebook function that trains, called two levels down, is a training call
    assert unchecked_training([helper, trained, figure, cell("assert best.mean() > 0.5")]) == []
    assert unchecked_training([helper, trained, cell("for r in runs:\n    assert r")]) == []
    loose = unchecked_training([helper, trained, figure, cell("assert 1 + 1 == 2")])
    assert len(loose) == 1 and "code cell 1 trains (twice)" in loose[0]
    # too far away, or after the next training cell, does not count
    far = [helper, trained, figure, figure, figure, cell("assert best")]
    assert len(unchecked_training(far)) == 1
    retrained = [helper, trained, cell("again = twice(1.0)"), cell("assert best")]
    assert len(unchecked_training(retrained)) == 1
    # the cell tag ignores the output as the comment does; an ignored derived cell counts
    tagged = cell("model = utils.train(net, a, b, 1, 0.1)", tag=True)
    derived = cell("acc = model.last", ignored=True)
    assert unchecked_training([tagged, derived, cell("assert acc > 0.5")]) == []
    assert len(unchecked_training([tagged, cell("print(1)")])) == 1
    # an ignored cell that asserts (and prints what differs by machine) checks too
    checks = cell("assert acc > 0.5\nprint(acc)", ignored=True)
    assert unchecked_training([tagged, derived, checks, cell("print(1)")]) == []


def test_every_chapter_has_exercises_and_is_in_the_toc():
    chapters = {p.name for p in (REPO / "chapters").glob("*.ipynb")}
    exercises = {p.name for p in (REPO / "exercises").glob("*.ipynb")}
    assert chapters == exercises
    toc = (REPO / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        entry = str(path.relative_to(REPO).with_suffix(""))
        assert f"file: {entry}\n" in toc + "\n", f"{entry} is not in _toc.yml"


def _exercise_numbers(chapter: Path) -> tuple[list[int], list[int]]:
    """The numbers of a chapter's exercise list, and of its exercise notebook's sections."""
    text = chapter.read_text()
    listed = text[text.index("# ## Exercises"):]
    listed = listed.split("\n# %%")[0]
    asked = re.findall(r"^# (\d+)\. ", listed, re.M)
    answered = re.findall(r"^# ## (?:Exercise )?(\d+)[.:] ",
                          (REPO / "exercises" / chapter.name).read_text(), re.M)
    return [int(n) for n in asked], [int(n) for n in answered]


@pytest.mark.parametrize("chapter", sorted((REPO / "chapters").glob("*.py")),
                         ids=lambda p: p.stem)
def test_a_chapters_exercise_list_and_its_notebook_agree(chapter):
    asked, answered = _exercise_numbers(chapter)
    assert asked and asked == list(range(1, len(asked) + 1)), f"{chapter.name}: list {asked}"
    assert answered == asked, (f"{chapter.name} lists exercises {asked}, its notebook "
                               f"answers {answered}")


def test_every_notebook_has_a_paired_script_and_no_script_is_orphaned():
    scripts = notebooks(suffix=".py")
    assert [p.with_suffix(".ipynb") for p in scripts] == NOTEBOOKS, \
        "each notebook needs its .py beside it (make sync), and each .py its notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_paired_script_agrees_with_the_notebook(path):
    jupytext = pytest.importorskip("jupytext")
    script = jupytext.read(path.with_suffix(".py"))
    ours = [(c["cell_type"], source(c)) for c in cells(path)]
    theirs = [(c["cell_type"], c["source"]) for c in script["cells"]]
    assert len(theirs) == len(ours), "cell count differs: run make sync"
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == b, f"cell {i} differs between {path.name} and its .py: run make sync"


def test_the_makefile_and_pyproject_name_the_same_notebook_folders():
    make = next(line for line in (REPO / "Makefile").read_text().splitlines()
                if line.startswith("NOTEBOOKS :="))
    assert re.findall(r"([a-z]+)/\*\.ipynb", make) == list(DIRS), make
    pyproject = (REPO / "pyproject.toml").read_text()
    assert all(f'"{d}/*.py"' in pyproject for d in DIRS), \
        "pyproject.toml's extend-exclude must name every notebook folder's paired scripts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_result_records_are_not_printed(path):
    """The landing page's records are saved as HTML comments (utils.history.emit_record),
    which no reader sees; a printed record is a line of JSON in the lesson."""
    for i, cell in enumerate(cells(path, "code")):
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", "")) if out.get("output_type") == "stream" else ""
            text += "".join(out.get("data", {}).get("text/plain", ""))
            assert "cnnbook-result " not in text and "cnnbook-compare " not in text, \
                f"code cell {i} prints a result record; re-execute the notebook"


DRAWS = re.compile(r"\bplt\.|\bax\w*\.|\bfig\w*\b|subplots|imshow|\.plot\(")
HIDDEN = {"hide-input", "remove-input", "remove-cell"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_figure_code_is_hidden(path):
    """A cell that draws a figure with matplotlib shows the figure, and its code only on
    request (`hide-input`: the site's "Show code cell source" toggle)."""
    for i, cell in enumerate(cells(path, "code")):
        figure = any(k in out.get("data", {}) for out in cell.get("outputs", [])
                     for k in ("image/png", "image/svg+xml"))
        if figure and DRAWS.search(source(cell)):
            tags = set(cell.get("metadata", {}).get("tags", []))
            assert tags & HIDDEN, f"code cell {i} draws a figure: tag it hide-input"


def test_the_site_merges_each_cells_stdout_into_one_box():
    """Without nb_merge_streams a cell that prints while it trains shows one box per flush."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["sphinx"]["config"].get("nb_merge_streams") is True


def _glue_text():
    import importlib.util
    spec = importlib.util.spec_from_file_location("glue_text", REPO / "tools" / "glue_text.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GLUE_TEXT = _glue_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_the_prose_holds_each_glued_value(path):
    """Every measured number in the prose is written into it (a span naming its glue), and
    is the value the saved outputs glue, formatted as MyST-NB would: no raw role."""
    problems = GLUE_TEXT.problems(json.loads(path.read_text()))
    assert not problems, "\n".join(problems)


GLUED = [p for p in NOTEBOOKS if "data-glue=" in p.read_text() or "{glue:" in p.read_text()]


@pytest.mark.parametrize("path", GLUED, ids=ids(GLUED))
def test_jupyter_shows_the_numbers_of_the_prose(path):
    """Rendered as Jupyter and Colab render it (nbconvert's HTML), the page shows every
    glued value in its sentence and no MyST glue role."""
    import html as html_lib

    import nbformat
    from nbconvert import HTMLExporter
    nb = nbformat.read(path, as_version=4)
    page, _ = HTMLExporter(template_name="basic").from_notebook_node(nb)
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", page))
    assert "{glue:" not in text
    values = GLUE_TEXT.glued_values(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for spec, _ in GLUE_TEXT.SPAN.findall(cell.source):
                shown = html_lib.unescape(GLUE_TEXT.render(spec, values))
                assert shown in text, f"{spec}: {shown!r} is not on the Jupyter page"
