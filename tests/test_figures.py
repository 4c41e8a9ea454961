"""A saved, executed notebook keeps what live updates showed last, whatever MPLBACKEND says.

tests/conftest.py checks, for every cell that nbval runs, that each figure comes with its PNG.
nbval does not apply display updates, so this test executes notebook 01 as a saved copy is made
(nbclient, MPLBACKEND=Agg) and checks what only updates produce: the training curves and the
progress bar in their final state, not "0%".
"""

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_lenet_mnist.ipynb"


def test_a_saved_copy_shows_the_final_training_state(tmp_path, monkeypatch):
    assert os.environ.get("MPLBACKEND") == "Agg"  # conftest sets it, as CI does
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    fit_cell = next(c for c in nb.cells if c.cell_type == "code" and "cu.fit(model" in c.source)
    outputs = fit_cell.outputs
    html = [
        o["data"].get("text/html", "") for o in outputs if o.get("output_type") == "display_data"
    ]
    assert any("training: 100%" in h and 'value="' in h for h in html), html
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1  # the live figure, redrawn in place, saved once with its last curves
    bare = [
        o["data"]["text/plain"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.get("data", {}).get("text/plain", "").startswith("<Figure")
        and "image/png" not in o["data"]
    ]
    assert not bare, bare
    progress = [o["data"]["text/plain"] for o in outputs if "text/html" in o.get("data", {})]
    assert progress and all(text.startswith("training: 100%") for text in progress), progress
