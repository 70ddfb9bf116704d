"""Put MathJax 3 into DEST, so that the website serves it itself instead of a CDN.

The files come from the PyPI package ``django-static-mathjax`` (in requirements.txt,
so ``make venv`` installs it), which ships MathJax's ``es5/`` build as static files
and declares no dependencies; despite its name it needs no Django, and nothing of it
is imported: this only copies its files. No Node.js or npm is needed.

Idempotent: does nothing when DEST already holds the installed MathJax version.

    python tools/vendor_mathjax.py DEST      # e.g. _build/vendor/mathjax (make mathjax)
"""

from __future__ import annotations

import json
import shutil
import sys
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "django-static-mathjax"
# The combined TeX+MathML -> CommonHTML component, what it loads on demand (TeX
# extensions, the menu, accessibility, speech) and its fonts, relative to es5/.
PARTS = ("tex-mml-chtml.js", "input", "ui", "a11y", "sre", "output/chtml")


class VendorError(RuntimeError):
    """The MathJax files cannot be found or copied; the message says what to do."""


def mathjax_source() -> tuple[Path, str]:
    """MathJax's folder inside the installed package (holding es5/) and its version."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise VendorError(
            f"the Python package {DISTRIBUTION} (MathJax's files) is not installed for "
            f"{sys.executable}: run `make venv` (or `.venv/bin/pip install -r "
            "requirements.txt`)") from None
    root = Path(str(dist.locate_file("mathjax/static/mathjax")))
    if not (root / "es5" / PARTS[0]).is_file() or not (root / "package.json").is_file():
        raise VendorError(
            f"{DISTRIBUTION} {dist.version} has no MathJax es5/ build under {root}: "
            f"reinstall it (`.venv/bin/pip install --force-reinstall '{DISTRIBUTION}<4'`)")
    version = json.loads((root / "package.json").read_text(encoding="utf-8"))["version"]
    return root, str(version)


def vendor(dest: Path) -> bool:
    """Copy MathJax into ``dest`` unless it already holds this version; True if copied."""
    root, version = mathjax_source()
    stamp = dest / ".version"
    if (dest / PARTS[0]).is_file() and stamp.is_file() and stamp.read_text().strip() == version:
        return False
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for part in PARTS:
        src, out = root / "es5" / part, tmp / part
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, out)
        else:
            shutil.copy2(src, out)
    shutil.copy2(root / "LICENSE", tmp / "LICENSE")
    (tmp / ".version").write_text(version + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: vendor_mathjax.py DEST", file=sys.stderr)
        return 2
    dest = Path(argv[0])
    try:
        copied = vendor(dest)
    except (VendorError, OSError) as err:
        print(f"vendor_mathjax: {err}", file=sys.stderr)
        return 1
    if copied:
        size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
        version = (dest / ".version").read_text().strip()
        print(f"vendor_mathjax: MathJax {version} from {DISTRIBUTION} in {dest} "
              f"({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
