"""Find a Chromium or Google Chrome for the browser test (tests/test_site.py).

Looks at, in order: ``CNNBOOK_CHROMIUM`` (a path to the browser's executable), the
usual command names on ``PATH``, then macOS's application bundles. Playwright's own
download (``.venv/bin/playwright install chromium``) is the test's last resort.

    python tools/find_chromium.py   # prints the path, or how to get one (exit 1)
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MACOS_APPS = ("Chromium.app/Contents/MacOS/Chromium",
              "Google Chrome.app/Contents/MacOS/Google Chrome")
HOW_TO = ("no Chromium or Chrome found for the browser test: install one (Debian/Ubuntu: "
          "`apt-get install chromium`; macOS: `brew install --cask chromium` or Google "
          "Chrome), set CNNBOOK_CHROMIUM to its executable, or run "
          "`.venv/bin/playwright install chromium`")


def find_chromium() -> str | None:
    """The path of a Chromium or Chrome executable on this machine, or None.

    Raises FileNotFoundError when CNNBOOK_CHROMIUM names no executable file.
    """
    override = os.environ.get("CNNBOOK_CHROMIUM")
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise FileNotFoundError(f"CNNBOOK_CHROMIUM={override} is not an executable file: "
                                    "point it at the browser's executable, or unset it")
        return override
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    for apps in (Path("/Applications"), Path.home() / "Applications"):
        for app in MACOS_APPS:
            if os.access(apps / app, os.X_OK):
                return str(apps / app)
    return None


def main() -> int:
    try:
        path = find_chromium()
    except FileNotFoundError as err:
        print(f"find_chromium: {err}", file=sys.stderr)
        return 1
    if path is None:
        print(f"find_chromium: {HOW_TO}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
