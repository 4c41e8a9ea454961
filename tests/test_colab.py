"""The Colab branch of every setup cell, run in a simulated Colab; badges from REPO_URL."""

import json
import sys
import types
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from course_utils import colab, env

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def _setup_cell(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


class FakeShell:
    """Stands in for IPython: records the magics a cell runs instead of running them."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line, _stack_depth=1):
        self.magics.append((name, line))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_branch_installs_the_repository_and_enables_widgets(path, monkeypatch):
    source = _setup_cell(path)
    code = TransformerManager().transform_cell(source)
    shell = FakeShell()
    enabled = []
    google = types.ModuleType("google")
    google.colab = types.ModuleType("google.colab")
    google.colab.output = types.SimpleNamespace(
        enable_custom_widget_manager=lambda: enabled.append(True)
    )
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", google.colab.output)
    namespace = {"get_ipython": lambda: shell}
    exec(compile(code, str(path), "exec"), namespace)
    assert shell.magics == [("pip", f'install -q "course_utils @ git+{env.REPO_URL}"')]
    assert enabled == [True]
    assert "cu" in namespace  # the rest of the cell ran, with course_utils importable


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outside_colab_the_setup_installs_nothing(path, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    shell = FakeShell()
    code = TransformerManager().transform_cell(_setup_cell(path))
    exec(compile(code, str(path), "exec"), {"get_ipython": lambda: shell})
    assert shell.magics == []


def test_badges_and_setup_cells_follow_repo_url(tmp_path, monkeypatch):
    for path in NOTEBOOKS:
        text = path.read_text(encoding="utf-8")
        assert colab.badge(path.stem).replace('"', '\\"') in text, f"{path.name}: stale badge"
        assert colab.SETUP_START in text
    # Changing REPO_URL and syncing rewrites badges and install lines everywhere.
    copy = tmp_path / "notebooks"
    copy.mkdir()
    for path in NOTEBOOKS:
        (copy / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(env, "REPO_URL", "https://github.com/someone/fork")
    assert len(colab.sync_notebooks(copy)) == len(NOTEBOOKS)
    for path in copy.glob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "github/someone/fork/blob/main/notebooks/" in text
        assert "git+https://github.com/someone/fork" in text
        assert "cnn-course" not in text
    assert colab.sync_notebooks(copy) == []  # a second sync changes nothing
