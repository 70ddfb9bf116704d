"""Sphinx extension that keeps cnnbook's website self-contained (loaded via _config.yml).

- MathJax is served by the site itself: ``make mathjax`` (tools/vendor_mathjax.py)
  puts a copy from the PyPI package django-static-mathjax in
  ``_build/vendor/mathjax``; this adds that folder to the static files,
  so it lands in ``_build/html/_static/mathjax`` (``mathjax_path`` points there).
  It is not put in ``html_static_path`` in _config.yml because Jupyter Book would
  then load every one of MathJax's lazily loaded ``.js`` files on every page.
- sphinx-thebe's scripts are dropped from every page: the book has no live-code
  button, and they name a CDN.
- Every page gets a ``<meta name="description">`` from ``description`` in _config.yml
  (Jupyter Book itself does nothing with that key).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import yaml
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

VENDOR = "_build/vendor"  # relative to the book's root; the Makefile writes here too


def _add_vendored_static(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    vendor = Path(app.confdir) / app.config.cnnbook_vendor_dir
    mathjax = vendor / "mathjax" / "tex-mml-chtml.js"
    if not mathjax.is_file():
        raise ExtensionError(
            f"MathJax is served from the site itself, but {mathjax} is missing: "
            "build with `make book` (or run `make mathjax` first).")
    app.config.html_static_path.append(str(vendor))
    config = yaml.safe_load((Path(app.confdir) / "_config.yml").read_text(encoding="utf-8"))
    app.cnnbook_description = " ".join(str(config.get("description", "")).split())


def _is_thebe(script: object) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = getattr(script, "attributes", {}).get("body", "")
    return filename.endswith("sphinx-thebe.js") or "THEBE_JS_URL" in body


def _page_context(app: Sphinx, pagename: str, templatename: str, context: dict,
                  doctree: object) -> None:
    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not _is_thebe(s)]
    description = getattr(app, "cnnbook_description", "")
    if description:
        tag = f'<meta name="description" content="{escape(description)}" />\n'
        context["metatags"] = context.get("metatags", "") + tag


def setup(app: Sphinx) -> dict:
    app.add_config_value("cnnbook_vendor_dir", VENDOR, "html")
    app.connect("builder-inited", _add_vendored_static)
    app.connect("html-page-context", _page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
