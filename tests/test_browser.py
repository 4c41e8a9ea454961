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

CHROMIUM = "/usr/bin/chromium"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]

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
    for name in ("01_lenet_mnist.ipynb", "03_vgg_pretrained.ipynb", "07_resnext.ipynb"):
        shutil.copy(NOTEBOOKS / name, root / name)
    # Render every cell: JupyterLab 4 otherwise draws only the cells in view.
    settings = root / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(
        '{"windowingMode": "none"}', encoding="utf-8"
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


def test_classifier_widgets_render_and_follow_the_picker(lab, browser, tmp_path):
    url, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _open_and_run_all(page, url, "03_vgg_pretrained.ipynb", 240, tmp_path / "failed.png")
    assert _problems(page) == []
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
    page.screenshot(path=str(tmp_path / "03_vgg_pretrained.png"), full_page=True)
    assert (tmp_path / "03_vgg_pretrained.png").stat().st_size > 10_000
    assert _problems(page) == []
    page.close()


def test_drawing_pad_shows_probabilities_live(lab, browser, tmp_path):
    url, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _open_and_run_all(page, url, "01_lenet_mnist.ipynb", 300, tmp_path / "failed.png")
    assert _problems(page) == []
    # Training ended at 100% and its curves, like every figure, are pictures on the page.
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
    page.screenshot(path=str(tmp_path / "01_drawing_pad.png"), full_page=True)
    assert _problems(page) == []
    page.close()


# Reveal marks the present slide, and the vertical stack around it, "present". Settled: both have
# finished moving in (RISE's default transition slides and fades them in).
PRESENT = ".reveal .slides section.present:not(.stack)"
SETTLED = """() => {
    const present = [...document.querySelectorAll('.reveal .slides section.present')];
    return present.length > 0 && present.every(
        s => s.getAnimations().length === 0 && getComputedStyle(s).opacity === '1');
}"""


def test_slideshow_shows_heading_code_and_output(lab, browser, tmp_path):
    """Run 07 in JupyterLab, save it, present it with RISE, run the slide's code cell there."""
    url, root = lab
    notebook = "07_resnext.ipynb"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _open_and_run_all(page, url, notebook, 180, tmp_path / "failed.png")
    assert _problems(page) == []
    page.keyboard.press("Control+s")  # saved outputs are what a slideshow opens with
    deadline = time.time() + 30
    while not json.loads((root / notebook).read_text(encoding="utf-8"))["cells"][3]["outputs"]:
        assert time.time() < deadline, "the notebook was not saved with its outputs"
        time.sleep(0.5)
    # jupyterlab-rise serves the slideshow at /rise/<path>; it starts at the slide that holds
    # cell activeCellIndex: cell 3, `cu.diagrams.resnext_block()`, on the slide "1. The block".
    # It joins the notebook's running kernel, so that code on the slide runs there.
    slides = browser.new_page(viewport={"width": 1400, "height": 1000})
    slides.goto(f"{url}/rise/{notebook}?activeCellIndex=3")
    present = slides.locator(PRESENT)
    present.locator(".jp-OutputArea-output").first.wait_for(timeout=60_000)
    slides.wait_for_function(SETTLED, timeout=30_000)
    assert present.count() == 1
    assert present.locator("h1, h2, h3").all_inner_texts() == ["1. The block"]
    cell = present.locator(".jp-CodeCell").first
    assert "cu.diagrams.resnext_block()" in cell.locator(".jp-InputArea").inner_text()
    assert cell.locator(".jp-OutputArea-output img").count() == 1  # the saved diagram
    # Present it live: select the cell (command mode) and Shift+Enter, RISE's "smart exec".
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text()
    prompt.click()
    slides.keyboard.press("Shift+Enter")
    slides.wait_for_function(
        "([p, before]) => !p.innerText.includes('*') && p.innerText !== before",
        arg=[prompt.element_handle(), before],
        timeout=30_000,
    )
    slides.wait_for_function(SETTLED, timeout=30_000)
    output = cell.locator(".jp-OutputArea-output")
    assert output.count() == 1
    assert output.get_attribute("data-mime-type") == "image/png"  # the diagram, drawn again
    assert output.locator("img").bounding_box()["height"] > 300
    stderr = present.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    )
    assert "Traceback" not in present.inner_text() and stderr.count() == 0
    shot = tmp_path / "07_resnext_slide.png"
    slides.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    slides.close()
    page.close()
