"""tools/vendor_mathjax.py: MathJax for the website from a PyPI package, with no npm on PATH.

Runs the script as `make mathjax` does, into a temporary folder, with a PATH from
which every folder holding `npm` is removed. The files come from the installed
package django-static-mathjax (requirements.txt), so this needs no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tools" / "vendor_mathjax.py"


@pytest.fixture
def env_without_npm() -> dict[str, str]:
    """The environment with every PATH entry that holds an `npm` dropped."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not (Path(d) / "npm").exists()]
    path = os.pathsep.join(dirs)
    assert shutil.which("npm", path=path) is None
    return {**os.environ, "PATH": path}


def _vendor(dest: Path, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *flags, str(SCRIPT), str(dest)], env=env,
                          capture_output=True, text=True, timeout=120)


def test_vendoring_without_npm_delivers_mathjax(tmp_path: Path,
                                                env_without_npm: dict[str, str]) -> None:
    dest = tmp_path / "vendor" / "mathjax"
    done = _vendor(dest, env_without_npm)
    assert done.returncode == 0, done.stderr
    assert "MathJax 3." in done.stdout
    version = (dest / ".version").read_text().strip()
    assert version.startswith("3."), version
    # The component _config.yml's mathjax_path names, and what it loads on demand.
    assert (dest / "tex-mml-chtml.js").stat().st_size > 500_000
    for part in ("input/tex/extensions/ams.js", "ui/menu.js", "a11y/semantic-enrich.js",
                 "sre/mathmaps/en.json", "output/chtml/fonts/tex.js"):
        assert (dest / part).is_file(), f"{part} is missing"
    fonts = list((dest / "output/chtml/fonts/woff-v2").glob("*.woff"))
    assert len(fonts) > 20, fonts
    assert "Apache License" in (dest / "LICENSE").read_text()
    assert not dest.with_name("mathjax.tmp").exists()

    stamp = (dest / "tex-mml-chtml.js").stat().st_mtime_ns
    again = _vendor(dest, env_without_npm)  # already there: nothing copied, nothing said
    assert again.returncode == 0 and again.stdout == "", again
    assert (dest / "tex-mml-chtml.js").stat().st_mtime_ns == stamp


def test_missing_package_says_how_to_install_it(tmp_path: Path,
                                                env_without_npm: dict[str, str]) -> None:
    # -S: no site-packages, as in an environment where requirements.txt was not installed.
    done = _vendor(tmp_path / "mathjax", env_without_npm, "-S")
    assert done.returncode == 1
    assert "django-static-mathjax" in done.stderr and "make venv" in done.stderr, done.stderr
    assert not (tmp_path / "mathjax").exists()
