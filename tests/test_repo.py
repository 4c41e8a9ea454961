"""The repository itself: matching requirement lists, clean notebooks, CI as the README says."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch": "torch"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def requirements() -> set[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {_name(x) for x in lines if x.strip() and not x.startswith(("#", "-e"))}


def environment() -> set[str]:
    text = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    names = set()
    for item in re.findall(r"^\s+- (.+)$", text, re.M):
        if item.rstrip(":") == "pip" or item.startswith(("-e", "python")):
            continue
        names.add(CONDA_TO_PIP.get(_name(item), _name(item)))
    return names


def test_requirements_and_environment_list_the_same_packages():
    assert requirements() == environment()
    assert {
        "torch",
        "torchvision",
        "jupyterlab",
        "ipywidgets",
        "nbval",
        "mlxtend",
    } <= requirements()


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [], f"{path.name} has outputs; clear them"
                assert cell["execution_count"] is None, f"{path.name} has execution counts"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"^(python3 -m venv .*pytest.*)$", ci, re.M).group(1)
    assert command in readme


def test_notebooks_carry_slide_metadata_and_warn_before_heavy_cells():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        kinds = [c["metadata"]["slideshow"]["slide_type"] for c in cells]
        assert kinds[0] == "slide", path.name
        for cell, kind in zip(cells, kinds, strict=True):
            if cell["cell_type"] == "markdown" and "".join(cell["source"]).startswith("## "):
                assert kind == "slide", f"{path.name}: a section that is not a slide"
        for before, cell in zip(cells, cells[1:], strict=False):
            source = "".join(cell["source"])
            heavy = "cu.fit(" in source or "224, 32)" in source or "paper_resnet(depth)" in source
            if cell["cell_type"] == "code" and heavy:
                # a folded solution says so in its own title
                said = "".join(before["source"]) + source.splitlines()[0]
                assert "⏱" in said, f"{path.name}: heavy cell without ⏱"


def test_every_notebook_ends_with_exercises_and_a_folded_solution_for_each():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = ["".join(c["source"]) for c in cells]
        exercises = next(t for t in text if "## Exercises" in t).split("## Exercises", 1)[1]
        numbered = re.findall(r"^(\d+)\. ", exercises, re.M)
        assert numbered == [str(k) for k in range(1, len(numbered) + 1)] and numbered, path.name
        solutions = [
            (t, c) for t, c in zip(text, cells, strict=True) if t.startswith("# @title Solution")
        ]
        titles = [t.splitlines()[0] for t, _ in solutions]
        assert [re.match(r"# @title Solution to exercise (\d+)\b", t)[1] for t in titles] == [
            str(k) for k in range(1, len(numbered) + 1)
        ], path.name
        for _, cell in solutions:  # folded in JupyterLab, a titled form in Colab
            assert cell["metadata"]["jupyter"]["source_hidden"] is True
            assert cell["metadata"]["cellView"] == "form"
        assert "## Solutions" in text[-len(solutions) - 1], path.name
