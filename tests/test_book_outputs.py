"""The book's student editions and slide decks (book/student.py, book/slides.py; issue 24).

Student editions: for each of the nine committed notebooks, the edition is the notebook less
exactly its solution cells and its "Solutions" heading, with outputs cleared; the check that
says so is itself shown to fail on wrong editions. Slide decks: a small executed notebook with
slide metadata becomes a deck that loads nothing from another host and follows the metadata.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from book import slides, stage, student

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _text(cell) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


# --- student editions -----------------------------------------------------------------------


def _cleared(cell) -> dict:
    cell = copy.deepcopy(cell)
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None
    return cell


def _should_go(notebook) -> list[int]:
    """What an edition must lack, found here without the module's help: the cells tagged
    `solution`, and the markdown cell whose first line is the heading "## Solutions"."""
    return [
        i
        for i, cell in enumerate(notebook["cells"])
        if "solution" in cell["metadata"].get("tags", [])
        or (cell["cell_type"] == "markdown" and _text(cell).splitlines()[0] == "## Solutions")
    ]


def check_edition(original, edition, name: str) -> None:
    """The edition is `original` less exactly its solutions and their heading, outputs cleared."""
    gone = _should_go(original)
    headings = [
        i for i in gone if "solution" not in original["cells"][i]["metadata"].get("tags", [])
    ]
    assert len(headings) == 1 and len(gone) > 1, f"{name}: one Solutions heading, some solutions"
    assert edition["cells"] == [
        _cleared(cell) for i, cell in enumerate(original["cells"]) if i not in gone
    ], f"{name}: the edition is not the notebook less its solutions and their heading"
    assert student.removed_cells(original, edition) == gone, name
    for cell in edition["cells"]:
        assert "solution" not in cell["metadata"].get("tags", []), f"{name}: {_text(cell)[:60]}"
        assert not re.search(r"^#+\s*Solutions\s*$", _text(cell), re.M), f"{name}: a heading"
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, name
    rest = {k: v for k, v in original.items() if k != "cells"}
    assert {k: v for k, v in edition.items() if k != "cells"} == rest, f"{name}: metadata"


def test_each_student_edition_lacks_its_solutions_and_their_heading_and_nothing_else(tmp_path):
    written = student.write_student_editions(NOTEBOOKS, tmp_path / "student")
    assert len(NOTEBOOKS) == 9 and written == [tmp_path / "student" / p.name for p in NOTEBOOKS]
    assert sorted(p.name for p in (tmp_path / "student").iterdir()) == [p.name for p in NOTEBOOKS]
    for path, out in zip(NOTEBOOKS, written, strict=True):
        original = json.loads(path.read_text(encoding="utf-8"))
        check_edition(original, json.loads(out.read_text(encoding="utf-8")), path.name)


def test_an_edition_of_an_executed_notebook_has_no_outputs(tmp_path):
    """The committed notebooks have no outputs; one that has some (as if run and saved) loses
    them, and its execution counts, in its edition."""
    executed = json.loads(NOTEBOOKS[6].read_text(encoding="utf-8"))
    for n, cell in enumerate(c for c in executed["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = n + 1
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": f"out {n}\n"}]
    (tmp_path / "07_resnext.ipynb").write_text(json.dumps(executed), encoding="utf-8")
    (out,) = student.write_student_editions([tmp_path / "07_resnext.ipynb"], tmp_path / "student")
    check_edition(executed, json.loads(out.read_text(encoding="utf-8")), "07, executed")


def _wrong_editions(original):
    """Editions that a faulty implementation could write, each named for its fault."""
    right = student.student_notebook(original)
    solution = next(c for c in original["cells"] if "solution" in c["metadata"].get("tags", []))
    heading = next(c for c in original["cells"] if _text(c).startswith("## Solutions"))
    yield "a solution kept", {**right, "cells": [*right["cells"], _cleared(solution)]}
    yield "the heading kept", {**right, "cells": [*right["cells"], heading]}
    yield "another cell dropped", {**right, "cells": right["cells"][1:]}
    changed = copy.deepcopy(right)
    changed["cells"][0]["metadata"]["slideshow"] = {"slide_type": "skip"}
    yield "a cell's metadata changed", changed
    output = copy.deepcopy(right)
    code = next(c for c in output["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "left over\n"}]
    yield "an output left", output
    yield "the notebook's metadata dropped", {**right, "metadata": {}}


def test_the_edition_check_fails_on_wrong_editions():
    original = json.loads(NOTEBOOKS[6].read_text(encoding="utf-8"))
    check_edition(original, student.student_notebook(original), "right")
    for fault, edition in _wrong_editions(original):
        with pytest.raises((AssertionError, ValueError)):
            check_edition(original, edition, fault)
            pytest.fail(f"the check passed an edition with {fault}")


def test_removed_cells_refuses_an_edition_that_changes_or_moves_a_cell():
    original = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": s} for s in "abc"]}
    assert student.removed_cells(original, {"cells": original["cells"][::2]}) == [1]
    with pytest.raises(ValueError, match=r"cell 1 of the edition \(.b.\)"):
        student.removed_cells(original, {"cells": original["cells"][::-1]})


def test_a_solutions_heading_with_more_text_is_kept_with_its_text(tmp_path):
    """Only a cell that is just the heading (and one short paragraph) goes: text under a second
    heading is not the solutions', and is never dropped."""
    original = json.loads(NOTEBOOKS[6].read_text(encoding="utf-8"))
    k = next(i for i, c in enumerate(original["cells"]) if _text(c).startswith("## Solutions"))
    original["cells"][k]["source"] += "\n\n## Something else\n\nMore text."
    (tmp_path / "07.ipynb").write_text(json.dumps(original), encoding="utf-8")
    (written,) = student.write_student_editions([tmp_path / "07.ipynb"], tmp_path / "out")
    edition = json.loads(written.read_text(encoding="utf-8"))
    assert any("More text." in _text(c) for c in edition["cells"])
    assert not any("solution" in c["metadata"].get("tags", []) for c in edition["cells"])


# --- slide decks ----------------------------------------------------------------------------


def _png() -> str:
    """A 2x2 grey PNG, base64: an image output."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80\x80" for _ in range(2))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


def _cell(kind, source, slide=None, outputs=()):
    cell = {"cell_type": kind, "metadata": {}, "source": source}
    if slide:
        cell["metadata"]["slideshow"] = {"slide_type": slide}
    if kind == "code":
        cell.update(execution_count=1, outputs=list(outputs))
    return cell


def _model(module, name, state):
    return {"model_module": module, "model_module_version": "*", "model_name": name,
            "state": state}  # fmt: skip


def _executed_notebook() -> dict:
    """Two slides with math and an image, a skipped setup cell, a notes cell, the Colab badge,
    a slider (renders from its saved state), a drawing pad (cannot), and the Solutions."""
    view = "application/vnd.jupyter.widget-view+json"
    badge = (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/o/r/blob/main/notebooks/99_deck.ipynb)"
    )
    cells = [
        _cell("markdown", f"# First slide\n\n{badge}\n\nInline $\\frac{{a}}{{b}}$.", "slide"),
        _cell("code", "import course_utils  # setup", "skip",
              [{"output_type": "stream", "name": "stdout", "text": "SETUP-OUTPUT-SKIPPED\n"}]),
        _cell("code", "plot()", None,
              [{"output_type": "display_data", "metadata": {},
                "data": {"image/png": _png(), "text/plain": "<Figure>"}}]),
        _cell("markdown", "Say this aloud: SPEAKER-NOTE", "notes"),
        _cell("markdown", "## Second slide\n\n$$\\sum_i x_i^2$$", "slide"),
        _cell("code", "slider", None,
              [{"output_type": "display_data", "metadata": {},
                "data": {view: {"model_id": "slider1", "version_major": 2, "version_minor": 0},
                         "text/plain": "IntSlider(value=3)"}}]),
        _cell("code", "pad", None,
              [{"output_type": "display_data", "metadata": {},
                "data": {view: {"model_id": "box1", "version_major": 2, "version_minor": 0},
                         "text/plain": "VBox(children=(Canvas(),))"}}]),
        _cell("markdown", "## Solutions\n\nOpen a solution only after trying the exercise.",
              "slide"),
        _cell("code", "# @title Solution to exercise 1\n42", "skip",
              [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                "data": {"text/plain": "SOLUTION-OUTPUT-SKIPPED"}}]),
    ]  # fmt: skip
    state = {
        "slider1": _model("@jupyter-widgets/controls", "IntSliderModel", {"value": 3}),
        "canvas1": _model("ipycanvas", "CanvasModel", {"width": 280}),
        "box1": _model("@jupyter-widgets/controls", "VBoxModel",
                       {"children": ["IPY_MODEL_canvas1"]}),
    }  # fmt: skip
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "widgets": {
                stage.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}
            },
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    }


class _Page(HTMLParser):
    """What a deck loads (every src, and href outside <a>), its top-level sections, its CSS."""

    def __init__(self):
        super().__init__()
        self.loads, self.css, self.slides, self.depth = [], [], 0, 0
        self._style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "srcset", "data", "poster") + (("href",) if tag != "a" else ()):
            if attrs.get(name):
                self.loads.append((tag, attrs[name]))
        if attrs.get("style"):
            self.css.append(attrs["style"])
        if tag == "section":
            self.slides += self.depth == 0
            self.depth += 1
        self._style = tag == "style"

    def handle_endtag(self, tag):
        self.depth -= tag == "section"
        self._style = False

    def handle_data(self, data):
        if self._style:
            self.css.append(data)


def _remote(url: str) -> bool:
    return bool(re.match(r"\s*(https?:)?//", url, re.I))


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    folder = tmp_path_factory.mktemp("book")
    (folder / "executed").mkdir()
    executed = folder / "executed" / "99_deck.ipynb"
    executed.write_text(json.dumps(_executed_notebook()), encoding="utf-8")
    written = slides.write_slides([executed], folder / "slides")
    return folder, written


def test_a_deck_is_written_beside_no_temporary_file(deck):
    folder, written = deck
    assert written == [folder / "slides" / "99_deck.slides.html"]
    assert [p.name for p in (folder / "slides").iterdir()] == ["99_deck.slides.html"]


def test_a_deck_loads_reveal_mathjax_and_widgets_from_the_site_and_nothing_from_elsewhere(deck):
    html = deck[1][0].read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    loads = dict((url, tag) for tag, url in page.loads)
    assert loads["../_static/reveal.js/dist/reveal.css"] == "link"
    assert loads["../_static/reveal.js/dist/theme/white.css"] == "link"
    assert loads["../_static/requirejs/require.js"] == "script"
    assert loads["../_static/mathjax/tex-chtml.js"] == "script"
    assert '"../_static/reveal.js/dist/reveal.js"' in html
    assert "'../_static/html-manager/embed-amd.js'" in html
    # the renderer's icon fonts come from its own folder, not the deck's (widgets-local.js)
    assert loads["../_static/widgets-local.js"] == "script"
    assert html.index("widgets-local.js") < html.index("html-manager/embed-amd.js")
    assert [url for url in loads if _remote(url)] == []
    # CSS, its comments stripped: no @import or url() from another host
    css = re.sub(r"/\*.*?\*/", "", "\n".join(page.css), flags=re.S)
    assert not re.search(r"@import\s+(url\()?\s*[\"']?\s*(https?:)?//", css, re.I)
    assert not re.search(r"url\(\s*[\"']?\s*(https?:)?//", css, re.I)
    # scripts: no CDN left in them (nbconvert's defaults: unpkg, cdnjs, jsdelivr)
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
    assert not [s for s in scripts if re.search(r"https?://|unpkg|cdnjs|jsdelivr", s)]
    assert not [url for url in loads if "jquery" in url or "mermaid" in url]
    assert "import mermaid" not in html


def test_a_deck_follows_the_slide_metadata(deck):
    html = deck[1][0].read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    assert page.slides == 2  # the Solutions heading's slide is skipped with the solutions
    assert "First slide" in html and "Second slide" in html and "Open a solution" not in html
    assert "SETUP-OUTPUT-SKIPPED" not in html and "import course_utils" not in html
    assert "SOLUTION-OUTPUT-SKIPPED" not in html and "Solution to exercise" not in html
    assert re.search(r'<aside class="notes">.*SPEAKER-NOTE', html, re.S)
    assert html.count('src="data:image/png;base64,') == 1
    # math is left for MathJax to typeset in the browser, and MathJax 3 is set up for it
    assert r"\frac{a}{b}" in html and r"\sum_i x_i^2" in html
    assert "window.MathJax = {" in html and "MathJax.Hub.Config" not in html
    # the widget renderer's MathJax 2 call (MathJax.Hub.Queue) has a stand-in, after MathJax 3
    assert html.index("mathjax/tex-chtml.js") < html.index("_static/mathjax2-shim.js")


def test_a_deck_shows_a_note_for_the_drawing_pad_and_a_link_for_the_badge(deck):
    html = deck[1][0].read_text(encoding="utf-8")
    state = re.search(
        r'<script type="application/vnd.jupyter.widget-state\+json">\s*(.*?)\s*</script>',
        html,
        re.S,
    )
    # the pad, and the box that holds it, are gone; the slider stays
    assert set(json.loads(state[1])["state"]) == {"slider1"}
    assert "ipycanvas" not in html and "box1" not in html
    assert "Drawing needs a running notebook" in html  # book.stage's note, as on the pages
    assert "colab-badge.svg" not in html
    assert re.search(
        r'<a href="https://colab\.research\.google\.com/[^"]*">Open In Colab</a>', html
    )


def test_deck_notebook_leaves_the_executed_notebook_as_it_was():
    notebook = _executed_notebook()
    before = copy.deepcopy(notebook)
    deck = slides.deck_notebook(notebook)
    assert notebook == before and deck != before
    assert len(deck["cells"]) == len(before["cells"])
