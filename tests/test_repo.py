"""The repository itself: matching requirement lists, clean notebooks, CI as the README says."""

import ast
import json
import os
import re
import subprocess
import sys
import time
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
    "jupyterlab-slideshow": "jupyterlab-slideshow",  # conda-forge/jupyterlab-slideshow, noarch
    "pytest": "pytest",
    "pytest-xdist": "pytest-xdist",  # conda-forge/pytest-xdist-feedstock, noarch
    "hypothesis": "hypothesis",
    "nbval": "nbval",
    "playwright": "playwright-python",  # conda-forge's "playwright" is the Node.js driver
    "ruff": "ruff",
    "pyyaml": "pyyaml",  # pyyaml-feedstock recipe/recipe.yaml: name: pyyaml
    "jupyterhub": "jupyterhub",  # conda-forge/jupyterhub-feedstock, noarch
    "nbgitpuller": "nbgitpuller",  # conda-forge/nbgitpuller-feedstock, noarch
    "sphinx": "sphinx",  # conda-forge/sphinx-feedstock, noarch
    "myst-nb": "myst-nb",  # conda-forge/myst-nb-feedstock, noarch
    "sphinx-book-theme": "sphinx-book-theme",  # conda-forge/sphinx-book-theme-feedstock
}


def _ranges(requirements: list[str]) -> dict[str, str]:
    """{name: version range} of requirement strings."""
    return {r.name.lower(): str(r.specifier) for r in map(Requirement, requirements)}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _project() -> dict:
    return pyproject()["project"]


def read_requirements(path: Path) -> tuple[dict[str, str], list[str]]:
    """({name: version range}, the other lines: `-r file`, `-e .`) of a pip requirements file."""
    specs, options = {}, []
    for line in path.read_text(encoding="utf-8").splitlines():
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
    text = (ROOT / "environment.yml").read_text(encoding="utf-8").split("dependencies:", 1)[1]
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
    assert options == ["-r requirements.txt", "-r book/requirements.txt"]
    assert {"pytest", "nbval", "playwright", "ruff"} <= dev.keys()
    extras = _project()["optional-dependencies"]
    assert list(extras) == ["dev", "book"]
    assert _ranges(extras["dev"]) == dev


def test_the_books_tools_are_their_own_requirements_file_and_extra():
    book, options = read_requirements(ROOT / "book" / "requirements.txt")
    assert options == [] and {"sphinx", "myst-nb", "sphinx-book-theme"} == book.keys()
    assert _ranges(_project()["optional-dependencies"]["book"]) == book
    student, _ = read_requirements(ROOT / "requirements.txt")
    assert not book.keys() & student.keys(), "the book's tools are not in the student install"


def test_every_requirement_has_its_conda_forge_name():
    student, _ = read_requirements(ROOT / "requirements.txt")
    dev, _ = read_requirements(ROOT / "requirements-dev.txt")
    book, _ = read_requirements(ROOT / "book" / "requirements.txt")
    names = student.keys() | dev.keys() | book.keys()
    assert sorted(names) == sorted(CONDA_FORGE), "update CONDA_FORGE"


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
    conda = {("matplotlib" if k == "matplotlib-base" else k): v for k, v in conda.items()}
    assert environment_mismatches(student, conda, pip) == [
        "environment.yml has matplotlib, which no requirement maps to",
        "environment.yml lacks matplotlib-base>=3.7",
    ]
    problems = environment_mismatches(student, {**read_environment()[0], "pytorch": ">=2.3"}, pip)
    assert problems == ["pytorch>=2.3 in environment.yml, >=2.2 wanted"]


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [], f"{path.name} has outputs; clear them"
                assert cell["execution_count"] is None, f"{path.name} has execution counts"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = re.search(r"^(python3 -m venv .*pytest.*)$", ci, re.M).group(1)
    assert command in readme


def test_notebooks_carry_slide_metadata_and_warn_before_heavy_cells():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        # A cell that continues its slide carries no slide type: jupyterlab-deck hides a cell
        # marked "-", and RISE and nbconvert read a missing type as "-".
        kinds = [c["metadata"].get("slideshow", {}).get("slide_type") for c in cells]
        assert kinds[0] == "slide" and "-" not in kinds, path.name
        setup = next(c for c in cells if c["cell_type"] == "code")
        assert setup["metadata"]["slideshow"]["slide_type"] == "skip", path.name  # not on slides
        for cell, kind in zip(cells, kinds, strict=True):
            if "solution" in cell["metadata"].get("tags", []):
                assert kind == "skip", f"{path.name}: a solution shown on a slide"
            if cell["cell_type"] == "markdown" and "".join(cell["source"]).startswith("## "):
                assert kind == "slide", f"{path.name}: a section that is not a slide"
        for before, cell in zip(cells, cells[1:], strict=False):
            source = "".join(cell["source"])
            heavy = "cu.fit(" in source or "224, 32)" in source or "paper_resnet(depth)" in source
            if cell["cell_type"] == "code" and heavy:
                # a folded solution says so in its own title
                said = "".join(before["source"]) + source.splitlines()[0]
                assert "⏱" in said, f"{path.name}: heavy cell without ⏱"


# The most source lines one slide or sub-slide holds: about what a 1280x720 screen shows with
# the outputs, so that a presenter scrolls a little at most. A longer section is cut into
# sub-slides where its argument turns (a Check, a new measurement).
SLIDE_LINES = 70


def test_long_sections_are_cut_into_sub_slides():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        slides: list[list[str]] = []
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            kind = cell["metadata"].get("slideshow", {}).get("slide_type")
            if kind == "skip":
                continue
            if kind in ("slide", "subslide") or not slides:
                slides.append([])
            slides[-1] += "".join(cell["source"]).splitlines()
        longest = max(slides, key=len)
        assert len(longest) <= SLIDE_LINES, f"{path.name}: {longest[0]!r}, {len(longest)} lines"


SOLUTION_TITLE = re.compile(r"(?:# @title Solution|\*\*Solution) to exercise (\d+)\b")


def test_every_notebook_ends_with_exercises_and_a_folded_solution_for_each():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = ["".join(c["source"]) for c in cells]
        exercises = next(t for t in text if "## Exercises" in t).split("## Exercises", 1)[1]
        numbered = re.findall(r"^(\d+)\. ", exercises, re.M)
        assert numbered == [str(k) for k in range(1, len(numbered) + 1)] and numbered, path.name
        # a code solution: "# @title Solution to exercise N"; a worked answer in words: a
        # markdown cell that starts "**Solution to exercise N.**"
        solutions = [(t, c) for t, c in zip(text, cells, strict=True) if SOLUTION_TITLE.match(t)]
        assert [SOLUTION_TITLE.match(t)[1] for t, _ in solutions] == [
            str(k) for k in range(1, len(numbered) + 1)
        ], path.name
        for t, cell in solutions:  # folded in JupyterLab, code and output; a titled form in Colab
            title = f"{path.name}: {t.splitlines()[0]}"
            assert cell["metadata"]["jupyter"] == {"source_hidden": True, "outputs_hidden": True}, (
                title
            )
            assert "solution" in cell["metadata"].get("tags", []), title
            if cell["cell_type"] == "code":
                assert cell["metadata"]["cellView"] == "form", title
        assert "## Solutions" in text[-len(solutions) - 1], path.name


def test_every_notebook_asks_for_a_prediction_before_it_measures():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        asks = [
            k
            for k, c in enumerate(cells)
            if c["cell_type"] == "markdown" and "**Predict, then run.**" in "".join(c["source"])
        ]
        assert asks, f"{path.name} has no 'Predict, then run.' question"
        for k in asks:  # the measuring cell comes right after the question
            assert cells[k + 1]["cell_type"] == "code", path.name


# --- what an instructor needs to adopt the course ------------------------------------------


def test_licences_cover_the_code_and_the_content_and_the_readme_says_which():
    code = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert code.startswith("MIT License") and "Permission is hereby granted" in code
    content = (ROOT / "LICENSE-CONTENT.txt").read_text(encoding="utf-8")
    assert "Creative Commons Attribution 4.0 International Public License" in content
    assert all(f"Section {k} --" in content for k in range(1, 9))  # the whole legal code
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    licence = readme.split("## Licence", 1)[1].split("\n## ", 1)[0]
    assert "`LICENSE`" in licence and "MIT" in licence
    assert "`LICENSE-CONTENT.txt`" in licence and "CC BY 4.0" in licence
    project = pyproject()["project"]
    assert project["license"] == "MIT"
    assert set(project["license-files"]) == {"LICENSE", "LICENSE-CONTENT.txt"}


# The Citation File Format 1.2.0's rules that this file can break (its JSON schema, in brief):
# the keys each level may have, the required ones, and the shapes of values.
CFF_KEYS = {
    "abstract",
    "authors",
    "cff-version",
    "commit",
    "contact",
    "date-released",
    "doi",
    "identifiers",
    "keywords",
    "license",
    "license-url",
    "message",
    "preferred-citation",
    "references",
    "repository",
    "repository-artifact",
    "repository-code",
    "title",
    "type",
    "url",
    "version",
}
CFF_REFERENCE_TYPES = {"article", "book", "conference-paper", "report", "software", "thesis"}
CFF_REFERENCE_KEYS = {
    "authors",
    "title",
    "type",
    "journal",
    "volume",
    "issue",
    "start",
    "end",
    "year",
    "doi",
    "url",
    "collection-title",
    "publisher",
    "month",
    "pages",
    "notes",
}
PERSON_KEYS = {"family-names", "given-names", "name-particle", "name-suffix", "orcid", "email"}


def cff_problems(cff: dict) -> list[str]:
    """What breaks CFF 1.2.0's schema in `cff` (the parts this repository uses); [] if valid."""
    problems = [f"unknown key {k!r}" for k in cff if k not in CFF_KEYS]
    problems += [
        f"missing {k!r}" for k in ("cff-version", "message", "title", "authors") if k not in cff
    ]
    if cff.get("cff-version") != "1.2.0":
        problems.append("cff-version must be the string '1.2.0'")
    if cff.get("type", "software") not in ("software", "dataset"):
        problems.append("type must be 'software' or 'dataset'")
    if not re.fullmatch(
        r"\d{4}-(0[1-9]|1[012])-(0[1-9]|[12]\d|3[01])", str(cff.get("date-released", "2000-01-01"))
    ):
        problems.append("date-released must be a quoted YYYY-MM-DD string")
    for key in ("repository-code", "url"):
        if key in cff and not re.match(r"^(https|http|ftp|sftp)://.+", cff[key]):
            problems.append(f"{key} is not a URL")
    licences = cff.get("license", [])
    for licence in [licences] if isinstance(licences, str) else licences:
        if licence not in {"MIT", "BSD-3-Clause", "CC-BY-4.0", "Apache-2.0"}:
            problems.append(f"license {licence!r} is not an SPDX identifier this repo expects")

    def authors(where: str, people) -> None:
        if not isinstance(people, list) or not people:
            problems.append(f"{where}: authors must be a non-empty list")
            return
        for a in people:
            entity = set(a) == {"name"} and a["name"]
            person = set(a) <= PERSON_KEYS and "family-names" in a
            if not (entity or person):
                problems.append(f"{where}: {a} is neither a person nor an entity")

    authors("root", cff.get("authors"))
    for ref in cff.get("references", []):
        where = f"reference {ref.get('title')!r}"
        problems += [f"{where}: unknown key {k!r}" for k in ref if k not in CFF_REFERENCE_KEYS]
        problems += [
            f"{where}: missing {k!r}" for k in ("authors", "title", "type") if k not in ref
        ]
        if ref.get("type") not in CFF_REFERENCE_TYPES:
            problems.append(f"{where}: type {ref.get('type')!r}")
        problems += [
            f"{where}: {k} must be an integer"
            for k in ("year", "volume", "start", "end")
            if k in ref and not isinstance(ref[k], int)
        ]
        if "doi" in ref and not re.fullmatch(
            r"10\.\d{4,9}(\.\d+)?/[A-Za-z0-9:/_;\-.()\[\]\\]+", str(ref["doi"])
        ):
            problems.append(f"{where}: doi {ref['doi']!r}")
        if "url" in ref and not str(ref["url"]).startswith("https://"):
            problems.append(f"{where}: url")
        authors(where, ref.get("authors"))
    return problems


def test_citation_file_is_valid_and_names_this_version():
    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff_problems(cff) == []
    project = pyproject()["project"]
    assert str(cff["version"]) == project["version"]
    assert cff["license"] == project["license"]
    # the checker can fail: each of these breaks the schema
    assert cff_problems({**cff, "cff-version": 1.2})
    assert cff_problems({**cff, "date-released": "28.11.2026"})
    assert cff_problems({**cff, "authors": [{"given-names": "Ada"}]})
    assert cff_problems({**cff, "licence": "MIT"})
    assert cff_problems({**cff, "references": [{"title": "x", "type": "paper", "authors": []}]})


def test_changelog_starts_with_this_version_for_students_and_instructors():
    version = pyproject()["project"]["version"]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    entries = re.findall(r"^## (\d+\.\d+\.\d+) \((\d{4}-\d\d-\d\d)\)$", changelog, re.M)
    assert entries and entries[0][0] == version, "add a CHANGELOG.md entry for the version"
    for entry in changelog.split("\n## ")[1:]:
        assert "For students:" in entry and "For instructors:" in entry, entry.splitlines()[0]


def test_contributing_guide_and_issue_template_say_what_to_do():
    guide = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for needed in (
        "pip install -r requirements-dev.txt",
        "pytest",
        "ruff check",
        "--clear-output",
        "python -m course_utils.colab notebooks/",
        "encoding",
    ):
        assert needed in guide, needed
    template = (ROOT / ".github" / "ISSUE_TEMPLATE" / "bug_report.md").read_text(encoding="utf-8")
    assert template.startswith("---\nname: ") and "cu.doctor()" in template


TEXT_CALLS = {"read_text", "write_text"}


def _unnamed_encodings(tree: ast.AST, where: str) -> list[str]:
    """Text-mode open(), read_text() and write_text() calls without encoding= in `tree`."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or any(k.arg == "encoding" for k in node.keywords):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in TEXT_CALLS:
            found.append(f"{where}:{node.lineno} .{func.attr}()")
        elif (
            isinstance(func, ast.Name)
            and func.id == "open"
            or (
                isinstance(func, ast.Attribute)
                and func.attr == "open"
                and isinstance(func.value, ast.Name)
                and func.value.id in ("io", "codecs")
            )
        ):
            mode = node.args[1] if len(node.args) > 1 else None
            mode = next((k.value for k in node.keywords if k.arg == "mode"), mode)
            binary = isinstance(mode, ast.Constant) and "b" in str(mode.value)
            if not binary:
                found.append(f"{where}:{node.lineno} open()")
    return found


def test_every_text_file_read_or_written_names_its_encoding():
    """Windows reads text as cp1252 unless told: the notebooks and README would not decode."""
    found = []
    for path in sorted(ROOT.glob("**/*.py")):
        if not {".venv", ".venv-colab", "build"} & set(path.relative_to(ROOT).parts):
            found += _unnamed_encodings(ast.parse(path.read_text(encoding="utf-8")), str(path))
    from IPython.core.inputtransformer2 import TransformerManager

    python = TransformerManager().transform_cell  # %pip and !cmd lines become Python calls
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for k, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            if cell["cell_type"] == "code":
                source = python("".join(cell["source"]))
                found += _unnamed_encodings(ast.parse(source), f"{path.name} cell {k}")
    assert found == [], "name the encoding (encoding='utf-8'): " + ", ".join(found)
    # and the check can fail
    bad = "open('a.txt').read(); p.read_text(); open('b', 'rb'); p.write_text(s, encoding='utf-8')"
    assert len(_unnamed_encodings(ast.parse(bad), "x")) == 2


def test_a_hung_notebook_cell_is_stopped_by_nbval_s_cell_timeout(tmp_path):
    addopts = pyproject()["tool"]["pytest"]["ini_options"]["addopts"]
    timeout = int(re.search(r"--nbval-cell-timeout=(\d+)", addopts)[1])
    assert 120 <= timeout <= 600  # above the slowest cell, far below CI's 90 minutes
    # The option works: a cell that sleeps past a 3 s timeout fails the run, in seconds.
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": ["import time\n", "time.sleep(120)"],
            }
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "hung.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    start = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "--nbval-cell-timeout=3",
            "hung.ipynb",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=110,
    )
    assert run.returncode != 0 and "1 failed" in run.stdout, run.stdout[-2000:]
    assert time.monotonic() - start < 100  # stopped, not slept through


def test_binder_reads_the_student_install_and_bakes_the_pack_that_its_kernels_read():
    """repo2docker reads binder/ (and then ignores the root's files): requirements.txt, runtime.txt,
    postBuild run once at build time, start before each session. No Docker here, so this checks
    what repo2docker would read; the image build itself is untested."""
    binder = ROOT / "binder"
    assert sorted(p.name for p in binder.iterdir()) == [
        "postBuild",
        "requirements.txt",
        "runtime.txt",
        "start",
    ]
    lines = [
        line
        for line in (binder / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[-1] == "-r ../requirements.txt"  # the student install, course_utils included
    assert (binder / "../requirements.txt").resolve() == ROOT / "requirements.txt"
    version = (binder / "runtime.txt").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"python-3\.1[0-9]", version), version
    requires = re.search(
        r'requires-python = ">=3\.(\d+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    )
    assert int(version.split(".")[1]) >= int(requires.group(1))
    pack = {}
    for name in ("postBuild", "start"):
        script = binder / name
        assert os.access(script, os.X_OK), f"binder/{name} must be executable"
        text = script.read_text(encoding="utf-8")
        assert text.startswith("#!/bin/bash\n"), name
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0, name
        pack[name] = re.findall(r"^export (.+)$", text, re.M)
    assert pack["postBuild"] == pack["start"]  # the kernels read where the build wrote
    assert "COURSE_DATA_DIR=" in pack["start"][0] and "TORCH_HOME=" in pack["start"][0]
    assert "python -m course_utils.prefetch" in (binder / "postBuild").read_text(encoding="utf-8")
    assert (binder / "start").read_text(encoding="utf-8").rstrip().endswith('exec "$@"')
