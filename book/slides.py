"""A reveal.js slide deck of each executed notebook, that needs neither a kernel nor a network.

`write_slides` turns each executed notebook into `NN_name.slides.html` with nbconvert's
SlidesExporter, which follows the notebooks' own slide metadata (`slideshow.slide_type`: slide,
subslide, fragment, notes, skip; the setup cell and the solutions are `skip`). Every script,
stylesheet and font that a deck loads comes from the site's own `_static` folder (`assets`,
relative to the deck), never from another host:

    {assets}/reveal.js/                 the reveal.js npm package (dist/ and plugin/)
    {assets}/require.min.js             require.js, which loads reveal.js and the widget renderer
    {assets}/mathjax/tex-chtml.js       MathJax 3 (the npm package's es5/ folder, whole: it loads
                                        its fonts and extensions from beside this file)
    {assets}/html-manager/embed-amd.js  the widget renderer (@jupyter-widgets/html-manager's
                                        dist/ folder, whole: its icon fonts load from beside it)

nbconvert's reveal template loads jQuery (for its optional scrolling of tall slides) and
mermaid.js from CDNs, and its MathJax 2 set-up cannot run MathJax 3. The small template below
drops both scripts, sets up MathJax 3, and lets a slide taller than the deck scroll, in plain
JavaScript, instead of cutting it off. Two fixes for the widget renderer: it typesets HTML
widgets with MathJax 2's `MathJax.Hub.Queue`, which gets a stand-in that calls MathJax 3; and
it loads its icon fonts from the folder that require.js gives for its modules (by default the
deck's own, where they are not), so the deck maps those modules to the renderer's folder.
The theme is reveal.js's "white", whose fonts come with the package (most other themes
@import Google Fonts).

Before export, a deck's notebook loses what cannot work offline: the drawing pad (an ipycanvas
widget, whose code only a CDN has) becomes a short note, and markdown images from other hosts
(the Colab badge) become their alt text (the badge, a link, becomes a plain link).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from course_utils import env

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# Widget modules whose code no local file provides: their views cannot render in a deck.
UNRENDERABLE_MODULES = ("ipycanvas",)

DRAWING_PAD_NOTE = (
    "*The drawing pad is interactive: it works in JupyterLab or Colab, not in these slides.*"
)

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
{%- set widgets_dir = resources.widget_renderer_url.rpartition("/")[0] -%}
<script>
// The widget renderer defines its parts as AMD modules and loads its icon fonts from the folder
// that require.js gives for them: by default the deck's own folder. Point them at its folder.
require.config({paths: {
{%- for name in ["base", "base7", "controls", "controls7", "html-manager"] %}
  "@jupyter-widgets/{{ name }}": "{{ widgets_dir }}/{{ name }}",
{%- endfor %}
  "@jupyter-widgets/html-manager/dist/libembed-amd": "{{ widgets_dir }}/libembed-amd"
}});
</script>
{{ jupyter_widgets(resources.jupyter_widgets_base_url, resources.html_manager_semver_range,
                   resources.widget_renderer_url) }}
{%- endif -%}
{% endblock jupyter_widgets %}

{%- block html_head_js_mathjax -%}
<script>
(function () {
  // The widget renderer typesets an HTML widget with MathJax 2's MathJax.Hub.Queue(["Typeset",
  // MathJax.Hub, element]); MathJax 3 has no Hub, so this stands in for it.
  var waiting = [];
  function typeset(element) {
    if (window.MathJax && MathJax.typesetPromise) {
      MathJax.typesetPromise(element ? [element] : undefined).catch(console.error);
    } else {
      waiting.push(element);
    }
  }
  var hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var call = arguments[i];
        if (Array.isArray(call) && call[0] === "Typeset") typeset(call[2]);
      }
    }
  };
  window.bookMathJaxHub = hub;
  window.MathJax = {
    tex: {
      inlineMath: [['$', '$'], ['\\(', '\\)']],
      displayMath: [['$$', '$$'], ['\\[', '\\]']],
      processEscapes: true,
      processEnvironments: true,
      tags: 'ams'
    },
    options: {ignoreHtmlClass: 'tex2jax_ignore', processHtmlClass: 'tex2jax_process'},
    startup: {
      ready: function () {
        MathJax.startup.defaultReady();
        MathJax.Hub = MathJax.Hub || hub;
        MathJax.startup.promise.then(function () { waiting.splice(0).forEach(typeset); });
      }
    }
  };
}());
</script>
<script id="MathJax-script" src="{{ resources.mathjax_url }}"></script>
<script>if (window.MathJax && !MathJax.Hub) { MathJax.Hub = window.bookMathJaxHub; }</script>
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


def _source(cell: Mapping) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def _without_remote_images(markdown: str) -> str:
    """`markdown` with each image from another host replaced by its alt text (so a linked badge
    becomes a plain link)."""
    markdown = _REMOTE_IMAGE.sub(lambda m: m[1], markdown)

    def alt(match: re.Match) -> str:
        found = _ALT.search(match[0])
        return found[1] if found else ""

    return _REMOTE_IMG_TAG.sub(alt, markdown)


def _unrenderable_models(state: Mapping[str, Any], modules: Sequence[str]) -> set[str]:
    """The ids of the widget models from `modules`, and of every model that refers to one of
    them (a box holding the canvas, an output widget showing it), transitively."""
    gone = {model_id for model_id, model in state.items() if model.get("model_module") in modules}
    while True:
        more = {
            model_id
            for model_id, model in state.items()
            if model_id not in gone and any(g in json.dumps(model.get("state", {})) for g in gone)
        }
        if not more:
            return gone
        gone |= more


def deck_notebook(
    notebook: Mapping,
    *,
    modules: Sequence[str] = UNRENDERABLE_MODULES,
    note: str = DRAWING_PAD_NOTE,
) -> dict:
    """A copy of an executed `notebook` (its JSON, as a dict) ready for an offline deck.

    Each widget view from `modules` (the ipycanvas drawing pad), or that shows one, becomes a
    markdown output holding `note`, and its models leave the saved widget state, so that the
    widget renderer never asks a CDN for their code. Markdown images from other hosts become
    their alt text. Everything else is unchanged.
    """
    deck = copy.deepcopy(dict(notebook))
    widgets = deck.get("metadata", {}).get("widgets", {})
    state = widgets.get(WIDGET_STATE, {}).get("state", {})
    gone = _unrenderable_models(state, modules)
    for model_id in gone:
        del state[model_id]
    if WIDGET_STATE in widgets and not state:
        del deck["metadata"]["widgets"]  # nothing left to render: load no renderer at all
    for cell in deck["cells"]:
        if cell.get("cell_type") == "markdown":
            cell["source"] = _without_remote_images(_source(cell))
        outputs = cell.get("outputs", [])
        for k, output in enumerate(outputs):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is not None and view.get("model_id") in gone:
                outputs[k] = {
                    "output_type": "display_data",
                    "data": {"text/markdown": note, "text/plain": note},
                    "metadata": {},
                }
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
    config.SlidesExporter.require_js_url = f"{assets}/require.min.js"
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
            resources={"metadata": {"name": path.stem}},
        )
        dest = out / f"{path.stem}.slides.html"
        with env.atomic_file(dest, text=True) as f:
            f.write(body)
        written.append(dest)
    return written
