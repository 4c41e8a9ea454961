"""The repository itself: matching requirement lists, clean notebooks, CI as the README says."""

import json
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

PIP = "pip"  # conda-forge has no such package: environment.yml lists it under `pip:`
# Every pip requirement's conda-forge name, read from the `package: name:` of the package's
# recipe in its conda-forge feedstock (github.com/conda-forge/<name>-feedstock).
CONDA_FORGE = {
    "torch": "pytorch",  # an output of pytorch-cpu-feedstock
    "torchvision": "torchvision",
    "jupyterlab": "jupyterlab",
    "matplotlib": "matplotlib-base",  # "matplotlib" is matplotlib-base plus the Qt backend
    "ipywidgets": "ipywidgets",
    "pillow": "pillow",
    "tqdm": "tqdm",
    "scikit-image": "scikit-image",
    "mlxtend": "mlxtend",
    "ipycanvas": "ipycanvas",
    "jupyterlab-rise": "jupyterlab_rise",  # jupyterlab_rise-feedstock: conda keeps the "_"
    "pytest": "pytest",
    "hypothesis": "hypothesis",
    "nbval": "nbval",
    "playwright": "playwright-python",  # conda-forge's "playwright" is the Node.js driver
    "ruff": "ruff",
}


def _ranges(requirements: list[str]) -> dict[str, str]:
    """{name: version range} of requirement strings."""
    return {r.name.lower(): str(r.specifier) for r in map(Requirement, requirements)}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def read_requirements(path: Path) -> tuple[dict[str, str], list[str]]:
    """({name: version range}, the other lines: `-r file`, `-e .`) of a pip requirements file."""
    specs, options = {}, []
    for line in path.read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            options.append(line)
            continue
        ((name, spec),) = _ranges([line]).items()
        assert name not in specs, f"{path.name}: {name} twice"
        specs[name] = spec
    return specs, options


def read_environment() -> tuple[dict[str, str], list[str]]:
    """({conda name: version range}, the `pip:` entries) of environment.yml."""
    text = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    conda, pip = {}, []
    for indent, item in re.findall(r"^( +)- (.+)$", text, re.M):
        if len(indent) > 2:
            pip.append(item.strip())
        elif item.strip() not in ("pip", "pip:"):
            name, spec = re.match(r"([A-Za-z0-9_.-]+)\s*(.*)", item.strip()).groups()
            conda[name] = str(SpecifierSet(spec))
    return conda, pip


def environment_mismatches(
    requirements: dict[str, str], conda: dict[str, str], pip: list[str]
) -> list[str]:
    """What keeps environment.yml's packages (conda, pip) from being these requirements."""
    problems = []
    expected_conda, expected_pip = {}, {}
    for name, spec in requirements.items():
        if name not in CONDA_FORGE:
            problems.append(
                f"{name}: no conda-forge name in CONDA_FORGE (tests/test_repo.py); add the "
                f"`package: name:` of its conda-forge feedstock's recipe, or PIP if there is none"
            )
        elif CONDA_FORGE[name] == PIP:
            expected_pip[name] = spec
        else:
            expected_conda[CONDA_FORGE[name]] = spec
    conda = {k: v for k, v in conda.items() if k != "python"}
    for name in sorted(expected_conda.keys() | conda.keys()):
        if name not in conda:
            problems.append(f"environment.yml lacks {name}{expected_conda[name]}")
        elif name not in expected_conda:
            problems.append(f"environment.yml has {name}, which no requirement maps to")
        elif conda[name] != expected_conda[name]:
            wanted = expected_conda[name]
            problems.append(f"{name}{conda[name]} in environment.yml, {wanted} wanted")
    listed = _ranges(pip[1:])
    if pip[:1] != ["-e ."]:
        problems.append("environment.yml's pip: section must start with -e .")
    if listed != expected_pip:
        problems.append(f"environment.yml's pip: section has {listed}, not {expected_pip}")
    return problems


def test_requirements_txt_is_the_student_install():
    student, options = read_requirements(ROOT / "requirements.txt")
    assert options == ["-e ."]
    assert {"torch", "torchvision", "jupyterlab", "ipywidgets", "mlxtend"} <= student.keys()
    dev, _ = read_requirements(ROOT / "requirements-dev.txt")
    assert not student.keys() & dev.keys(), "a package in both requirements files"
    # course_utils's own needs are student requirements, with the same ranges
    for name, spec in _ranges(_project()["dependencies"]).items():
        assert student.get(name) == spec, f"pyproject.toml: {name}{spec}, requirements.txt"


def test_requirements_dev_is_the_student_install_plus_pyprojects_dev_extra():
    dev, options = read_requirements(ROOT / "requirements-dev.txt")
    assert options == ["-r requirements.txt"]
    assert {"pytest", "nbval", "playwright", "ruff"} <= dev.keys()
    extras = _project()["optional-dependencies"]
    assert list(extras) == ["dev"]
    assert _ranges(extras["dev"]) == dev


def test_every_requirement_has_its_conda_forge_name():
    student, _ = read_requirements(ROOT / "requirements.txt")
    dev, _ = read_requirements(ROOT / "requirements-dev.txt")
    assert sorted(student.keys() | dev.keys()) == sorted(CONDA_FORGE), "update CONDA_FORGE"


def test_environment_is_the_student_install_under_conda_forge_names():
    student, _ = read_requirements(ROOT / "requirements.txt")
    conda, pip = read_environment()
    assert environment_mismatches(student, conda, pip) == []
    assert conda["python"] == str(SpecifierSet(_project()["requires-python"]))


def test_a_requirement_without_a_conda_forge_name_is_reported_by_name():
    conda, pip = read_environment()
    student, _ = read_requirements(ROOT / "requirements.txt")
    problems = environment_mismatches({**student, "left_pad": ">=1.0"}, conda, pip)
    assert len(problems) == 1 and problems[0].startswith("left_pad: no conda-forge name")
    # the pip spelling in environment.yml is no conda-forge name: both sides are reported
    conda = {("jupyterlab-rise" if k == "jupyterlab_rise" else k): v for k, v in conda.items()}
    assert environment_mismatches(student, conda, pip) == [
        "environment.yml has jupyterlab-rise, which no requirement maps to",
        "environment.yml lacks jupyterlab_rise>=0.40",
    ]
    problems = environment_mismatches(student, {**read_environment()[0], "pytorch": ">=2.3"}, pip)
    assert problems == ["pytorch>=2.3 in environment.yml, >=2.2 wanted"]


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
