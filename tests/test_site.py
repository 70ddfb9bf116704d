"""The built website in a real browser: Chromium or Chrome, headless, driven by Playwright.

`make test` builds the book first (`make book`) and makes sure of a browser
(`tools/ensure_chromium.sh`): the machine's own Chromium or Chrome as
`tools/find_chromium.py` finds it (CNNBOOK_CHROMIUM, the usual names on PATH,
macOS's /Applications), else Debian's package where root and apt-get can install
it, else Playwright's own download (`.venv/bin/playwright install chromium`).
The site in _build/html is served on 127.0.0.1 from a thread; any request to
another host is blocked and reported, so the test also proves that the site
works offline (MathJax, fonts and scripts are served by the site itself).
Screenshots of the landing page and a chapter go to _build/screenshots/.

Where a browser, Playwright or the built site is missing the tests skip with one
line saying what to do, except under CI=true, where they fail with that reason.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
from find_chromium import HOW_TO, find_chromium  # noqa: E402

SITE = REPO / "_build" / "html"
SHOTS = REPO / "_build" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Text that must never reach a reader: tracebacks, widget placeholders, local paths.
BAD_OUTPUT = re.compile(r"Traceback \(most recent call last\)|Loading widget|"
                        r"(?<![\w.])(/home/|/root/|/tmp/|/work/|/Users/|[A-Z]:\\Users\\)")
FIGURE_REPR = re.compile(r"<(Figure size [\d.]+x[\d.]+ with \d+ Axes|matplotlib\.[\w.]+ object at)")


def _unavailable(reason: str) -> None:
    """Fail under CI (the check must run there), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _config() -> dict:
    return yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))


def toc_files() -> list[str]:
    """Every page in _toc.yml, in reading order, as paths without suffix."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        walk(part.get("chapters", []))
    return files


def expected_colab_url(notebook: str) -> str:
    """The Colab link Jupyter Book should make from `repository` and `launch_buttons`."""
    config = _config()
    repo = urllib.parse.urlparse(config["repository"]["url"]).path.strip("/")
    book = config["repository"].get("path_to_book", "").strip("/")
    path = f"{book}/{notebook}" if book else notebook
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{repo}/blob/{config['repository']['branch']}/{path}.ipynb"


# --------------------------------------------------------------------------- fixtures


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a tab closed mid-download (BrokenPipeError): the browser side reports real failures


@pytest.fixture(scope="module")
def site() -> Path:
    """The built website, _build/html."""
    if not (SITE / "intro.html").is_file():
        _unavailable(f"no built site in {SITE}: run `make book` first")
    return SITE


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    """_build/html served on a free port of 127.0.0.1 for the whole module."""
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        executable = find_chromium()
    except FileNotFoundError as err:
        _unavailable(str(err))
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright's Python package is missing: run `make venv`")
    with sync_playwright() as pw:
        if executable is None and Path(pw.chromium.executable_path).is_file():
            executable = pw.chromium.executable_path  # `playwright install chromium`
        if executable is None:
            _unavailable(HOW_TO)
        browser = pw.chromium.launch(executable_path=executable, headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class PageVisit:
    """Opens pages in fresh tabs that record console errors, failed and off-site requests."""

    def __init__(self, browser: object, base_url: str) -> None:
        self.base = base_url
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._route)
        self.page = None
        self.problems: list[str] = []

    def _route(self, route: object) -> None:
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            self.problems.append(f"off-site request: {route.request.url}")
            route.abort()

    def _console(self, msg: object) -> None:
        if msg.type == "error":
            self.problems.append(f"console error: {msg.text}")

    def _response(self, resp: object) -> None:
        if resp.status >= 400:
            self.problems.append(f"HTTP {resp.status}: {resp.url}")

    def open(self, path: str) -> list[str]:
        """Load a page in a new tab, wait for MathJax, return what went wrong."""
        if self.page is not None:
            self.page.close()
        self.problems = []
        self.page = page = self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.problems.append(f"page error: {err}"))
        page.on("requestfailed", lambda req: self.problems.append(
            f"request failed: {req.url} ({req.failure})"))
        page.on("response", self._response)
        page.goto(self.base + path, wait_until="load")
        page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise"
                      " ? MathJax.startup.promise.then(() => true) : true")
        return self.problems


@pytest.fixture(scope="module")
def visit(browser: object, base_url: str) -> Iterator[PageVisit]:
    tab = PageVisit(browser, base_url)
    yield tab
    tab.context.close()


# What one page must satisfy once loaded, checked in the page itself.
PAGE_CHECK = r"""() => {
  const main = document.querySelector('main') || document.body;
  const images = Array.from(document.images)
      .filter(img => !img.complete || img.naturalWidth === 0).map(img => img.src);
  const math = Array.from(main.querySelectorAll('.math'));
  const unrendered = math.filter(el => !el.querySelector('mjx-container'))
      .map(el => el.textContent.trim().slice(0, 60));
  const mathErrors = Array.from(main.querySelectorAll('mjx-merror'))
      .map(el => el.getAttribute('data-mjx-error') || el.textContent);
  const prose = main.cloneNode(true);
  prose.querySelectorAll('pre, code, .highlight, mjx-container').forEach(el => el.remove());
  const rawTex = (prose.textContent.match(/\$\$|\\\(|\\\[/g) || []).length;
  const outputs = Array.from(main.querySelectorAll('.cell_output > .output'));
  // a result record is an HTML comment for the landing page's table: empty on purpose
  const empty = outputs.filter(el => !el.innerText.trim()
      && !el.querySelector('img, svg, table, mjx-container, canvas')
      && !el.innerHTML.includes('<!-- cnnbook-')).length;
  const records = (main.innerText.match(/cnnbook-(result|compare) /g) || []).length;
  return {
    images, unrendered, mathErrors, empty, rawTex, records,
    math: math.length,
    outputText: outputs.map(el => el.innerText).join('\n'),
    stderr: main.querySelectorAll('.output.stderr').length,
    errors: main.querySelectorAll('.output.error, .output.traceback').length,
    widgets: main.querySelectorAll('.jupyter-widgets, [data-jupyter-widgets-cdn]').length,
  };
}"""


# --------------------------------------------------------------------------- tests


def test_html_loads_nothing_from_other_hosts(site: Path) -> None:
    """No page asks another host for a script, stylesheet or font (a CDN)."""
    remote = re.compile(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=\"(https?:)?//", re.I)
    offenders = []
    for page in sorted(site.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        for match in remote.finditer(html):
            tag = html[match.start():html.find(">", match.start()) + 1]
            loads = "stylesheet" in tag or "preload" in tag
            if match.group(1).lower() == "link" and not loads:
                continue  # <link rel="canonical"> and the like load nothing
            offenders.append(f"{page.relative_to(site)}: {tag}")
    assert not offenders, "remote resources:\n" + "\n".join(offenders)


def test_every_page_renders_cleanly(visit: PageVisit) -> None:
    """Every page: no console errors, images load, math is typeset, outputs are clean."""
    pages, failures, math_pages = [], [], []
    for page in sorted(SITE.rglob("*.html")):
        path = page.relative_to(SITE).as_posix()
        if path.startswith("_"):
            continue
        refresh = re.search(r'http-equiv="refresh" content="\d+; ?url=([^"]+)"',
                            page.read_text(encoding="utf-8"), re.I)
        if refresh:  # index.html: a redirect to the root page, nothing to render
            if not (page.parent / refresh.group(1)).is_file():
                failures.append(f"{path}: redirects to a missing {refresh.group(1)}")
            continue
        pages.append(path)
    toc_pages = {f + ".html" for f in toc_files()}
    assert toc_pages <= set(pages), f"pages missing from the site: {toc_pages - set(pages)}"
    for path in pages:
        problems = list(visit.open(path))
        state = visit.page.evaluate(PAGE_CHECK)
        if state["images"]:
            problems.append(f"images that did not load: {state['images']}")
        if state["unrendered"]:
            problems.append(f"formulas MathJax did not render: {state['unrendered']}")
        if state["rawTex"]:
            problems.append(f"{state['rawTex']} TeX delimiter(s) left in the text")
        if state["mathErrors"]:
            problems.append(f"TeX errors: {state['mathErrors']}")
        if state["empty"]:
            problems.append(f"{state['empty']} empty output placeholder(s)")
        if state["records"]:
            problems.append(f"{state['records']} result record(s) shown to the reader "
                            "(utils.history.emit_record hides them in a notebook)")
        if state["stderr"] or state["errors"] or state["widgets"]:
            problems.append(f"stderr/error/widget outputs: {state['stderr']}/"
                            f"{state['errors']}/{state['widgets']}")
        for pattern in (BAD_OUTPUT, FIGURE_REPR):
            found = pattern.search(state["outputText"])
            if found:
                problems.append(f"output shows {found.group(0)!r}")
        if state["math"]:
            math_pages.append(path)
        failures += [f"{path}: {p}" for p in problems]
    assert not failures, "\n".join(failures)
    assert "intro.html" in math_pages, "the landing page's formula was not found"


def test_sidebar_links_resolve(visit: PageVisit) -> None:
    """The sidebar lists every page of _toc.yml, and each of its links answers 200."""
    assert not visit.open("intro.html")
    hrefs = visit.page.eval_on_selector_all(
        "nav.bd-docs-nav a.reference", "els => els.map(a => a.href)")
    assert hrefs, "no sidebar links found"
    statuses = {}
    for href in hrefs:
        with urllib.request.urlopen(href.split("#")[0], timeout=10) as resp:
            statuses[href] = resp.status
    assert all(s == 200 for s in statuses.values()), statuses
    linked = {urllib.parse.urlparse(h).path.lstrip("/").removesuffix(".html") for h in hrefs}
    missing = set(toc_files()) - linked
    assert not missing, f"pages of _toc.yml not in the sidebar: {sorted(missing)}"


def test_colab_button_points_at_the_notebook_on_main(visit: PageVisit) -> None:
    """In the browser for the first chapter, in the HTML for every notebook page."""
    notebooks = [f for f in toc_files() if (REPO / f"{f}.ipynb").is_file()]
    chapter = next(f for f in notebooks if f.startswith("chapters/"))
    assert not visit.open(chapter + ".html")
    links = visit.page.eval_on_selector_all(
        "a[href*='colab.research.google.com']", "els => els.map(a => a.href)")
    assert links == [expected_colab_url(chapter)]
    wrong = {}
    for notebook in notebooks:
        html = (SITE / f"{notebook}.html").read_text(encoding="utf-8")
        found = re.findall(r'href="(https://colab\.research\.google\.com/[^"]*)"', html)
        if found != [expected_colab_url(notebook)]:
            wrong[notebook] = found
    assert not wrong, f"Colab links that do not open the notebook on main: {wrong}"


def test_search_finds_convolution(visit: PageVisit) -> None:
    assert not visit.open("search.html?q=convolution")
    visit.page.wait_for_selector("#search-results ul.search li", timeout=20_000)
    hits = visit.page.eval_on_selector_all("#search-results ul.search li a",
                                           "els => els.map(a => a.href)")
    assert any("/chapters/" in h for h in hits), f"no chapter found for 'convolution': {hits}"


def test_screenshots(visit: PageVisit) -> None:
    """Screenshots to look at: the whole landing page, the first 4000 px of a chapter."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    chapter = next(f for f in toc_files() if f.startswith("chapters/"))
    for name, path in [("landing", "intro.html"), ("chapter", chapter + ".html")]:
        assert not visit.open(path)
        height = visit.page.evaluate("() => document.documentElement.scrollHeight")
        out = SHOTS / f"{name}.png"
        visit.page.screenshot(path=str(out), full_page=True,
                              clip={"x": 0, "y": 0, "width": 1280, "height": min(height, 4000)})
        assert out.stat().st_size > 10_000


def _luminance(rgb: str) -> float:
    """Relative luminance (0 black, 1 white) of a CSS ``rgb(...)``/``rgba(...)`` colour."""
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", rgb)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# Corner pixels of every figure in a page's outputs: a transparent PNG would show its
# black axes and text on the dark theme's background.
FIGURE_CORNERS = r"""() => Array.from(document.querySelectorAll('.cell_output img'))
  .filter(img => img.complete && img.naturalWidth > 0).map(img => {
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    return {src: img.src.split('/').pop(), alpha: ctx.getImageData(1, 1, 1, 1).data[3]};
  })"""


def test_dark_mode_switches_and_figures_stay_readable(visit: PageVisit) -> None:
    """The theme's toggle gives a dark page; figures keep an opaque light background."""
    chapter = "chapters/01_convolution.html"
    assert not visit.open(chapter)
    page = visit.page
    background = "() => getComputedStyle(document.body).backgroundColor"
    assert _luminance(page.evaluate(background)) > 0.8          # light by default
    for _ in range(3):                                           # auto -> light -> dark
        if page.evaluate("() => document.documentElement.dataset.theme") == "dark":
            break
        page.locator(".theme-switch-button").first.click()
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert _luminance(page.evaluate(background)) < 0.2
    text = "() => getComputedStyle(document.querySelector('main p')).color"
    assert _luminance(page.evaluate(text)) > 0.6                 # light text on it
    corners = page.evaluate(FIGURE_CORNERS)
    assert corners, "no figures found on the chapter page"
    transparent = [c["src"] for c in corners if c["alpha"] < 255]
    assert not transparent, f"figures with a transparent background: {transparent}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "chapter-dark.png"),
                    clip={"x": 0, "y": 0, "width": 1280, "height": 2400}, full_page=True)
    page.evaluate("() => localStorage.removeItem('theme')")     # later visits: default


def test_phone_width_scrolls_no_text_sideways(browser: object, base_url: str) -> None:
    """At 390 px the text fits; a wide table or code block scrolls in its own box."""
    tab = PageVisit(browser, base_url)
    tab.context.close()
    tab.context = browser.new_context(viewport={"width": 390, "height": 844},
                                      device_scale_factor=2, is_mobile=True)
    tab.context.route("**/*", tab._route)
    try:
        failures = []
        for path in ("intro.html", "chapters/01_convolution.html",
                     "chapters/06_batch_norm.html", "appendix/from_d2l.html"):
            assert not tab.open(path), path
            state = tab.page.evaluate(r"""() => {
              const wide = el => el.scrollWidth > el.clientWidth + 1;
              const scrolls = el => {
                for (let e = el.parentElement; e; e = e.parentElement) {
                  const o = getComputedStyle(e).overflowX;
                  if ((o === 'auto' || o === 'scroll') && e.clientWidth <= innerWidth)
                    return true;
                }
                return false;
              };
              const boxes = Array.from(document.querySelectorAll('main table, main pre'));
              return {page: document.documentElement.scrollWidth, view: innerWidth,
                      loose: boxes.filter(b => b.offsetWidth > innerWidth && !scrolls(b))
                                  .map(b => b.tagName + ': ' + b.innerText.slice(0, 40))};
            }""")
            if state["page"] > state["view"] + 1:
                failures.append(f"{path}: the page is {state['page']} px wide in a "
                                f"{state['view']} px viewport")
            if state["loose"]:
                failures.append(f"{path}: wide boxes without their own scroll: "
                                f"{state['loose']}")
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab.page.screenshot(path=str(SHOTS / "phone.png"))
        assert not failures, "\n".join(failures)
    finally:
        tab.context.close()


def test_the_sliding_window_animation_plays(visit: PageVisit) -> None:
    """Chapter 1's animation (matplotlib's to_jshtml player): Play moves the frames."""
    chapter = "chapters/01_convolution.html"
    assert not visit.open(chapter)
    page = visit.page
    players = page.locator("div.animation")
    assert players.count() >= 1, "no animation on the first chapter"
    slider = players.first.locator("input[type=range]")
    start = int(slider.input_value())
    players.first.locator("button[title='Play']").click()
    page.wait_for_function(f"() => document.querySelector('div.animation input[type=range]')"
                           f".value != '{start}'", timeout=10_000)
    players.first.locator("button[title='Pause']").click()
    frames = int(slider.get_attribute("max") or 0) + 1
    assert frames > 2, f"the animation has only {frames} frame(s)"


def test_the_animation_stays_small(site: Path) -> None:
    """Chapter 1's player embeds its frames as PNGs: the page stays light to load."""
    html = (site / "chapters" / "01_convolution.html").read_text(encoding="utf-8")
    start = html.find('<div class="animation">')
    assert start >= 0, "no animation on the first chapter"
    embedded = html.count("data:image/png;base64", start)
    assert 2 < embedded < 50, f"{embedded} frames embedded"
    assert len(html) < 1_000_000, f"chapter 1 is {len(html):,} characters of HTML"
