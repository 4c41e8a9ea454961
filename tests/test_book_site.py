"""The book's site (issue 24): its contents list, the staging of executed notebooks, the Sphinx
build, and the scan for anything loaded from another host (book/contents.py, stage.py, site.py,
scan.py).

The staging and build tests use a small notebook made here, already "executed" (outputs written
in), so nothing runs a kernel: a title cell taken from a committed notebook, math, a figure, a
widget, a drawing pad (ipycanvas in a box), a Solutions heading and solution cells.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from book import contents, scan, stage

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
REPO, BRANCH = "someone/fork-of-course", "dev"
STEM = "07_resnext"
PNG = (  # a 1×1 image
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg=="
)

# ----------------------------------------------------------------------------- contents


def test_every_notebook_has_an_entry_and_every_entry_a_notebook():
    stems = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert stems, "no notebooks found"
    assert stems - set(contents.LECTURE) == set(), "notebooks missing from book/contents.py"
    assert set(contents.LECTURE) - stems == set(), "book/contents.py lists missing notebooks"


def test_entries_read_title_and_subtitle_from_the_notebooks():
    entries = contents.entries(sorted(NOTEBOOKS.glob("*.ipynb")))
    for e in entries:
        assert e.title and e.teaches and e.part and e.budget_s in (60, 180), e
        assert "\n" not in e.teaches and not e.teaches.startswith("*"), e
    by_stem = {e.stem: e for e in entries}
    assert by_stem["09_every_family_trained"].budget_s == 180
    assert by_stem["07_resnext"].teaches.startswith("Split the bottleneck")


def test_describe_names_the_notebook_without_a_subtitle(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Title\n\nNo subtitle."}]}
    path = tmp_path / "07_resnext.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(contents.ContentsError, match="07_resnext.ipynb"):
        contents.describe(path)


def test_a_notebook_not_listed_is_named(tmp_path):
    path = tmp_path / "10_new.ipynb"
    path.write_text(json.dumps({"cells": []}), encoding="utf-8")
    with pytest.raises(contents.ContentsError, match="10_new.ipynb.*LECTURE"):
        contents.entries([path])


# ----------------------------------------------------------------------------- scan


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_scan_finds_remote_loads(tmp_path):
    _write(
        tmp_path,
        "page.html",
        "<html><head>\n"
        '<script src="https://cdn.example.org/lib.js"></script>\n'
        '<link rel="stylesheet" href="//fonts.example.org/font.css">\n'
        "<style>@import url('https://fonts.googleapis.com/css?family=Roboto');</style>\n"
        "</head><body>\n"
        '<img src="http://images.example.org/a.png">\n'
        '<img srcset="local.png 1x, https://images.example.org/b.png 2x">\n'
        '<div style="background: url(https://images.example.org/c.png)"></div>\n'
        "</body></html>\n",
    )
    _write(
        tmp_path,
        "_static/site.css",
        "body { color: red; }\n"
        '@import "https://fonts.example.org/x.css";\n'
        "@font-face { font-family: F;\n"
        "  src: url(https://fonts.gstatic.com/f.woff2) format('woff2'); }\n",
    )
    _write(
        tmp_path,
        "_static/bundle.js",
        "var a = 1;\n"
        'importScripts("https://cdn.jsdelivr.net/npm/x/worker.js");\n'
        'script.src = "https://unpkg.com/thing@1/dist/index.js";\n'
        "var css = \"@import url('https://fonts.googleapis.com/css?family=Lato');\";\n",
    )
    found = scan.external_loads(tmp_path)
    text = "\n".join(found)
    assert "page.html:2: <script src> https://cdn.example.org/lib.js" in text
    assert "page.html:3: <link rel=stylesheet> //fonts.example.org/font.css" in text
    assert "page.html:4: <style>: @import https://fonts.googleapis.com" in text
    assert "page.html:6: <img src> http://images.example.org/a.png" in text
    assert "page.html:7: <img srcset> https://images.example.org/b.png" in text
    assert "page.html:8: style attribute: url() https://images.example.org/c.png" in text
    assert "_static/site.css:2: @import https://fonts.example.org/x.css" in text
    assert "_static/site.css:4: url() https://fonts.gstatic.com/f.woff2" in text
    assert "_static/bundle.js:2: importScripts: https://cdn.jsdelivr.net/npm/x/worker.js" in text
    assert "_static/bundle.js:3: assignment: https://unpkg.com/thing@1/dist/index.js" in text
    assert "_static/bundle.js:4: CSS @import in a string: https://fonts.googleapis.com" in text
    assert len(found) == 11, text


def test_scan_ignores_comments_links_and_dead_strings(tmp_path):
    _write(
        tmp_path,
        "page.html",
        "<html><body>\n"
        '<a href="https://github.com/cnn-course/image-classification">the repository</a>\n'
        '<!-- <script src="https://cdn.example.org/old.js"></script> -->\n'
        '<link rel="canonical" href="https://example.org/page.html">\n'
        '<img src="../_images/colab-badge.svg">\n'
        "<p>See https://example.org for more.</p>\n"
        "</body></html>\n",
    )
    _write(
        tmp_path,
        "_static/widgets.css",
        "/* @import url('https://fonts.googleapis.com/css?family=Roboto+Mono'); */\n"
        "@font-face { src: url(fonts/local.woff2); }\n"
        ".x { background: url(data:image/png;base64,AAAA); }\n",
    )
    _write(
        tmp_path,
        "_static/bundle.js",
        "// https://github.com/some/where explains this\n"
        'let cdn = "https://cdn.jsdelivr.net/npm/";\n'
        'var schema = {"$id": "http://json-schema.org/draft-07/schema#"};\n'
        "var css = \"/* @import url('https://fonts.googleapis.com/css?family=Roboto+Mono'); */\";\n"
        '// fetch("https://example.org/data.json")\n'
        'var accept = "*/*"; fetch("local/data.json");\n',
    )
    assert scan.external_loads(tmp_path) == []


def test_scan_reads_widget_state_html(tmp_path):
    state = {"state": {"m": {"state": {"value": '<img src="https://example.org/x.png">'}}}}
    _write(
        tmp_path,
        "w.html",
        '<script type="application/vnd.jupyter.widget-state+json">'
        + json.dumps(state)
        + "</script>\n",
    )
    assert scan.external_loads(tmp_path) == [
        "w.html:1: widget state: HTML in a string: https://example.org/x.png"
    ]


# ----------------------------------------------------------------------------- staging


def _widget_state() -> tuple[dict, str, str]:
    """Widget state as a kernel saves it: a slider, and a box holding a button and a canvas."""
    import ipywidgets as W
    from ipywidgets import embed

    slider = W.IntSlider(value=3, description="epochs")
    box = W.HBox([W.Button(description="clear")])
    data = embed.embed_data(views=[slider, box])
    state = data["manager_state"]
    canvas_id = "c0ffee00c0ffee00c0ffee00c0ffee00"
    state["state"][canvas_id] = {
        "model_name": "CanvasModel",
        "model_module": "ipycanvas",
        "model_module_version": "^0.13",
        "state": {"_view_module": "ipycanvas", "_view_name": "CanvasView", "width": 280},
    }
    slider_id, box_id = slider.model_id, box.model_id
    state["state"][box_id]["state"]["children"].append(f"IPY_MODEL_{canvas_id}")
    slider.close()
    box.close()
    return state, slider_id, box_id


def _view(model_id: str, text: str) -> dict:
    view = {"model_id": model_id, "version_major": 2, "version_minor": 0}
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {"application/vnd.jupyter.widget-view+json": view, "text/plain": text},
    }


def _md(text: str, tags=()) -> dict:
    return {"cell_type": "markdown", "metadata": {"tags": list(tags)}, "source": text}


def _code(source: str, outputs: list, tags=()) -> dict:
    return {
        "cell_type": "code",
        "metadata": {"tags": list(tags)},
        "execution_count": 1,
        "source": source,
        "outputs": outputs,
    }


def executed_notebook() -> dict:
    """A small executed notebook named like 07_resnext, whose first cell is the real one."""
    real = json.loads((NOTEBOOKS / f"{STEM}.ipynb").read_text(encoding="utf-8"))
    state, slider_id, box_id = _widget_state()
    figure = {
        "output_type": "display_data",
        "metadata": {},
        "data": {"image/png": PNG, "text/plain": "<Figure size 1x1>"},
    }
    cells = [
        copy.deepcopy(real["cells"][0]),
        _md("## 1. Math\n\nThe ratio $\\frac{a}{b}$ and\n\n$$\\sum_i x_i^2$$\n\nquetzalcoatl."),
        _code("plot()", [figure]),
        _code("cu.widgets.slider()", [_view(slider_id, "Slider (a widget)")]),
        _code("cu.widgets.drawing_pad(model)", [_view(box_id, "Drawing pad (a widget)")]),
        _md("## Solutions\n\nOpen a solution only after trying the exercise."),
        _code("# @title Solution to exercise 1\nanswer = 42", [], tags=["solution"]),
        _md("**Solution to exercise 2.** Because of the bottleneck.", tags=["solution"]),
    ]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "widgets": {"application/vnd.jupyter.widget-state+json": state},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_stage_notebook_changes_only_what_the_page_needs():
    nb = executed_notebook()
    page = stage.stage_notebook(nb, STEM, repo=REPO, branch=BRANCH, path=Path("x.ipynb"))
    first = page["cells"][0]["source"]
    assert "https://colab.research.google.com/assets/colab-badge.svg" not in first
    assert "](../colab-badge.svg)" in first
    colab = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{STEM}.ipynb"
    assert first.count(colab) == 2  # the badge's link and "Open in Colab"
    assert f"https://colab.research.google.com/github/{REPO}/blob/student/{STEM}.ipynb" in first
    assert f'href="../download/{STEM}.ipynb"' in first
    assert f'href="../slides/{STEM}.slides.html"' in first
    assert "cnn-course/image-classification" not in first

    code_solution, md_solution = page["cells"][6], page["cells"][7]
    assert "hide-cell" in code_solution["metadata"]["tags"]
    assert md_solution["source"].startswith("<details") and "open" not in md_solution["source"][:60]
    assert page["cells"][5]["source"].startswith("## Solutions")

    slider_out, pad_out = page["cells"][3]["outputs"], page["cells"][4]["outputs"]
    assert "application/vnd.jupyter.widget-view+json" in slider_out[0]["data"]
    assert "Interactive in JupyterLab or Colab" in slider_out[1]["data"]["text/html"]
    assert len(pad_out) == 1
    assert "application/vnd.jupyter.widget-view+json" not in pad_out[0]["data"]
    assert "Drawing pad" in pad_out[0]["data"]["text/html"]
    kept = page["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert all(m["model_module"].startswith("@jupyter-widgets/") for m in kept.values())
    assert "ipycanvas" not in json.dumps(page["metadata"])
    assert nb["cells"][0]["source"] != first, "stage_notebook must not change its argument"


def test_stage_refuses_to_empty_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me", encoding="utf-8")
    executed = tmp_path / "exec" / f"{STEM}.ipynb"
    executed.parent.mkdir()
    executed.write_text(json.dumps(executed_notebook()), encoding="utf-8")
    with pytest.raises(stage.StageError, match="not made by book/stage.py"):
        stage.stage([executed], tmp_path, repo=REPO, branch=BRANCH)
    assert (tmp_path / "precious.txt").exists()


# ----------------------------------------------------------------------------- the site


def _can_build() -> str | None:
    for module in ("sphinx", "myst_nb", "sphinx_book_theme"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -r book/requirements.txt)"
    if not (ROOT / "book" / "node_modules").exists() and shutil.which("npm") is None:
        return "book/node_modules is missing and npm is not installed"
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    reason = _can_build()
    if reason:
        pytest.skip(reason)
    from book.site import build_site

    folder = tmp_path_factory.mktemp("book")
    executed = folder / "executed" / f"{STEM}.ipynb"
    executed.parent.mkdir()
    executed.write_text(json.dumps(executed_notebook()), encoding="utf-8")
    stage.stage([executed], folder / "src", repo=REPO, branch=BRANCH, measured={STEM: 7.4})
    build_site(folder / "src", folder / "html")
    return folder / "html"


def test_site_has_the_pages_and_the_download(site):
    assert (site / "index.html").exists() and (site / "search.html").exists()
    page = (site / "notebooks" / f"{STEM}.html").read_text(encoding="utf-8")
    assert "quetzalcoatl" in (site / "searchindex.js").read_text(encoding="utf-8")
    download = site / "download" / f"{STEM}.ipynb"
    assert download.read_bytes() == (NOTEBOOKS / f"{STEM}.ipynb").read_bytes()
    assert f'href="../download/{STEM}.ipynb"' in page
    home = (site / "index.html").read_text(encoding="utf-8")
    assert f'href="notebooks/{STEM}.html"' in home
    assert (
        "Split the bottleneck" in home
        and "at most 60 s" in home
        and "its run for this book: 7 s" in home
    )
    assert "ResNeXt" in home and f'href="slides/{STEM}.slides.html"' in home


def test_site_folds_solutions_closed(site):
    page = (site / "notebooks" / f"{STEM}.html").read_text(encoding="utf-8")
    details = re.findall(r"<details[^>]*>", page)
    assert len(details) == 2, details
    assert not any(re.search(r"\bopen\b", d) for d in details)
    solutions = page[page.index('id="solutions"') :]
    assert "Solution to exercise 1" in solutions and "Solution to exercise 2" in solutions
    assert solutions.index("<details") < solutions.index("Solution to exercise 1")
    # each fold says which exercise it answers
    assert "Show the solution to exercise 1" in solutions
    assert "Show the solution to exercise 2" in solutions


def test_site_badge_links_and_widgets(site):
    page = (site / "notebooks" / f"{STEM}.html").read_text(encoding="utf-8")
    assert re.search(r'<img alt="Open In Colab" src="../_images/colab-badge[^"]*\.svg"', page)
    colab = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{STEM}.ipynb"
    assert f'class="book-colab" href="{colab}"' in page
    assert "ipycanvas" not in page
    assert "Drawing pad." in page and "Interactive in JupyterLab or Colab" in page
    assert 'src="../_static/requirejs/require.js' in page
    assert 'src="../_static/html-manager/embed-amd.js' in page
    assert 'src="../_static/mathjax/tex-chtml.js' in page
    for asset in ("mathjax/tex-chtml.js", "requirejs/require.js", "html-manager/embed-amd.js",
                  "reveal.js/dist/reveal.js", "reveal.js/plugin/notes/notes.js"):  # fmt: skip
        assert (site / "_static" / asset).exists(), asset


def test_site_loads_nothing_from_another_host(site):
    assert scan.external_loads(site) == []


def test_a_sphinx_warning_fails_the_build_and_is_shown(tmp_path):
    reason = _can_build()
    if reason:
        pytest.skip(reason)
    from book.site import SiteError, build_site

    executed = tmp_path / "executed" / f"{STEM}.ipynb"
    executed.parent.mkdir()
    executed.write_text(json.dumps(executed_notebook()), encoding="utf-8")
    stage.stage([executed], tmp_path / "src", repo=REPO, branch=BRANCH)
    with open(tmp_path / "src" / "index.md", "a", encoding="utf-8") as f:
        f.write("\nSee {doc}`notebooks/no_such_page`.\n")
    with pytest.raises(SiteError, match=r"(?s)src: sphinx-build failed.*no_such_page"):
        build_site(tmp_path / "src", tmp_path / "html")
