"""The real thing: JupyterLab in headless Chromium, notebooks run, widgets clicked, slides shown.

Skipped, with the reason, only when Chromium is not installed (.ci/run installs it with apt-get).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from book.browser import CHROMIUM, FLAGS  # one way to start Chromium, here and for the book

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium failed or "
    "was not run); the browser test needs it",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free localhost port, over a copy of the notebooks."""
    root = tmp_path_factory.mktemp("lab")
    for path in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(path, root / path.name)
    # Render every cell: JupyterLab 4 otherwise draws only the cells in view.
    settings = root / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(
        '{"windowingMode": "none"}', encoding="utf-8"
    )
    # No "Would you like to get notified about news?" toast over the slides' corner.
    news = root / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}', encoding="utf-8"
    )
    port = _free_port()
    log = open(root / "jupyterlab.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.token=",
            "--ServerApp.password=",
            "--ServerApp.allow_root=True",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.workspaces_dir={root / 'workspaces'}",
            f"--LabApp.user_settings_dir={root / 'settings'}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # window.jupyterapp: the slides are driven by the app's own commands (deck:start…)
            "--LabApp.expose_app_in_browser=True",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                log.close()
                started = (root / "jupyterlab.log").read_text(encoding="utf-8")
                pytest.fail(f"JupyterLab did not start:\n{started}")
            time.sleep(0.5)
    yield url, root
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _open_and_run_all(page, url: str, notebook: str, timeout_s: float, shot: Path) -> None:
    # A workspace of its own, so that no other notebook is restored beside it and made active.
    workspace = notebook.split(".")[0].replace("_", "-")
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{notebook}")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    # JupyterLab 4 may ask which kernel to start: accept its proposal (Python 3).
    try:
        page.locator(".jp-Dialog .jp-mod-accept").click(timeout=8_000)
    except Exception:
        pass  # no dialog: the kernel started on its own
    page.wait_for_function(
        "() => document.querySelector('.jp-Notebook-ExecutionIndicator') !== null"
        " || document.querySelector('.jp-KernelStatus') !== null",
        timeout=60_000,
    )
    # jupyterlab-slideshow remembers in the user's settings that it was presenting: stop it, so
    # that the menus show (the app is exposed only when the lab runs with expose_app_in_browser)
    page.evaluate(
        "() => window.jupyterapp && document.body.dataset.jpDeckMode === 'presenting'"
        " && window.jupyterapp.commands.execute('deck:stop')"
    )
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    try:
        # Done when the last code cell has its output (cells run in order; the notebooks are
        # committed without outputs) and no cell shows [*]. Folded solution cells show no
        # prompt, so prompts alone cannot tell.
        page.wait_for_function(
            """() => {
                const cells = [...document.querySelectorAll('.jp-CodeCell')];
                const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                const busy = prompts.some(p => p.textContent.includes('*'));
                const last = cells[cells.length - 1];
                return cells.length > 0 && !busy
                    && last.querySelector('.jp-OutputArea-output') !== null;
            }""",
            timeout=timeout_s * 1000,
            polling=1000,
        )
    except Exception:
        page.screenshot(path=str(shot), full_page=True)  # what the page showed, to debug
        raise


def _problems(page) -> list[str]:
    """Widget errors and tracebacks anywhere in the notebook's outputs."""
    text = page.locator(".jp-Notebook").inner_text()
    found = [
        p for p in ("Error displaying widget", "Traceback (most recent call last)") if p in text
    ]
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    found += [t for t in errors.all_inner_texts() if "Error" in t and "Warning" not in t]
    return found


def _classifier_explorer_follows_the_picker(page, shots: Path) -> None:
    """03: the image and model pickers render, and the prediction follows the picked image."""
    selects = page.locator(".jupyter-widgets select")
    assert selects.count() >= 2  # the image picker and the model picker rendered
    status = page.locator(".widget-html-content", has_text="through resnet50").first
    status.wait_for(timeout=30_000)
    assert "cat through resnet50" in status.inner_text()
    table = page.locator(".widget-html-content table").first
    before = table.inner_text()
    image = page.locator(".jupyter-widgets select", has=page.locator("option", has_text="rocket"))
    image.first.select_option("rocket")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.widget-html-content')]"
        ".some(e => e.textContent.includes('rocket through resnet50'))",
        timeout=60_000,
    )
    page.wait_for_function(
        "before => document.querySelector('.widget-html-content table').innerText !== before",
        arg=before,
        timeout=30_000,
    )
    assert table.inner_text() != before  # the prediction changed with the image
    page.screenshot(path=str(shots / "03_vgg_pretrained.png"), full_page=True)
    assert (shots / "03_vgg_pretrained.png").stat().st_size > 10_000


def _drawing_pad_shows_probabilities_live(page, shots: Path) -> None:
    """01: training ended at 100%, its figures are pictures, and a drawn 1 is read as a 1."""
    assert "training: 100%" in page.locator(".jp-Notebook").inner_text()
    assert page.locator(".jp-RenderedImage img").count() >= 6
    canvas = page.locator(".jupyter-widgets canvas").last
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] >= 200
    summary = page.locator(".widget-html-content", has_text="Draw a digit").first
    summary.wait_for(timeout=30_000)
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 40)
    page.mouse.down()
    for k in range(1, 11):  # a vertical stroke: a 1
        page.mouse.move(x, box["y"] + 40 + k * (box["height"] - 80) / 10)
    page.mouse.up()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.widget-html-content')]"
        ".some(e => e.textContent.includes('LeNet5 says'))",
        timeout=30_000,
    )
    said = page.locator(".widget-html-content", has_text="LeNet5 says").first.inner_text()
    assert "LeNet5 says 1" in said
    page.screenshot(path=str(shots / "01_drawing_pad.png"), full_page=True)


# The widgets used by hand in the notebook view, after the run and before the slides (one run
# of each notebook serves both).
INTERACTIONS = {
    "01_lenet_mnist.ipynb": _drawing_pad_shows_probabilities_live,
    "03_vgg_pretrained.ipynb": _classifier_explorer_follows_the_picker,
}


# --- presenting: every notebook as slides, at the presenter's 1280 x 720 -------------------

SLIDE = """() => {
    const nb = window.jupyterapp.shell.currentWidget.content;
    const cells = [...nb.node.querySelectorAll('.jp-Cell')];
    const shown = cells.map((c, i) => [c, i])
        .filter(([c]) => c.classList.contains('jp-deck-mod-visible'));
    const boxes = shown.map(([c]) => c.getBoundingClientRect());
    const widgets = shown.flatMap(([c]) => [...c.querySelectorAll('.jupyter-widgets')])
        .filter(w => w.getBoundingClientRect().width > 0);
    const outputs = shown.flatMap(([c]) => [...c.querySelectorAll('.jp-OutputArea-output')]);
    return {
        active: nb.activeCellIndex,
        cells: shown.map(([, i]) => i),
        top: Math.min(...boxes.map(b => b.top)),
        bottom: Math.max(...boxes.map(b => b.bottom)),
        text: shown.map(([c]) => c.innerText).join('\\n'),
        widgetViews: widgets.length,
        widgetOutputs: outputs.filter(o => o.getAttribute('data-mime-type') ===
            'application/vnd.jupyter.widget-view+json').length,
        heading: ((shown.map(([c]) => c.querySelector('h1, h2, h3')).find(h => h) || {})
            .innerText || '').replace('¶', '').trim(),
        scrollTop: (nb.node.querySelector('.jp-WindowedPanel-outer') || nb.node).scrollTop,
    };
}"""
OUTPUT_WIDTH = """() => Math.max(0, ...[...document.querySelectorAll('.jp-OutputArea-output')]
    .map(o => o.getBoundingClientRect().width))"""


def cu_plots_width() -> int:
    from course_utils.plots import DISPLAY_WIDTH_PX

    return DISPLAY_WIDTH_PX


FRIENDLY = "run this notebook in JupyterLab or Colab to use it"
# 09 first: its races train here while the other worker runs the unit tests, and are loaded
# from the course's cache when nbval reaches 09 last, instead of training twice at once.
ALL_NOTEBOOKS = sorted(
    (p.name for p in NOTEBOOKS.glob("*.ipynb")), key=lambda name: (not name.startswith("09"), name)
)


def _command(page, command: str, pause: float = 0.6) -> None:
    page.evaluate(f"window.jupyterapp.commands.execute('{command}')")
    time.sleep(pause)


def _reach_the_bottom(page, slide: dict, height: int) -> bool:
    """Scroll a slide taller than the screen with the mouse wheel, as a presenter would: True
    when its last cell's bottom comes into view."""
    page.mouse.move(640, height // 2)
    for _ in range(40):
        page.mouse.wheel(0, 400)
        time.sleep(0.15)
        now = page.evaluate(SLIDE)
        if now["bottom"] <= height + 2:
            return True
        if now["scrollTop"] == slide["scrollTop"]:
            return False  # the wheel moved nothing
        slide = now
    return False


def _present(page, cell: int) -> dict:
    """Present the slide that holds `cell`: the slideshow starts at the active cell's slide."""
    _command(page, "deck:stop", 0.3)
    page.evaluate(f"window.jupyterapp.shell.currentWidget.content.activeCellIndex = {cell}")
    _command(page, "deck:start", 0.5)
    page.wait_for_selector("body[data-jp-deck-mode='presenting']", state="attached", timeout=30_000)
    for _ in range(40):  # drawn once the slide's cells are visible
        slide = page.evaluate(SLIDE)
        if cell in slide["cells"]:
            time.sleep(0.3)
            return page.evaluate(SLIDE)
        time.sleep(0.25)
    return page.evaluate(SLIDE)


def _walk(page, height: int, first_shot: Path, starts: list[int]) -> list[dict]:
    """Every slide from the first to the last (each slide's and sub-slide's first cell, in
    order), each measured and, when taller than the screen, scrolled with the mouse wheel; a
    screenshot of the first, the title slide."""
    slides = []
    for k, start in enumerate(starts):
        slide = _present(page, start)
        if k == 0:
            page.screenshot(path=str(first_shot))
        slide["fits"] = slide["bottom"] - slide["top"] <= height + 2
        slide["scrolls"] = not slide["fits"] and _reach_the_bottom(page, slide, height)
        slides.append(slide)
    return slides


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS)
def test_every_slide_fits_or_scrolls_and_shows_widgets_not_their_repr(
    lab, browser, notebook, tmp_path
):
    """Run the notebook in JupyterLab, use its widgets by hand (INTERACTIONS), then present it
    in jupyterlab-slideshow from its first slide to its last, on a 1280 x 720 screen."""
    url, root = lab
    width, height = 1280, 720
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _open_and_run_all(page, url, notebook, 420, tmp_path / "failed.png")
    assert _problems(page) == []
    if notebook in INTERACTIONS:
        INTERACTIONS[notebook](page, tmp_path)
        assert _problems(page) == []
    cells = json.loads((root / notebook).read_text(encoding="utf-8"))["cells"]
    kinds = [c["metadata"].get("slideshow", {}).get("slide_type") for c in cells]
    skipped = {k for k, kind in enumerate(kinds) if kind == "skip"}
    starts = [k for k, kind in enumerate(kinds) if kind in ("slide", "subslide")]
    lab_width = page.evaluate(OUTPUT_WIDTH)  # where figures are shown, in the notebook view
    name = notebook.split(".")[0]
    shown = [k for k in starts if k not in skipped]
    slides = _walk(page, height, tmp_path / f"{name}_first_slide.png", shown)
    slide_width = page.evaluate(OUTPUT_WIDTH)  # and on the slides
    # plots.small_texts measures figures at DISPLAY_WIDTH_PX: no wider than either view
    assert cu_plots_width() <= min(lab_width, slide_width), (lab_width, slide_width)
    page.screenshot(path=str(tmp_path / f"{name}_last_slide.png"))
    report = [(s["heading"][:40], s["cells"], s["fits"], s["scrolls"]) for s in slides]
    print(
        f"{notebook}: {len(slides)} slides, outputs {lab_width:.0f} px wide in the notebook, "
        f"{slide_width:.0f} on slides, console errors: {errors}",
        *report,
        sep="\n  ",
    )
    assert slides[0]["heading"] == cells[0]["source"][0].lstrip("# ").strip()  # the title
    assert [s["cells"][0] for s in slides] == shown, report  # each slide starts where it should
    for slide in slides:
        where = f"{notebook}, slide {slide['heading']!r} (cells {slide['cells']})"
        assert not skipped & set(slide["cells"]), f"{where}: shows the setup cell or a solution"
        assert slide["fits"] or slide["scrolls"], f"{where}: taller than the screen, no scroll"
        assert "children=(" not in slide["text"], f"{where}: a widget's repr"
        if slide["widgetOutputs"]:  # a live widget, or else its friendly sentence
            assert slide["widgetViews"] or FRIENDLY in slide["text"], where
    widget_slides = [s for s in slides if s["widgetOutputs"]]
    if widget_slides:  # screenshot the first widget slide, as the presenter sees it
        page.evaluate(
            "k => window.jupyterapp.shell.currentWidget.content.activeCellIndex = k",
            widget_slides[0]["cells"][0],
        )
        _command(page, "deck:stop", 1.0)
        _command(page, "deck:start", 2.0)
        page.screenshot(path=str(tmp_path / f"{name}_widget_slide.png"))
    # The course's own errors in the browser: a widget that failed to render says so there.
    _command(page, "deck:stop", 1.0)
    page.close()
    ours = [e for e in errors if "widget" in e.lower() or "course_utils" in e]
    assert ours == [], ours
