"""Find what a built site would load from another host (issue 24: the book works with no network).

`external_loads(html)` reads every .html, .htm, .js, .mjs, .css and .svg file under `html` and
returns one line per load from another host, as "file:line: what". "Another host" means an
absolute URL: `http://`, `https://`, or protocol-relative `//host/...`. Links to be followed
(`<a href>`) are allowed: the reader chooses to leave the site.

What counts as a load, by kind of file:

- HTML and SVG, after removing `<!-- -->` comments: `src` of script, img, iframe, embed, source,
  track, audio, video, input; `srcset`; `poster`; `data` of object; `href` of `<link>` unless its
  rel is only navigation (canonical, alternate, author, license, help, next, prev, search,
  bookmark); SVG `<image>`/`<use>`/`<feimage>` href and xlink:href; `<meta http-equiv=refresh>`;
  `url()` and `@import` in `style` attributes and `<style>` elements (read as CSS, below); and
  in `<script type="application/vnd.jupyter.widget-state+json">` (widget state: its HTML values
  are put into the page) the HTML loads listed under JavaScript.
- CSS, after removing `/* */` comments: `@import` (of a string or `url()`) and `url()` (fonts,
  images, cursors...), wherever they are.
- JavaScript: only code that loads, since bundles are full of URLs that are never fetched
  (licence headers, JSON-schema ids, error messages, documentation links). It flags an absolute
  URL as the string argument of `importScripts(`, `fetch(`, `import(`, `new Worker(`,
  `require([`/`requirejs([`, `loadScript(`, or of `setAttribute("src"|"href", `; assigned to
  `.src`, `.href` or `.srcset`; imported with `import ... from`; and, inside string literals,
  the HTML and CSS that a bundle injects into the page: `<script|img|iframe|link ... src|href=`,
  `@import` and `url()`. Matches inside a `/* */` comment (in the code, or in CSS held in a
  string, such as the commented-out Google Fonts `@import` in html-manager's styles) or after
  `//` on a line of its own are skipped.

Strings this deliberately leaves alone, checked against the real site (book/site.py copies them):
html-manager's `let cdn = "https://cdn.jsdelivr.net/npm/"` (used only for widget modules that it
does not bundle; book/stage.py removes such widgets, and book/conf.py points the attribute
`data-jupyter-widgets-cdn` at the site itself); MathJax's speech-rule-engine defaults
(`url`, `WGXpath`, `mathmapsIePath` on jsDelivr: MathJax sets the maps' path to its own `sre/`
folder, and the other two serve only Internet Explorer or when no XPath exists). MathJax's
`latest.js`, a CDN loader, and reveal.js's math plugin (MathJax 2 from cdnjs) are not copied.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

SUFFIXES = {".html", ".htm", ".js", ".mjs", ".css", ".svg"}
REMOTE = r"(?:https?:)?//[A-Za-z0-9\[]"  # an absolute URL, with or without its scheme
_REMOTE = re.compile(r"^\s*(?:https?:)?//[A-Za-z0-9\[]", re.IGNORECASE)
NAVIGATION_RELS = {
    "canonical",
    "alternate",
    "author",
    "license",
    "help",
    "next",
    "prev",
    "search",
    "bookmark",
    "noopener",
    "noreferrer",
    "nofollow",
}
LOAD_ATTRIBUTES = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "source": ("src", "srcset"),
    "track": ("src",),
    "audio": ("src",),
    "video": ("src", "poster"),
    "input": ("src",),
    "object": ("data",),
    "image": ("href", "xlink:href"),
    "use": ("href", "xlink:href"),
    "feimage": ("href", "xlink:href"),
}
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# CSS: url(...) and @import "..." / @import url(...), on CSS with its comments removed.
CSS_URL = re.compile(r"url\(\s*(['\"]?)(" + REMOTE + r"[^'\")\s]*)\1\s*\)", re.IGNORECASE)
CSS_IMPORT = re.compile(r"@import\s+(['\"])(" + REMOTE + r"[^'\"]*)\1", re.IGNORECASE)

_Q = r"""(['"`])(""" + REMOTE + r"""[^'"`\s]*)"""  # a quoted absolute URL: groups (quote, url)
JS_LOADS = [
    ("importScripts", re.compile(r"\bimportScripts\s*\(\s*" + _Q)),
    ("fetch", re.compile(r"\bfetch\s*\(\s*" + _Q)),
    ("import()", re.compile(r"\bimport\s*\(\s*" + _Q)),
    ("import from", re.compile(r"\bimport\b[^;'\"`]*?\bfrom\s*" + _Q)),
    ("Worker", re.compile(r"\bnew\s+(?:Shared)?Worker\s*\(\s*" + _Q)),
    ("require", re.compile(r"\brequire(?:js)?\s*\(\s*\[[^\]]*?" + _Q)),
    ("loadScript", re.compile(r"\bloadScript\s*\(\s*" + _Q)),
    ("setAttribute", re.compile(r"\bsetAttribute\s*\(\s*['\"](?:src|href)['\"]\s*,\s*" + _Q)),
    ("assignment", re.compile(r"\.(?:src|href|srcset)\s*=\s*" + _Q)),
    # HTML and CSS held in strings, which a bundle puts into the page.
    ("HTML in a string", re.compile(r"<(?:script|img|iframe|link)\b[^>]*?\b(?:src|href)\s*=\s*\\?"
                                    r"""(['"])(""" + REMOTE + r"""[^'"\\\s]*)""", re.IGNORECASE)),
    ("CSS @import in a string", re.compile(r"@import\s+(?:url\(\s*)?\\?(['\"]?)(" + REMOTE
                                           + r"[^'\")\\\s]*)", re.IGNORECASE)),
    ("CSS url() in a string", re.compile(r"url\(\s*\\?(['\"]?)(" + REMOTE + r"[^'\")\\\s]*)",
                                         re.IGNORECASE)),
]  # fmt: skip


def _blank(match: re.Match) -> str:
    """A comment replaced by as many newlines as it had, so that line numbers stay right."""
    return "\n" * match.group(0).count("\n")


def strip_css_comments(text: str) -> str:
    """CSS without its /* */ comments (line numbers kept)."""
    return re.sub(r"/\*.*?\*/", _blank, text, flags=re.DOTALL)


def strip_html_comments(text: str) -> str:
    """HTML without its <!-- --> comments (line numbers kept)."""
    return re.sub(r"<!--.*?-->", _blank, text, flags=re.DOTALL)


def _line(text: str, index: int, first: int = 1) -> int:
    return first + text.count("\n", 0, index)


def _in_block_comment(text: str, index: int) -> bool:
    """Whether `index` lies inside a /* */ comment: the nearest marker before it opens one, and
    one closes after it. Read locally, so a "/*" inside a string cannot hide the rest of a file."""
    opened, closed = text.rfind("/*", 0, index), text.rfind("*/", 0, index)
    return opened > closed and text.find("*/", index) != -1


def _in_line_comment(text: str, index: int) -> bool:
    """Whether `index` follows `//` that starts a comment on its line (not the // of a URL)."""
    start = text.rfind("\n", 0, index) + 1
    return re.search(r"(?:^|[\s;{}(),])//", text[start:index]) is not None


def css_loads(text: str, first_line: int = 1) -> list[tuple[int, str]]:
    """(line, what) for each remote @import and url() in the CSS `text`."""
    text = strip_css_comments(text)
    found = []
    for m in CSS_IMPORT.finditer(text):
        found.append((_line(text, m.start(), first_line), f"@import {m.group(2)}"))
    for m in CSS_URL.finditer(text):
        before = text[max(0, m.start() - 12) : m.start()]
        what = "@import" if re.search(r"@import\s*$", before) else "url()"
        found.append((_line(text, m.start(), first_line), f"{what} {m.group(2)}"))
    return found


def js_loads(text: str, first_line: int = 1) -> list[tuple[int, str]]:
    """(line, what) for each remote load in the JavaScript `text` (see the module's docstring)."""
    found, seen = [], set()
    for what, pattern in JS_LOADS:
        for m in pattern.finditer(text):
            at = m.start(2)
            if at in seen or _in_block_comment(text, at) or _in_line_comment(text, m.start()):
                continue
            seen.add(at)
            found.append((_line(text, at, first_line), f"{what}: {m.group(2)}"))
    return sorted(found)


class _Page(HTMLParser):
    """Collects remote loads from the tags, style and script of an HTML or SVG document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._inline: tuple[str, str | None, int] | None = None  # (tag, type, line)
        self._body: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        values = {name.lower(): (value or "") for name, value in attrs}
        for name in LOAD_ATTRIBUTES.get(tag, ()):
            value = values.get(name, "")
            urls = [part.split()[0] for part in value.split(",") if part.split()]
            if "srcset" not in name:
                urls = [value]
            for url in urls:
                if _REMOTE.match(url):
                    self.found.append((line, f"<{tag} {name}> {url.strip()}"))
        if tag == "link":
            rels = set(values.get("rel", "").lower().split())
            href = values.get("href", "")
            if _REMOTE.match(href) and not (rels and rels <= NAVIGATION_RELS):
                self.found.append((line, f"<link rel={' '.join(sorted(rels))}> {href}"))
            if _REMOTE.match(values.get("imagesrcset", "")):
                self.found.append((line, f"<link imagesrcset> {values['imagesrcset']}"))
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            url = re.sub(r"^[\d\s;]*url\s*=\s*['\"]?", "", values.get("content", ""), flags=re.I)
            if _REMOTE.match(url):
                self.found.append((line, f"<meta refresh> {url}"))
        if values.get("style"):
            self.found += [(line, f"style attribute: {w}") for _, w in css_loads(values["style"])]
        if tag in ("style", "script"):
            self._inline = (tag, values.get("type"), line)
            self._body = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("style", "script"):
            self._inline = None

    def handle_data(self, data: str) -> None:
        if self._inline is not None:
            self._body.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._inline is None or tag != self._inline[0]:
            return
        kind, type_, line = self._inline
        body = "".join(self._body)
        self._inline = None
        if kind == "style":
            self.found += [(n, f"<style>: {w}") for n, w in css_loads(body, line)]
        elif type_ in (None, "", "text/javascript", "module", "application/javascript"):
            self.found += [(n, f"<script>: {w}") for n, w in js_loads(body, line)]
        elif type_ == WIDGET_STATE:
            unescaped = body.replace('\\"', '"').replace("\\/", "/")
            self.found += [(n, f"widget state: {w}") for n, w in js_loads(unescaped, line)]


def html_loads(text: str) -> list[tuple[int, str]]:
    """(line, what) for each remote load in the HTML or SVG `text`."""
    page = _Page()
    page.feed(strip_html_comments(text))
    page.close()
    return sorted(page.found)


def file_loads(path: Path) -> list[tuple[int, str]]:
    """(line, what) for each remote load in the file at `path`, read by its suffix."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    suffix = Path(path).suffix.lower()
    if suffix in (".html", ".htm", ".svg"):
        return html_loads(text)
    if suffix == ".css":
        return css_loads(text)
    return js_loads(text)


def external_loads(html: Path) -> list[str]:
    """Every load from another host in the site at `html`, as "file:line: what" (file relative
    to `html`), sorted; empty when the site is self-contained."""
    html = Path(html)
    if not html.is_dir():
        raise FileNotFoundError(f"{html}: no such folder; build the site first")
    found = []
    for path in sorted(html.rglob("*")):
        if path.suffix.lower() in SUFFIXES and path.is_file():
            rel = path.relative_to(html).as_posix()
            found += [f"{rel}:{line}: {what}" for line, what in file_loads(path)]
    return found
