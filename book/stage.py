"""Stage the executed notebooks as the book's Sphinx source folder (issue 24).

`stage(executed, src, repo=..., branch=...)` writes, into `src`:

- conf.py (a copy of book/conf.py) and _static/ (book/static: the local Colab badge);
- index.md, the home page: each notebook's title (a link to its page), what it teaches (its
  italic subtitle, read from the notebook), its time budget, the lecture's part it follows, and
  links to its slide deck, its student edition and its download;
- notebooks/NN_name.ipynb, a copy of each executed notebook, changed only for the web page:
  the Colab badge's image is the local one and its link follows `repo` and `branch`; under the
  badge, links to open the notebook in Colab, to open its student edition in Colab, to download
  it and to its slides; solution cells (tag `solution`) folded, closed until opened, under a
  "Solutions" heading that stays visible; widget outputs marked "Interactive in JupyterLab or
  Colab"; widgets that the static renderer cannot draw (any module but @jupyter-widgets/base,
  controls and output: the drawing pad's ipycanvas) replaced by a note, and their state
  removed, so that no page tries to load their code from another host;
- extra/download/NN_name.ipynb: the committed notebook (from notebooks/, unexecuted), which
  Sphinx copies to the site's download/ folder (conf.py: html_extra_path).

Links from the site: slides/NN_name.slides.html and student/NN_name.ipynb are written beside the
site by book/slides.py and book/student.py; the student edition in Colab is read from the
`student` branch, where the publishing workflow pushes it.
"""

from __future__ import annotations

import copy
import html
import json
import re
import shutil
from pathlib import Path

from book import contents
from book import text as _text
from course_utils import env

BOOK = Path(__file__).resolve().parent
REPO_ROOT = BOOK.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
MARKER = ".book-src"  # written into src, so that stage only ever empties a folder it made

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The widget modules that html-manager's embed-amd.js bundles (ipywidgets 7 and 8): any other
# module would be fetched with require.js, from a CDN by default.
RENDERABLE_MODULES = {
    "@jupyter-widgets/base",
    "@jupyter-widgets/controls",
    "@jupyter-widgets/output",
}
BADGE = "colab-badge.svg"
STUDENT_BRANCH = "student"
TITLE = "Networks for image classification"

WIDGET_NOTE = (
    '<p class="book-widget-note"><em>Interactive in JupyterLab or Colab:</em> '
    "here the widget shows the state it had when the notebook ran.</p>"
)
CANVAS_NOTE = (
    '<div class="book-widget-note book-canvas-note"><p><strong>Drawing pad.</strong> '
    "Drawing needs a running notebook, so it cannot work on this page. "
    "<em>Interactive in JupyterLab or Colab:</em> open the notebook there, draw a digit with the "
    "mouse, and watch LeNet5's ten probabilities follow.</p></div>"
)


class StageError(RuntimeError):
    """The book's sources could not be staged; the message names the file and what to do."""


# ----------------------------------------------------------------------------- links


def colab_url(repo: str, branch: str, stem: str) -> str:
    """Colab's page for the instructor's notebook `stem` on `branch` of GitHub `repo`."""
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{stem}.ipynb"


def student_colab_url(repo: str, stem: str) -> str:
    """Colab's page for the student edition of `stem` (the `student` branch's root)."""
    return f"https://colab.research.google.com/github/{repo}/blob/{STUDENT_BRANCH}/{stem}.ipynb"


def _links_html(stem: str, repo: str, branch: str, prefix: str) -> str:
    """The row of links under a notebook's title; `prefix` leads from the page to the site root."""
    links = [
        ("book-colab", colab_url(repo, branch, stem), "Open in Colab"),
        ("book-student-colab", student_colab_url(repo, stem), "Open the student edition in Colab"),
        ("book-download", f"{prefix}download/{stem}.ipynb", "Download this notebook"),
        ("book-slides", f"{prefix}slides/{stem}.slides.html", "Slides"),
    ]
    items = " · ".join(
        f'<a class="{cls}" href="{html.escape(url)}"'
        + (f' download="{stem}.ipynb"' if cls == "book-download" else "")
        + f">{text}</a>"
        for cls, url, text in links
    )
    return f'<p class="book-links">{items}</p>'


# ----------------------------------------------------------------------------- cells


BADGE_IMAGE = re.compile(
    r"!\[([^\]]*)\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)"
)
COLAB_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/[^)\s]+?/notebooks/(?P<stem>[\w.-]+)\.ipynb"
)


def _first_cell(cell: dict, stem: str, repo: str, branch: str, path: Path) -> dict:
    """The title cell with the local badge, the badge's link on `repo`/`branch`, and the links."""
    text = _text(cell["source"])
    text, badges = BADGE_IMAGE.subn(lambda m: f"![{m.group(1)}](../{BADGE})", text)
    if badges != 1:
        raise StageError(
            f"{path}: expected one Colab badge image in the first cell, found {badges}; "
            "the notebooks' first cell carries the badge (DESIGN.md, 'The notebooks')"
        )
    text = COLAB_LINK.sub(lambda m: colab_url(repo, branch, m.group("stem")), text)
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if f"../{BADGE}" in line)
    lines[at + 1 : at + 1] = ["", _links_html(stem, repo, branch, "../"), ""]
    cell = copy.deepcopy(cell)
    cell["source"] = "\n".join(lines)
    return cell


_EXERCISE = re.compile(r"Solution to exercise (\d+)")


def _fold_solution(cell: dict) -> dict:
    """A solution cell, folded and closed: myst-nb's hide-cell for code; <details> for markdown.
    The fold says which exercise it answers ("Show the solution to exercise 3"), as the cell's
    title (`# @title Solution to exercise 3`, or its bold first words) says."""
    cell = copy.deepcopy(cell)
    number = _EXERCISE.search(_text(cell["source"])[:200])
    which = f" to exercise {number[1]}" if number else ""
    if cell["cell_type"] == "code":
        tags = cell["metadata"].setdefault("tags", [])
        if "hide-cell" not in tags:
            tags.append("hide-cell")
        cell["metadata"]["mystnb"] = {
            "code_prompt_show": f"Show the solution{which}",
            "code_prompt_hide": f"Hide the solution{which}",
        }
    elif cell["cell_type"] == "markdown":
        cell["source"] = (
            '<details class="admonition hide above-input book-solution">\n'
            '<summary aria-label="Toggle hidden content">\n'
            f'<p class="collapsed admonition-title">Show the solution{which}</p>\n'
            f'<p class="expanded admonition-title">Hide the solution{which}</p>\n'
            "</summary>\n\n" + _text(cell["source"]).strip("\n") + "\n\n</details>"
        )
    return cell


# ----------------------------------------------------------------------------- widgets


def _refs(value) -> set[str]:
    """Model ids that a widget's state refers to ("IPY_MODEL_<id>"), at any depth."""
    found: set[str] = set()
    if isinstance(value, str):
        if value.startswith("IPY_MODEL_"):
            found.add(value[len("IPY_MODEL_") :])
    elif isinstance(value, dict):
        for v in value.values():
            found |= _refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= _refs(v)
    return found


def _unrenderable(state: dict) -> set[str]:
    """Models the static renderer cannot draw: those of another module than html-manager's, and
    every model that refers to one of them (a box holding a canvas), or to a model not saved."""
    bad = {
        mid
        for mid, model in state.items()
        if model.get("model_module") not in RENDERABLE_MODULES
        or model.get("state", {}).get("_view_module", "@jupyter-widgets/base")
        not in RENDERABLE_MODULES
    }
    refs = {mid: _refs(model.get("state", {})) for mid, model in state.items()}
    changed = True
    while changed:
        changed = False
        for mid, targets in refs.items():
            if mid not in bad and any(t in bad or t not in state for t in targets):
                bad.add(mid)
                changed = True
    return bad


def _html_output(note: str) -> dict:
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {"text/html": note, "text/plain": re.sub(r"<[^>]+>", "", note)},
    }


def static_widgets(nb: dict) -> None:
    """Change the notebook `nb` (its JSON, in place) for a static page: replace the outputs of
    widgets that html-manager cannot render (another module than @jupyter-widgets/base, controls
    or output, such as the drawing pad's ipycanvas, or a model not saved) by a note, remove their
    state, and put "Interactive in JupyterLab or Colab" beside every widget that stays. The slide
    decks can use it too."""
    meta = nb.get("metadata", {}).get("widgets", {})
    state = meta.get(WIDGET_STATE, {}).get("state", {})
    bad = _unrenderable(state)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(out)
                continue
            model_id = view.get("model_id")
            if model_id in bad or model_id not in state:
                canvas = model_id in state and _holds_canvas(state, model_id)
                note = CANVAS_NOTE if canvas else _missing_note(state, model_id)
                outputs.append(_html_output(note))
            else:
                outputs.append(out)
                outputs.append(_html_output(WIDGET_NOTE))
        cell["outputs"] = outputs
    for model_id in bad:
        del state[model_id]
    if meta and not state:
        del nb["metadata"]["widgets"]


def _holds_canvas(state: dict, model_id: str) -> bool:
    seen, todo = set(), [model_id]
    while todo:
        mid = todo.pop()
        if mid in seen or mid not in state:
            continue
        seen.add(mid)
        if state[mid].get("model_module") == "ipycanvas":
            return True
        todo.extend(_refs(state[mid].get("state", {})))
    return False


def _missing_note(state: dict, model_id: str) -> str:
    modules = {m.get("model_module", "?") for m in state.values()} - RENDERABLE_MODULES
    modules = sorted(modules) or ["a live kernel"]
    return (
        '<p class="book-widget-note"><em>Interactive in JupyterLab or Colab:</em> this widget '
        f"needs {html.escape(', '.join(modules))}, which a static page cannot run.</p>"
    )


# ----------------------------------------------------------------------------- files


def _write(path: Path, content: str) -> None:
    """Write `content` to `path` through a temporary file in its folder (env.atomic_file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with env.atomic_file(path, text=True) as f:
        f.write(content)


def _copy(source: Path, dest: Path) -> None:
    """Copy `source` to `dest` through a temporary file in its folder (env.atomic_file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as original, env.atomic_file(dest) as f:
        shutil.copyfileobj(original, f)


def _fresh(src: Path) -> None:
    """Empty `src` if stage made it (it holds MARKER); refuse to empty any other folder."""
    if src.exists():
        if not (src / MARKER).exists() and any(src.iterdir()):
            raise StageError(
                f"{src}: not empty and not made by book/stage.py (no {MARKER} in it); "
                "pass an empty or new folder, such as _build/src"
            )
        shutil.rmtree(src)
    src.mkdir(parents=True)
    (src / MARKER).write_text("staged by book/stage.py; emptied at each build\n", encoding="utf-8")


def stage_notebook(nb: dict, stem: str, *, repo: str, branch: str, path: Path) -> dict:
    """The executed notebook `nb` (its JSON) as its web page shows it; `path` names it in errors."""
    nb = copy.deepcopy(nb)
    if not nb.get("cells"):
        raise StageError(f"{path}: the notebook has no cells")
    nb["cells"][0] = _first_cell(nb["cells"][0], stem, repo, branch, path)
    nb["cells"] = [
        _fold_solution(c) if "solution" in c.get("metadata", {}).get("tags", []) else c
        for c in nb["cells"]
    ]
    static_widgets(nb)
    return nb


def _budget(entry: contents.Entry, measured: dict[str, float] | None) -> str:
    text = f"at most {entry.budget_s} s on 2 CPU cores"
    if measured and entry.stem in measured:
        text += f" (its run for this book: {measured[entry.stem]:.0f} s, kernel start included)"
    return text


def _index(entries: list[contents.Entry], repo: str, measured: dict[str, float] | None) -> str:
    lines = [
        f"# {TITLE}",
        "",
        "The course's notebooks, executed, with their figures and outputs. Each page links to the",
        "notebook in Colab, to its student edition (no solutions, no outputs), to its download",
        "and to its slides. The widgets show the state they had when the notebook ran: they are",
        "interactive in JupyterLab or Colab.",
        "",
        "```{toctree}",
        ":hidden:",
        ":maxdepth: 1",
        "",
        *[f"notebooks/{e.stem}" for e in entries],
        "```",
        "",
    ]
    for e in entries:
        number = e.stem.split("_", 1)[0]
        lines += [
            f"## {number}. [{e.title}](notebooks/{e.stem}.ipynb)",
            "",
            f"*{e.teaches}*",
            "",
            f"- **Follows the lecture's part:** {e.part}",
            f"- **Time budget:** {_budget(e, measured)}",
            f'- <a class="book-slides" href="slides/{e.stem}.slides.html">Slides</a> · '
            f'<a class="book-student" href="student/{e.stem}.ipynb" download="{e.stem}.ipynb">'
            "Student edition</a> "
            f'(<a class="book-student-colab" href="{html.escape(student_colab_url(repo, e.stem))}">'
            "open it in Colab</a>) · "
            f'<a class="book-download" href="download/{e.stem}.ipynb" download="{e.stem}.ipynb">'
            "Download the notebook</a>",
            "",
        ]
    return "\n".join(lines)


def stage(
    executed: list[Path],
    src: Path,
    *,
    repo: str,
    branch: str,
    measured: dict[str, float] | None = None,
) -> None:
    """Write the book's Sphinx source folder `src` from the executed notebooks `executed`.

    `repo` ("owner/name") and `branch` make the Colab links; `measured` (notebook stem -> seconds)
    adds each notebook's measured run time beside its budget on the home page. `src` is emptied
    first, if stage made it. The committed notebook of each stem (notebooks/NN_name.ipynb) becomes
    its download.
    """
    src = Path(src)
    if not executed:
        raise StageError("no executed notebooks to stage: execute notebooks/*.ipynb first")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise StageError(f"repo {repo!r}: expected 'owner/name', as on GitHub")
    executed = sorted((Path(p) for p in executed), key=lambda p: p.name)
    entries = contents.entries(executed)
    _fresh(src)
    _copy(BOOK / "conf.py", src / "conf.py")
    for asset in sorted((BOOK / "static").iterdir()):
        if asset.is_file():
            _copy(asset, src / "_static" / asset.name)
    _copy(BOOK / "static" / BADGE, src / BADGE)
    for path in executed:
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise StageError(f"{path}: cannot read the executed notebook ({e})") from e
        page = stage_notebook(nb, path.stem, repo=repo, branch=branch, path=path)
        _write(src / "notebooks" / path.name, json.dumps(page, indent=1, ensure_ascii=False) + "\n")
        committed = NOTEBOOKS / path.name
        if not committed.exists():
            raise StageError(
                f"{committed}: missing; each executed notebook's download is its committed notebook"
            )
        _copy(committed, src / "extra" / "download" / path.name)
    _write(src / "index.md", _index(entries, repo, measured))
