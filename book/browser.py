"""Open every page of the built book in headless Chromium, with no network, and check that it works.

    python -m book.browser _build/html _build/executed [--screenshots DIR] [--mode http|file]

The site is opened twice: served over http://127.0.0.1:<free port>, and from disk as file:// URLs.
Every request that would leave the site is aborted and reported ("blocked: URL"); so is every
local file that is missing ("missing: URL"). On each page (the home page, the search page, one
page per executed notebook, one slide deck) the checks are:

- blocked, missing: as above; also an uncaught script error ("script error: ...");
- images: every <img> loaded (lazy ones forced to load), none broken;
- outputs: as many images among the cell outputs as the executed notebook has image outputs;
- math: a notebook with $math$ in its text has typeset math (MathJax's mjx-container elements),
  and no page shows raw TeX such as \\frac;
- widgets: a notebook whose widget state was stored shows rendered widgets, with no
  "Error displaying widget";
- links: "Open in Colab" points at this notebook on GitHub, and the download link at this
  notebook's file, which exists;
- search: the search page finds a word that only one notebook's text has, and lists its page;
- slides: a deck opens and advances to its second slide.

check_site() returns the problems found, one line each naming the mode, the page and what is
wrong; an empty list means the book passed. main() prints a table of pages by checks.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import sys
import threading
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from book import default_repo
from book import source as _source

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
VIEWPORT = {"width": 1280, "height": 800}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# Modules whose widgets html-manager renders from the site itself; other modules' (ipycanvas)
# would be fetched from a CDN, so the book must put something else in their place.
STANDARD_WIDGET_MODULES = {
    "@jupyter-widgets/base",
    "@jupyter-widgets/controls",
    "@jupyter-widgets/output",
}
# myst-nb's order of preference for the html builder: the first type an output has is shown.
MIME_PRIORITY = (
    WIDGET_VIEW,
    "application/javascript",
    "text/html",
    "image/svg+xml",
    "image/png",
    "image/gif",
    "image/jpeg",
    "text/markdown",
    "text/latex",
    "text/plain",
)
IMAGE_TYPES = ("image/svg+xml", "image/png", "image/gif", "image/jpeg")
CHECKS = ("blocked", "missing", "images", "outputs", "math", "widgets", "links", "search", "slides")
# The note beside static widgets (book/stage.py writes it), compared in lower case.
WIDGET_NOTE = "interactive in jupyterlab or colab"
# TeX commands that are never left in a page's text once MathJax has typeset it.
ALWAYS_RAW_TEX = ("\\frac",)


@dataclass
class Notebook:
    """What a page should show, read from the executed notebook."""

    name: str  # NN_name, without .ipynb
    images: int  # image outputs as myst-nb renders them
    math: bool  # its markdown has $...$ math
    tex: tuple[str, ...]  # TeX commands in that math (\\cdot, \\frac...)
    widgets: int  # widget views whose model the stored state has, standard modules only
    words: Counter = field(default_factory=Counter)  # words of its markdown text


@dataclass
class Report:
    """The problems, and for the table: (mode, page) -> check -> "ok" | "FAIL" | "-"."""

    problems: list[str] = field(default_factory=list)
    table: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    shots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, not problems


# ---------------------------------------------------------------------------------------------
# What each page should show, from the executed notebooks


def _data_text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _shown_type(data: dict) -> str | None:
    return next((mime for mime in MIME_PRIORITY if mime in data), None)


def expected_images(nb: dict) -> int:
    """The images myst-nb puts among a notebook's cell outputs.

    Each display_data or execute_result output shows one type, the first of MIME_PRIORITY it
    has: an image type counts one, text/html counts its <img> tags, a widget view counts none
    (its images, if any, are the widget's). Cells tagged remove-cell or remove-output show none.
    """
    count = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & {"remove-cell", "remove-output"}:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") not in ("display_data", "execute_result"):
                continue
            data = output.get("data", {})
            shown = _shown_type(data)
            if shown in IMAGE_TYPES:
                count += 1
            elif shown == "text/html":
                count += len(re.findall(r"<img\b", _data_text(data[shown]), re.IGNORECASE))
    return count


def _markdown_text(nb: dict) -> str:
    return "\n".join(_source(c) for c in nb.get("cells", []) if c.get("cell_type") == "markdown")


def _without_code(text: str) -> str:
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    return re.sub(r"`[^`\n]*`", " ", text)


def math_in(nb: dict) -> list[str]:
    """The $...$ and $$...$$ math of a notebook's markdown, outside code."""
    text = _without_code(_markdown_text(nb))
    found = re.findall(r"\$\$(.+?)\$\$", text, flags=re.DOTALL)
    text = re.sub(r"\$\$(.+?)\$\$", " ", text, flags=re.DOTALL)
    # inline: no space just inside the dollars, as MyST's dollarmath requires
    found += re.findall(r"(?<![\\$])\$(?=\S)([^$\n]+?)(?<=\S)\$(?!\d)", text)
    return found


def _refs(value) -> set[str]:
    """The model ids a widget's state refers to ("IPY_MODEL_<id>"), at any depth."""
    if isinstance(value, str):
        return {value[len("IPY_MODEL_") :]} if value.startswith("IPY_MODEL_") else set()
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


def _renders(state: dict, model_id: str) -> bool:
    """Whether html-manager can draw this model: it, and every model it holds, is in the stored
    state and comes from a standard module (not ipycanvas, say)."""
    seen, todo = set(), [model_id]
    while todo:
        mid = todo.pop()
        if mid in seen:
            continue
        seen.add(mid)
        model = state.get(mid)
        if model is None:
            return False
        modules = {
            model.get("model_module"),
            model.get("state", {}).get("_view_module", "@jupyter-widgets/base"),
        }
        if not modules <= STANDARD_WIDGET_MODULES:
            return False
        todo.extend(_refs(model.get("state", {})))
    return True


def widget_views(nb: dict) -> int:
    """The widget views among the outputs that a static page can draw from the stored state."""
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    count = 0
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view and _renders(state, view.get("model_id")):
                count += 1
    return count


def _words(nb: dict) -> Counter:
    text = _without_code(_markdown_text(nb))
    text = re.sub(r"\$\$.+?\$\$|\$[^$\n]+\$", " ", text, flags=re.DOTALL)  # math
    text = re.sub(r"\]\([^)]*\)|https?://\S+|<[^>]+>", " ", text)  # links, tags
    return Counter(w.lower() for w in re.findall(r"\b[A-Za-z]{7,}\b", text))


def read_notebook(path: Path) -> Notebook:
    nb = json.loads(path.read_text(encoding="utf-8"))
    math = math_in(nb)
    tex = sorted({cmd for m in math for cmd in re.findall(r"\\[A-Za-z]+", m)} | set(ALWAYS_RAW_TEX))
    return Notebook(
        name=path.stem,
        images=expected_images(nb),
        math=bool(math),
        tex=tuple(tex),
        widgets=widget_views(nb),
        words=_words(nb),
    )


def search_word(notebooks: list[Notebook]) -> tuple[Notebook, str] | None:
    """A notebook and a word that its text has most often and no other notebook's text has."""
    for nb in notebooks:
        others = Counter()
        for other in notebooks:
            if other is not nb:
                others.update(other.words)
        unique = [(n, w) for w, n in nb.words.items() if w not in others]
        if unique:
            return nb, max(unique, key=lambda t: (t[0], t[1]))[1]
    return None


# ---------------------------------------------------------------------------------------------
# Serving the site


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class Server:
    """The folder `root`, served over http://127.0.0.1 on a free port, in a thread."""

    def __init__(self, root: Path):
        handler = functools.partial(_Quiet, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------------------------
# In the browser

_SETTLE_IMAGES = """() => {
    for (const img of document.images) img.loading = 'eager';
    return true;
}"""
_IMAGES_DONE = "() => [...document.images].every(img => img.complete)"
_BROKEN_IMAGES = """() => [...document.images]
    .filter(img => !(img.complete && img.naturalWidth > 0))
    .map(img => img.getAttribute('src') || '(no src)')"""
_OUTPUT_IMAGES = """() => [...document.querySelectorAll('.cell_output img')]
    .filter(img => !img.closest('.widget-subarea, .jupyter-widgets')).length"""
_MATHJAX = """ms => new Promise(resolve => {
    const p = window.MathJax && MathJax.startup && MathJax.startup.promise;
    if (!p) return resolve('absent');
    setTimeout(() => resolve('timeout'), ms);
    p.then(() => resolve('done'), e => resolve('failed: ' + e));
})"""
# The text a reader sees as prose: not code, not typeset math, not scripts.
_PROSE = """() => {
    const skip = 'pre, code, script, style, textarea, mjx-container, .highlight';
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const parts = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode())
        if (!node.parentElement.closest(skip)) parts.push(node.textContent);
    return parts.join(' ');
}"""
_WIDGETS = """() => {
    const areas = [...document.querySelectorAll('.widget-subarea')];
    const visible = [...document.querySelectorAll('.widget-subarea .jupyter-widgets')]
        .filter(el => el.checkVisibility());
    return {areas: areas.length, visible: visible.length,
            error: document.body.innerText.includes('Error displaying widget'),
            text: document.body.innerText};
}"""
# Scroll the first visible element that a selector finds (not one in a folded solution) to the
# upper part of the view; false if there is none.
_SCROLL_TO = """selector => {
    const el = [...document.querySelectorAll(selector)].find(e => e.checkVisibility());
    if (el) window.scrollTo({top: el.getBoundingClientRect().top + window.scrollY - 300,
                             behavior: 'instant'});
    return !!el;
}"""
_DECK_READY = "() => !!document.querySelector('.reveal.ready')"
# The deck's slides (sections holding no other section) and the index of the one shown.
_DECK_STATE = """() => {
    const slides = [...document.querySelectorAll('.reveal .slides section')]
        .filter(s => !s.querySelector('section'));
    return {total: slides.length, present: slides.findIndex(s => s.classList.contains('present'))};
}"""
_LINKS = "() => [...document.querySelectorAll('a[href]')].map(a => [a.href, a.innerText.trim()"
_LINKS += " + ' ' + [...a.querySelectorAll('img')].map(i => i.alt).join(' ')])"


@dataclass
class _Watch:
    """Requests of one browser page: the ones aborted, the local ones that failed."""

    blocked: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # url -> why, the first reason
    errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # file:// fetches of files that exist


def _allowed(url: str, mode: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    if mode == "file":
        return parts.scheme == "file"
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOCAL_HOSTS


def _local_path(url: str, html: Path, base: str) -> Path | None:
    """The file on disk that a URL of the site names, or None if it is not the site's."""
    parts = urllib.parse.urlsplit(url)  # without its ?query and #fragment
    if parts.scheme == "file":
        return Path(urllib.request.url2pathname(parts.path))
    if url.startswith(base + "/"):
        return html / urllib.parse.unquote(parts.path).lstrip("/")
    return None


class _Session:
    """One browser context (one mode), opening pages and recording what is wrong."""

    def __init__(self, browser, mode: str, html: Path, base: str, report: Report, waits):
        self.mode, self.html, self.base, self.report = mode, html, base, report
        self.wait_ms, self.settle_ms = (int(s * 1000) for s in waits)
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.route("**/*", self._route)
        self.watch: _Watch | None = None

    def _route(self, route):
        url = route.request.url
        if _allowed(url, self.mode):
            route.continue_()
        else:
            if self.watch is not None:
                self.watch.blocked.append(url)
            route.abort("blockedbyclient")

    def url(self, page: str) -> str:
        if self.mode == "file":
            path, _, query = page.partition("?")
            return (self.html / path).resolve().as_uri() + (f"?{query}" if query else "")
        return f"{self.base}/{page}"

    def row(self, page: str) -> dict[str, str]:
        return self.report.table.setdefault((self.mode, page), dict.fromkeys(CHECKS, "-"))

    def fail(self, page: str, check: str, what: str) -> None:
        self.row(page)[check] = "FAIL"
        problem = f"{self.mode} {page}: {what}"
        if problem not in self.report.problems:
            self.report.problems.append(problem)

    def passed(self, page: str, check: str) -> None:
        if self.row(page)[check] != "FAIL":
            self.row(page)[check] = "ok"

    def open(self, page: str, label: str | None = None):
        """A browser page at `page`, loaded and settled: network idle, math typeset."""
        label = label or page
        watch = self.watch = _Watch()
        tab = self.context.new_page()
        tab.on("requestfailed", lambda r: self._failed(watch, r))
        tab.on("response", lambda r: self._response(watch, r))
        tab.on("pageerror", lambda e: watch.errors.append(str(e).splitlines()[0]))
        try:
            tab.goto(self.url(page), wait_until="load", timeout=self.wait_ms)
            tab.wait_for_load_state("networkidle", timeout=self.wait_ms)
        except Exception as exc:  # noqa: BLE001 - the page's problem, reported below
            self.fail(label, "missing", f"did not load in {self.wait_ms / 1000:.0f} s: {exc}")
        mathjax = tab.evaluate(_MATHJAX, self.wait_ms)
        if mathjax not in ("absent", "done"):
            self.fail(label, "math", f"MathJax did not finish typesetting: {mathjax}")
        return tab

    def _failed(self, watch: _Watch, request) -> None:
        url = request.url
        if url in watch.blocked or not _allowed(url, self.mode):
            return
        if self.mode == "file" and request.resource_type in ("fetch", "xhr"):
            # Chromium refuses fetch() of file:// URLs; not a missing file if the file is there
            # (Sphinx's search fetches each result's page for its summary).
            path = _local_path(url, self.html, self.base)
            if path is not None and path.is_file():
                watch.refused.append(url)
                return
        watch.missing.setdefault(url, str(request.failure))

    def _response(self, watch: _Watch, response) -> None:
        if response.status >= 400 and _allowed(response.url, self.mode):
            watch.missing.setdefault(response.url, f"HTTP {response.status}")

    def settle_images(self, tab, page: str) -> None:
        tab.evaluate(_SETTLE_IMAGES)
        try:
            tab.wait_for_function(_IMAGES_DONE, timeout=self.settle_ms, polling=100)
        except Exception:  # noqa: BLE001 - the ones not loaded are reported as broken
            pass
        broken = tab.evaluate(_BROKEN_IMAGES)
        for src in broken:
            self.fail(page, "images", f"image broken: {src}")
        if not broken:
            self.passed(page, "images")

    def close(self, tab, page: str) -> None:
        """Report what the page's requests showed, and close it."""
        try:
            tab.wait_for_load_state("networkidle", timeout=self.settle_ms)
        except Exception:  # noqa: BLE001 - whatever is still loading is not waited for
            pass
        watch = self.watch
        for url in dict.fromkeys(watch.blocked):
            self.fail(page, "blocked", f"blocked: {url}")
        for url, why in watch.missing.items():
            self.fail(page, "missing", f"missing: {url} ({why})")
        for error in dict.fromkeys(watch.errors):
            if watch.refused and "Failed to fetch" in error:
                continue  # the refused file:// fetches above, noted below
            self.fail(page, "missing", f"script error: {error}")
        if watch.refused:
            self.report.notes.append(
                f"{self.mode} {page}: Chromium refused fetch() of {len(watch.refused)} file:// "
                f"URL(s) that exist, e.g. {watch.refused[0]} (browsers do so for file://)"
            )
        self.passed(page, "blocked")
        self.passed(page, "missing")
        self.watch = None
        tab.close()

    def shoot(self, tab, screenshots: Path | None, name: str, full_page: bool = False) -> None:
        if screenshots is None:
            return
        path = screenshots / f"{self.mode}_{name}.png"
        tab.screenshot(path=str(path), full_page=full_page)
        self.report.shots.append(path)

    # -- the pages ---------------------------------------------------------------------------

    def common(self, tab, page: str, tex=ALWAYS_RAW_TEX) -> None:
        """Checks for every page: images load, no raw TeX (\\frac, or the commands `tex`)."""
        self.settle_images(tab, page)
        self.raw_tex(tab, page, tex)

    def raw_tex(self, tab, page: str, commands) -> None:
        prose = tab.evaluate(_PROSE)
        raw = [c for c in commands if re.search(re.escape(c) + r"(?![A-Za-z])", prose)]
        if raw:
            self.fail(page, "math", f"raw TeX left in the text: {', '.join(raw)}")

    def home(self, notebooks: list[Notebook], screenshots: Path | None) -> None:
        page = "index.html"
        tab = self.open(page)
        self.common(tab, page)
        links = tab.evaluate(_LINKS)
        hrefs = {urllib.parse.urlsplit(h).path for h, _ in links}
        for nb in notebooks:
            if not any(h.endswith(f"/notebooks/{nb.name}.html") for h in hrefs):
                self.fail(page, "links", f"no link to notebooks/{nb.name}.html")
        self.local_links(page, links)
        self.passed(page, "links")
        self.shoot(tab, screenshots, "index", full_page=True)
        self.close(tab, page)

    def notebook(self, nb: Notebook, repo: str, branch: str, shots: dict[str, Path | None]):
        page = f"notebooks/{nb.name}.html"
        tab = self.open(page)
        if nb.widgets:
            try:
                tab.wait_for_function(
                    f"() => document.querySelectorAll('.widget-subarea').length >= {nb.widgets}",
                    timeout=self.settle_ms,
                    polling=100,
                )
            except Exception:  # noqa: BLE001 - reported below, with the count
                pass
        self.common(tab, page, nb.tex)

        shown = tab.evaluate(_OUTPUT_IMAGES)
        if shown != nb.images:
            self.fail(
                page,
                "outputs",
                f"{shown} images among the cell outputs, but the executed notebook "
                f"has {nb.images} image outputs",
            )
        self.passed(page, "outputs")

        if nb.math:
            if tab.locator("mjx-container").count() == 0:
                self.fail(page, "math", "the notebook has $math$ but the page has no typeset math")
            self.passed(page, "math")

        found = tab.evaluate(_WIDGETS)
        if found["error"]:
            self.fail(page, "widgets", "the page says 'Error displaying widget'")
        if nb.widgets:
            if found["areas"] < nb.widgets:
                self.fail(
                    page,
                    "widgets",
                    f"{found['areas']} of the notebook's {nb.widgets} widget views rendered",
                )
            if not found["visible"]:
                self.fail(page, "widgets", "no rendered widget is visible")
            if WIDGET_NOTE not in found["text"].lower():
                self.fail(page, "widgets", f"no {WIDGET_NOTE!r} note beside the widgets")
            self.passed(page, "widgets")
        elif found["areas"]:
            self.fail(page, "widgets", f"{found['areas']} widgets, but no stored state for any")

        self.links(tab, page, nb, repo, branch)
        if shots.get("widgets") is not None and nb.name == shots.get("widget page"):
            self.scroll_to(tab, ".widget-subarea .jupyter-widgets")
            self.shoot(tab, shots.pop("widgets"), f"widgets_{nb.name}")
        if shots.get("math") is not None and nb.math and self.scroll_to(tab, "mjx-container"):
            self.shoot(tab, shots.pop("math"), f"math_{nb.name}")
        self.close(tab, page)

    @staticmethod
    def scroll_to(tab, selector: str) -> bool:
        """Bring the first visible element that `selector` finds into view; False if none."""
        return tab.evaluate(_SCROLL_TO, selector)

    def links(self, tab, page: str, nb: Notebook, repo: str, branch: str) -> None:
        colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/"
        expected = f"{colab}{nb.name}.ipynb"
        links = tab.evaluate(_LINKS)
        colabs = [(h, t) for h, t in links if h.startswith("https://colab.research.google.com/")]
        if not any(h == expected and "colab" in t.lower() for h, t in colabs):
            self.fail(page, "links", f"no 'Open in Colab' link to {expected}")
        for href, _ in colabs:
            if not href.endswith(f"/{nb.name}.ipynb"):
                self.fail(page, "links", f"Colab link to another notebook: {href}")
        downloads = [h for h, _ in links if re.search(r"/download/[^/?#]+\.ipynb$", h)]
        if not downloads:
            self.fail(page, "links", f"no download link to download/{nb.name}.ipynb")
        for href in downloads:
            if not href.endswith(f"/download/{nb.name}.ipynb"):
                self.fail(page, "links", f"download link to another notebook: {href}")
            path = _local_path(href, self.html, self.base)
            if path is None or not path.is_file():
                self.fail(page, "links", f"download link to a missing file: {href}")
        if (self.html / "slides").is_dir():
            deck = f"/slides/{nb.name}.slides.html"
            if not any(urllib.parse.urlsplit(h).path.endswith(deck) for h, _ in links):
                self.fail(page, "links", f"no link to its slides, slides/{nb.name}.slides.html")
        self.local_links(page, links)
        self.passed(page, "links")

    def local_links(self, page: str, links) -> None:
        """Every link to a file of the site names a file that exists."""
        for href, _ in links:
            path = _local_path(href, self.html, self.base)
            if path is None:
                continue
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                self.fail(page, "links", f"link to a missing file: {href}")

    def search(self, target: tuple[Notebook, str] | None) -> None:
        page = "search.html"
        if target is None:
            tab = self.open(page)
            self.common(tab, page)
            self.fail(page, "search", "no word found that only one notebook's text has")
            self.close(tab, page)
            return
        nb, word = target
        tab = self.open(f"{page}?q={word}", label=page)
        self.common(tab, page)
        want = f"notebooks/{nb.name}.html"
        try:
            tab.wait_for_function(
                "want => [...document.querySelectorAll('#search-results a')]"
                ".some(a => a.href.split(/[?#]/)[0].endsWith(want))",
                arg=want,
                timeout=self.settle_ms,
                polling=100,
            )
            self.passed(page, "search")
        except Exception:  # noqa: BLE001 - reported with what the page shows
            results = tab.evaluate(
                "() => (document.querySelector('#search-results') || document.body).innerText"
            )
            summary = " ".join(results.split())[:200]
            self.fail(page, "search", f"searching {word!r} did not list {want}: {summary!r}")
        self.close(tab, page)

    def slides(self, deck: Path | None, screenshots: Path | None) -> None:
        if deck is None:
            self.report.problems.append(f"{self.mode}: no slide deck in slides/")
            self.row("slides/")["slides"] = "FAIL"
            return
        page = deck.relative_to(self.html).as_posix()
        tab = self.open(page)
        self.common(tab, page)
        try:
            # nbconvert's deck loads reveal.js through require.js, so there may be no global
            # Reveal: its DOM says when it is ready (.reveal.ready) and which slide is shown.
            tab.wait_for_function(_DECK_READY, timeout=self.settle_ms, polling=100)
        except Exception:  # noqa: BLE001 - reported
            self.fail(page, "slides", "reveal.js did not start (no .reveal.ready)")
            self.close(tab, page)
            return
        deck_state = tab.evaluate(_DECK_STATE)
        if deck_state["total"] < 2:
            self.fail(page, "slides", f"the deck has {deck_state['total']} slide(s), not 2 or more")
            self.close(tab, page)
            return
        moved = f"() => ({_DECK_STATE})().present > {deck_state['present']}"
        tab.keyboard.press("ArrowRight")
        try:
            tab.wait_for_function(moved, timeout=self.settle_ms // 2, polling=100)
        except Exception:  # noqa: BLE001 - ArrowRight did nothing: try reveal's "next" key
            tab.keyboard.press("Space")
        try:
            tab.wait_for_function(moved, timeout=self.settle_ms, polling=100)
            self.passed(page, "slides")
        except Exception:  # noqa: BLE001 - reported
            now = tab.evaluate(_DECK_STATE)
            self.fail(
                page,
                "slides",
                f"the deck did not advance to its second slide (slide {now['present'] + 1} "
                f"of {now['total']} shown after ArrowRight and Space)",
            )
        try:  # the slide transition's end, for the screenshot
            tab.wait_for_function(
                "() => document.getAnimations().length === 0", timeout=5000, polling=100
            )
        except Exception:  # noqa: BLE001 - a looping animation: take the picture anyway
            pass
        self.settle_images(tab, page)  # the second slide's images
        self.shoot(tab, screenshots, f"slide_{deck.name.split('.')[0]}")
        self.close(tab, page)


def find_deck(html: Path) -> Path | None:
    """The slide deck to open: 07's, or the first one found."""
    preferred = html / "slides" / "07_resnext.slides.html"
    if preferred.is_file():
        return preferred
    return next(iter(sorted((html / "slides").glob("*.slides.html"))), None)


def run(
    html: Path,
    executed: Path,
    *,
    screenshots: Path | None = None,
    modes=("http", "file"),
    repo: str | None = None,
    branch: str = "main",
    wait_s: float = 20.0,
    settle_s: float = 10.0,
) -> Report:
    """Open the site in each mode and check every page; the full report (see check_site)."""
    from playwright.sync_api import sync_playwright

    html, executed = Path(html).resolve(), Path(executed)
    if repo is None:
        repo = default_repo()
    report = Report()
    for required in ("index.html", "search.html"):
        if not (html / required).is_file():
            report.problems.append(f"{required}: not in {html}; build the book first")
    notebooks = [read_notebook(p) for p in sorted(executed.glob("*.ipynb"))]
    if not notebooks:
        report.problems.append(f"no executed notebooks in {executed}; build the book first")
    if report.problems:
        return report
    for nb in notebooks:
        if not (html / "notebooks" / f"{nb.name}.html").is_file():
            report.problems.append(f"notebooks/{nb.name}.html: no page for {nb.name}.ipynb")
    target = search_word(notebooks)
    # The widget page to photograph: 02's (its augmentation explorer), or the first with widgets.
    with_widgets = [nb.name for nb in notebooks if nb.widgets]
    widget_page = next((n for n in with_widgets if n.startswith("02_")), None)
    widget_page = widget_page or next(iter(with_widgets), None)
    deck = find_deck(html)
    if screenshots is not None:
        screenshots = Path(screenshots)
        screenshots.mkdir(parents=True, exist_ok=True)
    if not Path(CHROMIUM).exists():
        report.problems.append(f"Chromium is not at {CHROMIUM}: apt-get install -y chromium")
        return report

    with Server(html) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for mode in modes:
                session = _Session(browser, mode, html, server.url, report, (wait_s, settle_s))
                session.home(notebooks, screenshots)
                shots = {"widgets": screenshots, "math": screenshots, "widget page": widget_page}
                for nb in notebooks:
                    if (html / "notebooks" / f"{nb.name}.html").is_file():
                        session.notebook(nb, repo, branch, shots)
                session.search(target)
                session.slides(deck, screenshots)
                session.context.close()
        finally:
            browser.close()
    return report


def check_site(
    html: Path,
    executed: Path,
    *,
    screenshots: Path | None = None,
    modes=("http", "file"),
    repo: str | None = None,
    branch: str = "main",
    wait_s: float = 20.0,
    settle_s: float = 10.0,
) -> list[str]:
    """The problems Chromium finds on the built book, one line each; empty when all is well.

    html: the built site (_build/html); executed: the executed notebooks (_build/executed),
    which say what each page should show. Each mode, "http" (served on 127.0.0.1) and "file"
    (file:// URLs), opens every page with every request off the site aborted. screenshots: a
    folder for PNGs of the home page, a widget page, a math page and a slide. repo ("owner/name")
    and branch: where the Colab links should point; repo defaults to course_utils.env.REPO_URL's.
    wait_s: the most seconds a page may take to load (load event, network idle, MathJax done);
    settle_s: the most seconds to wait, once loaded, for what should follow at once (widgets
    drawn, search results, the next slide). A page that fails waits that long, no page longer.
    """
    report = run(
        html,
        executed,
        screenshots=screenshots,
        modes=modes,
        repo=repo,
        branch=branch,
        wait_s=wait_s,
        settle_s=settle_s,
    )
    return report.problems


def table(report: Report) -> str:
    """Pages by checks, as plain text."""
    rows = [("mode", "page", *CHECKS)]
    rows += [(mode, page, *(r[c] for c in CHECKS)) for (mode, page), r in report.table.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m book.browser",
        description="Open every page of the built book in Chromium, offline, and check it.",
    )
    parser.add_argument("html", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("executed", type=Path, help="the executed notebooks, _build/executed")
    parser.add_argument("--screenshots", type=Path, help="a folder for screenshots")
    parser.add_argument(
        "--mode", action="append", choices=("http", "file"), help="http, file, or both (default)"
    )
    parser.add_argument("--repo", help="owner/name for the Colab links")
    parser.add_argument("--branch", default="main", help="branch for the Colab links")
    args = parser.parse_args(argv)
    report = run(
        args.html,
        args.executed,
        screenshots=args.screenshots,
        modes=tuple(args.mode or ("http", "file")),
        repo=args.repo,
        branch=args.branch,
    )
    if report.table:
        print(table(report))
    for note in report.notes:
        print(f"note: {note}")
    for path in report.shots:
        print(f"screenshot: {path}")
    if report.problems:
        print(f"\n{len(report.problems)} problem(s):")
        for problem in report.problems:
            print(f"  {problem}")
        return 1
    print("\nall pages passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
