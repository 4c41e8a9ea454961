"""A reveal.js slide deck of each executed notebook, that needs neither a kernel nor a network.

`write_slides` turns each executed notebook into `NN_name.slides.html` with nbconvert's
SlidesExporter, which follows the notebooks' own slide metadata (`slideshow.slide_type`: slide,
subslide, fragment, notes, skip; the setup cell and the solutions are `skip`). Every script,
stylesheet and font that a deck loads comes from the site's own `_static` folder (`assets`,
relative to the deck), never from another host:

    {assets}/reveal.js/                 the reveal.js npm package (dist/ and plugin/)
    {assets}/requirejs/require.js       require.js, which loads reveal.js and the widget renderer
    {assets}/widgets-local.js           points the renderer's modules (and fonts) at its folder
    {assets}/mathjax2-shim.js           MathJax 2's Hub calls (renderer, template) on MathJax 3
    {assets}/mathjax/tex-chtml.js       MathJax 3 (the npm package's es5/ folder, whole: it loads
                                        its fonts and extensions from beside this file)
    {assets}/html-manager/embed-amd.js  the widget renderer (@jupyter-widgets/html-manager's
                                        dist/ folder, whole: its icon fonts load from beside it)

nbconvert's reveal template loads jQuery (for its optional scrolling of tall slides) and
mermaid.js from CDNs, and its MathJax 2 set-up cannot run MathJax 3. The small template below
drops both scripts, sets up MathJax 3, and lets a slide taller than the deck scroll, in plain
JavaScript, instead of cutting it off. The widget renderer gets the site's two fixes, as the
book's pages do: a stand-in for MathJax 2's `MathJax.Hub` (mathjax2-shim.js), and its modules
mapped to its own folder, where its icon fonts are (widgets-local.js).
The theme is reveal.js's "white", whose fonts come with the package (most other themes
@import Google Fonts).

Before export, a deck's notebook loses what cannot work offline: the drawing pad (an ipycanvas
widget, whose code only a CDN has) becomes a short note, as on the book's pages, and markdown
images from other hosts (the Colab badge) become their alt text (the badge, a link, becomes a
plain link).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from book import source as _source
from course_utils import env

# Markdown images from another host: ![alt](http://...) or ![alt](https://... "title").
_REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?(?:https?:)?//[^)]*\)")
# HTML images from another host, in markdown cells.
_REMOTE_IMG_TAG = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>", re.IGNORECASE)
_ALT = re.compile(r"\balt\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)

# The deck template: nbconvert's reveal template, less its CDN-only parts, with MathJax 3.
TEMPLATE_NAME = "book_slides.html.j2"
TEMPLATE = r"""
{%- extends 'index.html.j2' -%}

{%- block html_head_js_jquery -%}{%- endblock html_head_js_jquery -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}

{% block jupyter_widgets %}
{%- if "widgets" in nb.metadata -%}
<script src="{{ resources.book_assets }}/widgets-local.js"></script>
{{ jupyter_widgets(resources.jupyter_widgets_base_url, resources.html_manager_semver_range,
                   resources.widget_renderer_url) }}
{%- endif -%}
{% endblock jupyter_widgets %}

{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {
    inlineMath: [['$', '$'], ['\\(', '\\)']],
    displayMath: [['$$', '$$'], ['\\[', '\\]']],
    processEscapes: true,
    processEnvironments: true,
    tags: 'ams'
  },
  options: {ignoreHtmlClass: 'tex2jax_ignore', processHtmlClass: 'tex2jax_process'}
};
</script>
<script id="MathJax-script" src="{{ resources.mathjax_url }}"></script>
<script src="{{ resources.book_assets }}/mathjax2-shim.js"></script>
{%- endblock html_head_js_mathjax -%}

{% block footer_js %}
<script>
require(
    {waitSeconds: 15},
    ["{{ reveal_url_prefix }}/dist/reveal.js", "{{ reveal_url_prefix }}/plugin/notes/notes.js"],
    function (Reveal, RevealNotes) {
        window.Reveal = Reveal;
        // A slide taller than the deck (a long output, a big figure) scrolls instead of being
        // cut off: nbconvert's own version of this needs jQuery.
        function scrollTall() {
            var slide = Reveal.getCurrentSlide();
            if (slide && slide.scrollHeight > {{ reveal_height }}) {
                slide.style.height = "{{ reveal_height }}px";
                slide.style.overflowY = "auto";
            }
        }
        Reveal.on("ready", scrollTall);
        Reveal.on("slidechanged", scrollTall);
        Reveal.initialize({
            controls: true,
            progress: true,
            history: true,
            transition: "{{ reveal_transition }}",
            slideNumber: "{{ reveal_number }}",
            plugins: [RevealNotes],
            width: {{ reveal_width }},
            height: {{ reveal_height }}
        });
    }
);
</script>
{% endblock footer_js %}
"""


def _without_remote_images(markdown: str) -> str:
    """`markdown` with each image from another host replaced by its alt text (so a linked badge
    becomes a plain link)."""
    markdown = _REMOTE_IMAGE.sub(lambda m: m[1], markdown)

    def alt(match: re.Match) -> str:
        found = _ALT.search(match[0])
        return found[1] if found else ""

    return _REMOTE_IMG_TAG.sub(alt, markdown)


def deck_notebook(notebook: Mapping) -> dict:
    """A copy of an executed `notebook` (its JSON, as a dict) ready for an offline deck.

    The widgets a static page cannot draw (the ipycanvas drawing pad) become a note and leave
    the saved state, so that the renderer never asks a CDN for their code, as on the book's
    pages (`book.stage.static_widgets`); markdown images from other hosts become their alt text;
    the "Solutions" heading is skipped, as the solutions are. Everything else is unchanged.
    """
    from book.stage import static_widgets
    from course_utils.exercises import is_solutions_heading

    deck = copy.deepcopy(dict(notebook))
    static_widgets(deck)
    for cell in deck["cells"]:
        if cell.get("cell_type") == "markdown":
            cell["source"] = _without_remote_images(_source(cell))
        if is_solutions_heading(cell):  # the solutions are skipped: no empty last slide for them
            cell.setdefault("metadata", {})["slideshow"] = {"slide_type": "skip"}
    return deck


def _exporter(assets: str):
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    assets = assets.rstrip("/")
    config = Config()
    config.SlidesExporter.reveal_url_prefix = f"{assets}/reveal.js"
    # "white" takes its fonts from the package; most other themes @import Google Fonts
    config.SlidesExporter.reveal_theme = "white"
    config.SlidesExporter.require_js_url = f"{assets}/requirejs/require.js"
    config.SlidesExporter.mathjax_url = f"{assets}/mathjax/tex-chtml.js"
    config.SlidesExporter.widget_renderer_url = f"{assets}/html-manager/embed-amd.js"
    # not loaded by the template below; set so that no CDN address is even written down
    config.SlidesExporter.jquery_url = ""
    config.SlidesExporter.mermaid_js_url = ""
    config.SlidesExporter.mermaid_layout_elk_js_url = ""
    config.SlidesExporter.jupyter_widgets_base_url = ""
    exporter = SlidesExporter(config=config, extra_loaders=[DictLoader({TEMPLATE_NAME: TEMPLATE})])
    exporter.template_file = TEMPLATE_NAME
    return exporter


def write_slides(executed: Sequence[Path], out: Path, *, assets: str = "../_static") -> list[Path]:
    """Write a reveal.js deck of each executed notebook into `out`, as `NN_name.slides.html`,
    and return the paths written, in the order given.

    `assets` is the site's `_static` folder as seen from `out` (the decks are in
    `_build/html/slides/`, so "../_static"); the module's docstring lists what it must hold.
    Each file is written to a temporary file in `out` and then renamed over the target.
    """
    import nbformat

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    exporter = _exporter(assets)
    written = []
    for path in executed:
        path = Path(path)
        deck = deck_notebook(json.loads(path.read_text(encoding="utf-8")))
        body, _ = exporter.from_notebook_node(
            nbformat.reads(json.dumps(deck), as_version=4),
            resources={"metadata": {"name": path.stem}, "book_assets": assets.rstrip("/")},
        )
        dest = out / f"{path.stem}.slides.html"
        with env.atomic_file(dest, text=True) as f:
            f.write(body)
        written.append(dest)
    return written
