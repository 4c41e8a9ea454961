"""The book, built as README's command builds it (`python -m book`), into _build/.

This is also where the test suite runs every notebook in the student's own versions: the build
executes each one headless, with the inline backend, every cell under a time limit (nbval runs
them again in Colab's versions, .ci/run). Then the site is checked as a reader gets it: built
with warnings as errors, nothing loaded from another host, every page opened in Chromium with
the network cut, over http:// and from file://, and the student editions and slide decks that
the same command writes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from book.__main__ import build
from book.execute import NOTEBOOKS, ROOT, BookError, execute, execute_all

BUILD = ROOT / "_build"
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def executed():
    """Every notebook executed as the book executes it (reused while nothing changed)."""
    return execute_all(sorted(NOTEBOOKS.glob("*.ipynb")), BUILD / "executed")


@pytest.fixture(scope="module")
def site(executed):
    """The whole book, built once for this file. Its assets come from npm (book/package.json)."""
    if not (ROOT / "book" / "node_modules").is_dir() and not shutil.which("npm"):
        pytest.skip("the book's scripts come from npm, and npm is not installed here")
    return build(BUILD)


def test_every_notebook_runs_headless_and_its_copy_keeps_figures_and_widgets(executed):
    for name in NAMES:
        nb = nbformat.read(BUILD / "executed" / f"{name}.ipynb", as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], name
        assert any("image/png" in o.get("data", {}) for o in outputs), f"{name}: no figure"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), f"{name}: a cell did not run"
        views = [
            o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        if views:  # the widgets' state, saved for the page to draw them
            state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
            for view in views:
                model = view.data["application/vnd.jupyter.widget-view+json"]["model_id"]
                assert model in state, f"{name}: widget {model} without its state"


def test_one_page_per_notebook_plus_the_home_page_and_search(site):
    pages = sorted(p.stem for p in (site / "notebooks").glob("*.html"))
    assert pages == NAMES
    assert (site / "index.html").is_file() and (site / "search.html").is_file()
    assert (site / "searchindex.js").is_file()
    home = (site / "index.html").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"notebooks/{name}.html" in home, f"the home page does not list {name}"


def test_nothing_on_the_site_is_loaded_from_another_host(site):
    from book.scan import external_loads

    assert external_loads(site) == []


def test_every_page_works_offline_in_chromium_over_http_and_from_file(site):
    if not Path("/usr/bin/chromium").exists() and not shutil.which("chromium"):
        pytest.skip("no Chromium here (apt-get install chromium)")
    from book.browser import check_site

    problems = check_site(site, BUILD / "executed", screenshots=BUILD / "screenshots")
    assert problems == [], "\n".join(problems)
    assert len(list((BUILD / "screenshots").glob("*.png"))) >= 3


def test_the_student_editions_are_the_notebooks_without_their_solutions(site):
    from course_utils.exercises import is_solution

    for name in NAMES:
        original = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
        edition = json.loads((site / "student" / f"{name}.ipynb").read_text(encoding="utf-8"))
        kept = [c for c in original["cells"] if not is_solution(c) and not _solutions_heading(c)]
        assert [c["source"] for c in edition["cells"]] == [c["source"] for c in kept], name
        assert len(kept) < len(original["cells"]), f"{name}: no solution removed"
        assert not any(c.get("outputs") for c in edition["cells"]), name


def _solutions_heading(cell) -> bool:
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    return cell["cell_type"] == "markdown" and source.startswith("## Solutions\n")


def test_every_notebook_is_also_a_slide_deck_that_loads_its_reveal_js_locally(site):
    for name in NAMES:
        deck = (site / "slides" / f"{name}.slides.html").read_text(encoding="utf-8")
        assert "reveal.js" in deck and "<section" in deck, name
    assert (site / "_static").is_dir()


def test_an_offline_book_says_its_weights_are_untrained_and_is_not_published(site):
    """Here (no network) the pretrained weights cannot be had: the publishing check refuses."""
    result = subprocess.run(
        [sys.executable, "-m", "book", "check-publishable", "--out", str(BUILD)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode != 0
    assert "UNTRAINED" in result.stdout + result.stderr


def test_an_unchanged_notebook_is_not_executed_again(executed, capsys):
    first = BUILD / "executed" / f"{NAMES[-2]}.ipynb"
    before = first.stat().st_mtime_ns
    execute_all([NOTEBOOKS / f"{NAMES[-2]}.ipynb"], BUILD / "executed")
    assert "reused" in capsys.readouterr().out
    assert first.stat().st_mtime_ns == before


def test_a_cell_past_its_time_limit_fails_the_build_naming_the_notebook_and_cell(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# A slow notebook"),
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_code_cell("import time\ntime.sleep(60)"),
        ]
    )
    path = tmp_path / "slow.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(
        BookError,
        match=r"slow\.ipynb: cell 3 \('import time …'\) ran past its "
        r"limit of 3 s",
    ):
        execute(path, tmp_path / "out", cell_limit=3)
    assert not (tmp_path / "out" / "slow.ipynb").exists()


def test_a_cell_that_raises_fails_the_build_naming_the_notebook_and_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(
        BookError,
        match=r"broken\.ipynb: cell 1 \('1 / 0'\) raised "
        r"ZeroDivisionError: division by zero",
    ):
        execute(path, tmp_path / "out", cell_limit=30)
