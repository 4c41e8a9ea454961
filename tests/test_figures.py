"""A saved, executed notebook shows every figure, whatever MPLBACKEND says.

Each notebook is executed as a saved copy would be (nbclient, MPLBACKEND=Agg as CI and many
JupyterHubs set it), and every output that is a matplotlib Figure must carry its PNG, not the
bare text "<Figure size ...>". Training progress must be saved in its final state.
"""

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One course cache for the module, so that 04 finds the LeNet5 that 01 saved."""
    return tmp_path_factory.mktemp("course-cache")


def _execute(path: Path, cache: Path, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_is_saved_as_an_image(path, cache, monkeypatch):
    assert os.environ.get("MPLBACKEND") == "Agg"  # conftest sets it, as CI does
    nb = _execute(path, cache, monkeypatch)
    figures, missing = 0, []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if data.get("text/plain", "").startswith("<Figure"):
                if "image/png" in data:
                    figures += 1
                else:
                    missing.append(f"cell {i}: {data['text/plain']}")
    assert not missing, f"{path.name}: figures saved without an image: {missing}"
    drawn = sum("cu.plots." in "".join(c.source) for c in nb.cells if c.cell_type == "code")
    assert figures >= drawn, f"{path.name}: {drawn} cells draw, {figures} images saved"
    if path.stem == "01_lenet_mnist":
        saved = json.dumps([c.get("outputs", []) for c in nb.cells])
        assert "training: 100%" in saved  # the progress bar's final state, not "0%"
