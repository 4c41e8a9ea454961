"""Whether a built book may be published: every page is there, and none shows untrained weights.

`python -m book check-publishable _build` runs `main`, and the publishing workflow
(.github/workflows/book.yml) runs it between the build and the deploy: a non-zero exit stops
the deploy, so the published book stays as it was. Two things refuse a build:

- `incomplete`: something of the book is missing: the build folder, an executed notebook, a
  notebook's page, slide deck or student edition, the home or search page; or an executed
  notebook that was not run, or that shows an error.
- `untrained`: a place where the book says that a network runs with untrained weights, which
  happens when `cu.pretrained` could not get the real weights while the notebooks ran. The
  course says so in two phrases, "UNTRAINED WEIGHTS" (course_utils.weights, plots and widgets)
  and "UNTRAINED (random) weights" (the warning of `cu.pretrained`).

Where it looks, and why not everywhere:

- The executed notebooks' outputs (`_build/executed/*.ipynb`): stream text (warnings included),
  text, HTML, errors, every output's metadata (an image's alt text), and the widget state
  stored in the notebook. These are what the run printed, so any spelling counts, "untrained
  weights" in lower case included (the widgets' own warning).
- Every HTML file of the site (`_build/html`), pages and slide decks: their text, script
  contents (the widget state) and alt, title and aria-label attributes, in the two capitalised
  phrases only. The code a page shows is skipped: the notebooks' own code holds the phrase, in
  the line that prints it when the weights are missing. The prose may say "untrained weights"
  in lower case when it explains the warning, so lower case counts only in the outputs above.

Only the standard library: it runs without the course's dependencies.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path

from book import text as _text

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

# In what the run printed: any case (the widgets warn "untrained weights: ...").
OUTPUT_PHRASE = re.compile(r"untrained\s+(?:\(random\)\s+)?weights", re.IGNORECASE)
# In the site's HTML, which also holds the prose: the course's two capitalised warnings only.
PAGE_PHRASE = re.compile(r"UNTRAINED\s+(?:WEIGHTS|\(random\)\s+weights)")

# The elements that hold a cell's code: myst-nb's pages ("cell_input"), nbconvert's lab and
# reveal templates ("jp-InputArea"), its classic template ("input_area").
CODE_CLASSES = frozenset({"cell_input", "jp-InputArea", "input_area"})
ATTRIBUTES = ("alt", "title", "aria-label")
# Tags inside a line of text; every other tag separates words.
INLINE = frozenset("a abbr b code em i kbd mark s small span strong sub sup u var".split())
# Image data is base64, never text: not read.
BINARY_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

CONTEXT = 60  # characters shown on each side of a phrase found


def expected_notebooks(folder: Path = NOTEBOOKS) -> list[str]:
    """The names (without .ipynb) of the course's notebooks, which a complete book has."""
    return sorted(p.stem for p in Path(folder).glob("*.ipynb"))


def _snippet(text: str, match: re.Match) -> str:
    """The phrase found, with some text around it, on one line."""
    start, end = max(match.start() - CONTEXT, 0), match.end() + CONTEXT
    cut = " ".join(text[start:end].split())
    return ("…" if start else "") + cut + ("…" if end < len(text) else "")


def _found(text: str, phrase: re.Pattern) -> Iterator[str]:
    for match in phrase.finditer(text):
        yield _snippet(text, match)


def _strings(value) -> Iterator[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _output_texts(output: dict) -> Iterator[tuple[str, str]]:
    """(where, text) for every text one output holds."""
    kind = output.get("output_type")
    if kind == "stream":
        yield output.get("name", "stream"), _text(output.get("text", ""))
    elif kind == "error":
        yield "error", "\n".join([output.get("ename", ""), output.get("evalue", "")])
        yield "error", "\n".join(output.get("traceback", []))
    for mime, value in (output.get("data") or {}).items():
        if mime not in BINARY_TYPES:
            yield mime, "\n".join(_strings(value))
    for text in _strings(output.get("metadata") or {}):
        yield "metadata", text


def notebook_places(path: Path, name: str) -> list[str]:
    """Every place in the outputs and widget state of the executed notebook at `path` (shown
    as `name`) that says a network has untrained weights, as "name: cell N (where): …text…",
    cells counted from 1."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    places = []
    for k, cell in enumerate(notebook.get("cells", []), start=1):
        for output in cell.get("outputs", []):
            for where, text in _output_texts(output):
                places += [f"{name}: cell {k} ({where}): {s}" for s in _found(text, OUTPUT_PHRASE)]
    state = (notebook.get("metadata", {}).get("widgets") or {}).values()
    for text in _strings(list(state)):
        places += [f"{name}: widget state: {s}" for s in _found(text, OUTPUT_PHRASE)]
    return places


class _PageText(HTMLParser):
    """The text of an HTML page without the code it shows: data, script contents and a few
    attributes, with a space wherever a tag other than an inline one stands between them. A
    code element is a <div> whose class is in CODE_CLASSES; the divs inside it are counted so
    that the skip ends with its own end tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.code_depth = 0  # > 0 inside a code element: the divs still open there

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div" and self.code_depth:
            self.code_depth += 1
            return
        if self.code_depth:
            return
        values = dict(attrs)
        if tag == "div" and CODE_CLASSES & set((values.get("class") or "").split()):
            self.code_depth = 1
            return
        if tag not in INLINE:
            self.parts.append(" ")
        self.parts += [f" {values[a]} " for a in ATTRIBUTES if values.get(a)]

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.code_depth:  # <img ... />: never opens a code element
            values = dict(attrs)
            self.parts += [f" {values[a]} " for a in ATTRIBUTES if values.get(a)]

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.code_depth:
            self.code_depth -= 1
        elif not self.code_depth and tag not in INLINE:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.code_depth:
            self.parts.append(data)


def page_places(path: Path, name: str) -> list[str]:
    """Every place in the HTML file at `path` (shown as `name`), its code left out, that says
    "UNTRAINED WEIGHTS" or "UNTRAINED (random) weights", as "name: …text…"."""
    parser = _PageText()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return [f"{name}: {s}" for s in _found("".join(parser.parts), PAGE_PHRASE)]


def untrained(build: Path) -> list[str]:
    """Every place in the built book under `build` that says a network has untrained weights,
    each as "file: context" (file relative to `build`): the executed notebooks' outputs and
    widget state (_build/executed/*.ipynb), then every HTML file of the site (_build/html),
    without the code the pages show. [] when there is none (or nothing to look at: see
    `incomplete`)."""
    build = Path(build)
    places = []
    for path in sorted((build / "executed").glob("*.ipynb")):
        places += notebook_places(path, path.relative_to(build).as_posix())
    for path in sorted((build / "html").rglob("*.html")):
        places += page_places(path, path.relative_to(build).as_posix())
    return list(dict.fromkeys(places))  # each place once, in order


def _run_problems(path: Path, name: str) -> list[str]:
    """What shows that the executed notebook at `path` did not run, or failed."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return [f"{name}: not a notebook ({error}); build the book again"]
    code = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    problems = []
    if code and all(c.get("execution_count") is None for c in code):
        problems.append(f"{name}: no cell was run; build the book again")
    for k, cell in enumerate(notebook.get("cells", []), start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(
                    f"{name}: cell {k} failed ({output.get('ename')}: {output.get('evalue')})"
                )
    return problems


def incomplete(build: Path, names: Sequence[str] | None = None) -> list[str]:
    """What keeps the build under `build` from being the whole book of the notebooks `names`
    (default: the course's notebooks), each as one line naming the file: a missing executed
    notebook, page, slide deck or student edition, a missing home or search page, an executed
    notebook that was not run or shows an error. [] when nothing is missing."""
    build = Path(build)
    if not build.is_dir():
        return [f"{build}: no book here; build it first with `python -m book`"]
    names = expected_notebooks() if names is None else list(names)
    if not names:
        return [f"no notebooks found in {NOTEBOOKS}: nothing to check the book against"]
    wanted = ["html/index.html", "html/search.html"]
    for name in names:
        wanted += [
            f"executed/{name}.ipynb",
            f"html/notebooks/{name}.html",
            f"html/slides/{name}.slides.html",
            f"html/student/{name}.ipynb",
        ]
    # A folder that is missing entirely is named once, not once for each file it should hold.
    folders = sorted({str(Path(w).parent.as_posix()) for w in wanted}, key=len)
    gone: list[str] = []
    for folder in folders:  # parents first: html/ before html/notebooks/
        if not (build / folder).is_dir() and not any(folder.startswith(g + "/") for g in gone):
            gone.append(folder)
    problems = [f"{build.as_posix()}/{f}/: missing (the whole folder)" for f in gone]
    problems += [
        f"{build.as_posix()}/{w}: missing"
        for w in wanted
        if not (build / w).is_file() and not any(w.startswith(f + "/") for f in gone)
    ]
    for name in names:
        path = build / "executed" / f"{name}.ipynb"
        if path.is_file():
            problems += _run_problems(path, f"executed/{name}.ipynb")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m book check-publishable [BUILD]`: print why the book under BUILD (default
    _build) must not be published and return 1, or say that it may and return 0. `argv` is
    what follows `check-publishable` on the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m book check-publishable",
        description="Refuse to publish a book that is incomplete or shows untrained weights.",
    )
    parser.add_argument("build", nargs="?", default="_build", type=Path, help="default: _build")
    build = parser.parse_args(argv).build
    missing = incomplete(build)
    found = untrained(build) if build.is_dir() else []
    for line in missing + found:
        print(line, file=sys.stderr)
    if missing:
        print(
            "Not publishable: the book is incomplete (above). Build it again with "
            "`python -m book` and read its log.",
            file=sys.stderr,
        )
    if found:
        print(
            f"Not publishable: untrained weights in {len(found)} places (above): the build could "
            "not get the pretrained weights. Run `python -m course_utils.prefetch` where the "
            "book is built (it says what it could not get), then build the book again.",
            file=sys.stderr,
        )
    if missing or found:
        return 1
    pages = sum(1 for _ in (build / "html").rglob("*.html"))
    print(
        f"Publishable: {len(expected_notebooks())} notebooks, {pages} HTML files, "
        "no untrained weights."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
