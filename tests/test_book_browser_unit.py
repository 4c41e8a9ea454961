"""book.browser on a tiny handmade site: it passes a clean one, and names each fault of a bad one.

The site is a few hand-written pages shaped like the real book's (myst-nb's .cell_output, MathJax's
mjx-container, html-manager's .widget-subarea, Sphinx's #search-results, reveal.js's
.reveal.ready), with stand-in scripts for search and the slide deck, so that no Sphinx build is
needed. Skipped, with the reason, only when Chromium is not installed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from book import browser

pytestmark = pytest.mark.skipif(
    not Path(browser.CHROMIUM).exists(),
    reason=f"Chromium is not installed at {browser.CHROMIUM} (apt-get install -y chromium); "
    "book.browser needs it",
)

REPO = "owner/course"
NAME = "01_tiny"
WORD = "zymurgically"  # in the notebook's text only: what the search looks for
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
MODEL = "m0"


def _notebook(math: str) -> dict:
    """The executed notebook: one image output, one widget with stored state, `math` in its text."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "widgets": {
                browser.WIDGET_STATE: {
                    "version_major": 2,
                    "version_minor": 0,
                    "state": {
                        MODEL: {
                            "model_module": "@jupyter-widgets/controls",
                            "model_name": "IntSliderModel",
                            "model_module_version": "2.0.0",
                            "state": {"_view_module": "@jupyter-widgets/controls"},
                        }
                    },
                }
            }
        },
        "cells": [
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": f"# Tiny\n\nA {WORD} small notebook, with math: {math}.",
            },
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": 1,
                "source": "plot()",
                "outputs": [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"image/png": "iVBOR...", "text/plain": "<Figure>"},
                    },
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {
                            browser.WIDGET_VIEW: {"model_id": MODEL, "version_major": 2},
                            "text/plain": "IntSlider(value=3)",
                        },
                    },
                ],
            },
        ],
    }


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Tiny</title>{head}</head>
<body>
<h1>Tiny</h1>
<p><a href="{colab}">Open in Colab</a> · <a href="../download/{name}.ipynb">Download</a>
 · <a href="../slides/{name}.slides.html">Slides</a></p>
<p>A {word} small notebook, with math: {math}.</p>
<div class="cell_output"><img src="../_images/plot.png" alt="plot"></div>
{widget}
{extra}
</body></html>
"""

WIDGET = """<div class="cell_output"><div class="widget-subarea">
<div class="jupyter-widgets widget-slider">k: 3</div></div>
<p><em>Interactive in JupyterLab or Colab:</em> here the widget shows its stored state.</p></div>"""

INDEX = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Home</title></head>
<body><h1>The course</h1><a href="notebooks/{name}.html">Tiny</a></body></html>
"""

# Stands in for Sphinx's search: lists the page when asked for its word.
SEARCH = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Search</title></head>
<body><div id="search-results"></div>
<script>
  const q = new URLSearchParams(location.search).get('q');
  setTimeout(() => {{
    const out = document.getElementById('search-results');
    const hit = '<ul class="search"><li><a href="notebooks/{name}.html">Tiny</a></li></ul>';
    if (q === {found!r}) out.innerHTML = hit;
    else out.innerText = 'Your search did not match any documents.';
  }}, 50);
</script></body></html>
"""

# Stands in for a reveal.js deck: .reveal.ready, and ArrowRight shows the next section.
DECK = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Deck</title></head>
<body><div class="reveal"><div class="slides">
<section class="present"><h1>One</h1></section><section><h1>Two</h1></section>
</div></div>
<script>
  document.querySelector('.reveal').classList.add('ready');
  document.addEventListener('keydown', e => {{
    if (!{advances} || e.key !== 'ArrowRight') return;
    const s = [...document.querySelectorAll('.slides section')];
    const i = s.findIndex(x => x.classList.contains('present'));
    if (i + 1 < s.length) {{ s[i].classList.remove('present'); s[i + 1].classList.add('present'); }}
  }});
</script></body></html>
"""


def make_site(root: Path, **faults) -> tuple[Path, Path]:
    """A tiny book in root/html, its executed notebook in root/executed; `faults` spoil it:
    remote_script, broken_image, raw_frac, wrong_colab, extra_output_image, no_widget,
    search_fails, deck_stuck."""
    html, executed = root / "html", root / "executed"
    for folder in ("notebooks", "_images", "download", "slides"):
        (html / folder).mkdir(parents=True)
    executed.mkdir()
    (executed / f"{NAME}.ipynb").write_text(
        json.dumps(_notebook(r"$\frac{a}{b}$")), encoding="utf-8"
    )
    (html / "_images" / "plot.png").write_bytes(PNG)
    (html / "download" / f"{NAME}.ipynb").write_text("{}", encoding="utf-8")

    head = extra = ""
    if faults.get("remote_script"):
        head += '<script src="https://cdn.example/x.js"></script>'
    if faults.get("broken_image"):
        extra += '<p><img src="../_images/nothere.png" alt="gone"></p>'
    if faults.get("extra_output_image"):
        extra += '<div class="cell_output"><img src="../_images/plot.png" alt="again"></div>'
    # Typeset math as MathJax leaves it, or the raw TeX a page shows when MathJax did not run.
    math = r"\(\frac{a}{b}\)" if faults.get("raw_frac") else "<mjx-container>a/b</mjx-container>"
    colab = f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/"
    colab += "02_other.ipynb" if faults.get("wrong_colab") else f"{NAME}.ipynb"
    page = PAGE.format(
        head=head,
        colab=colab,
        name=NAME,
        word=WORD,
        math=math,
        widget="" if faults.get("no_widget") else WIDGET,
        extra=extra,
    )
    (html / "notebooks" / f"{NAME}.html").write_text(page, encoding="utf-8")
    (html / "index.html").write_text(INDEX.format(name=NAME), encoding="utf-8")
    found = "nothing" if faults.get("search_fails") else WORD
    (html / "search.html").write_text(SEARCH.format(found=found, name=NAME), encoding="utf-8")
    advances = "false" if faults.get("deck_stuck") else "true"
    (html / "slides" / f"{NAME}.slides.html").write_text(
        DECK.format(advances=advances), encoding="utf-8"
    )
    return html, executed


def test_reads_what_a_page_should_show(tmp_path):
    _, executed = make_site(tmp_path)
    nb = browser.read_notebook(executed / f"{NAME}.ipynb")
    assert (nb.images, nb.math, nb.widgets) == (1, True, 1)
    assert "\\frac" in nb.tex
    assert browser.search_word([nb]) == (nb, WORD)


def test_a_clean_site_passes_in_both_modes(tmp_path):
    html, executed = make_site(tmp_path)
    shots = tmp_path / "shots"
    assert browser.check_site(html, executed, screenshots=shots, repo=REPO) == []
    taken = sorted(p.name for p in shots.glob("*.png"))
    for mode in ("http", "file"):
        assert f"{mode}_index.png" in taken
        assert f"{mode}_widgets_{NAME}.png" in taken
        assert f"{mode}_math_{NAME}.png" in taken
        assert f"{mode}_slide_{NAME}.png" in taken


@pytest.fixture(scope="module")
def bad_site(tmp_path_factory):
    """The problems check_site finds on a site with every fault, in both modes."""
    root = tmp_path_factory.mktemp("bad")
    html, executed = make_site(
        root,
        remote_script=True,
        broken_image=True,
        raw_frac=True,
        wrong_colab=True,
        extra_output_image=True,
        no_widget=True,
        search_fails=True,
        deck_stuck=True,
    )
    return browser.check_site(html, executed, repo=REPO, settle_s=2.0)


PAGE_NAME = f"notebooks/{NAME}.html"


@pytest.mark.parametrize("mode", ["http", "file"])
@pytest.mark.parametrize(
    "page, what",
    [
        (PAGE_NAME, "blocked: https://cdn.example/x.js"),
        (PAGE_NAME, "image broken: ../_images/nothere.png"),
        (PAGE_NAME, "missing: "),  # nothere.png, as a failed local request
        (PAGE_NAME, "raw TeX left in the text: \\frac"),
        (PAGE_NAME, "no typeset math"),
        (PAGE_NAME, "no 'Open in Colab' link to https://colab.research.google.com/github/"),
        (PAGE_NAME, "Colab link to another notebook"),
        (PAGE_NAME, "2 images among the cell outputs, but the executed notebook has 1"),
        (PAGE_NAME, "0 of the notebook's 1 widget views rendered"),
        (PAGE_NAME, "'interactive in jupyterlab or colab' note"),
        ("search.html", f"searching {WORD!r} did not list {PAGE_NAME}"),
        (f"slides/{NAME}.slides.html", "did not advance to its second slide"),
    ],
)
def test_each_fault_is_named_with_its_mode_and_page(bad_site, mode, page, what):
    prefix = f"{mode} {page}: "
    assert any(p.startswith(prefix) and what in p for p in bad_site), (
        f"no problem {prefix}...{what}... among:\n" + "\n".join(bad_site)
    )


def test_missing_names_the_local_file(bad_site):
    assert any("missing: " in p and "nothere.png" in p for p in bad_site)


def test_main_prints_the_table_and_fails(tmp_path, capsys):
    html, executed = make_site(tmp_path, raw_frac=True)
    code = browser.main([str(html), str(executed), "--mode", "file", "--repo", REPO])
    out = capsys.readouterr().out
    assert code == 1
    assert "file  notebooks/01_tiny.html" in out
    assert "raw TeX" in out
