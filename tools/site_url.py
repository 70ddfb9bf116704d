"""The book's web addresses, derived from its one setting, ``repository.url`` in _config.yml.

    python tools/site_url.py            # the website: https://OWNER.github.io/NAME/
    python tools/site_url.py --check URL  # fail unless URL is that address

GitHub Pages serves a repository ``github.com/OWNER/NAME`` at
``https://OWNER.github.io/NAME/`` (``OWNER.github.io`` itself at the root). The
README's badges and website link are checked against these functions by
tests/test_workflows.py, and .github/workflows/pages.yml checks the address that
GitHub reports before it deploys, so the address is written down in one place.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def repository_url(config: Path = ROOT / "_config.yml") -> str:
    """``repository.url`` from the book's _config.yml, without a trailing slash."""
    return str(yaml.safe_load(config.read_text())["repository"]["url"]).rstrip("/")


def owner_and_name(repo_url: str) -> tuple[str, str]:
    """``("OWNER", "NAME")`` of ``https://github.com/OWNER/NAME``.

    Raises:
        ValueError: the address is not a GitHub repository's.
    """
    parts = urllib.parse.urlparse(repo_url)
    path = parts.path.strip("/").removesuffix(".git").split("/")
    if parts.netloc != "github.com" or len(path) != 2 or not all(path):
        raise ValueError(f"repository.url must be https://github.com/OWNER/NAME, got {repo_url!r}")
    return path[0], path[1]


def site_url(repo_url: str) -> str:
    """The GitHub Pages address of a repository, with a trailing slash."""
    owner, name = owner_and_name(repo_url)
    host = f"{owner.lower()}.github.io"
    return f"https://{host}/" if name.lower() == host else f"https://{host}/{name}/"


def badge(repo_url: str, workflow: str) -> str:
    """The Markdown status badge of ``.github/workflows/<workflow>``, linking to its runs."""
    runs = f"{repo_url}/actions/workflows/{workflow}"
    return f"[![{Path(workflow).stem}]({runs}/badge.svg)]({runs})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="URL",
                        help="exit 1 unless URL (e.g. what GitHub Pages reports) is the address")
    args = parser.parse_args(argv)
    url = site_url(repository_url())
    if args.check is None:
        print(url)
        return 0
    if args.check.rstrip("/") != url.rstrip("/"):
        print(f"site_url: GitHub serves the site at {args.check}, but repository.url in "
              f"_config.yml ({repository_url()}) gives {url}. Set repository.url to the "
              "repository's address (the README's badges and link follow from it).",
              file=sys.stderr)
        return 1
    print(f"site_url: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
