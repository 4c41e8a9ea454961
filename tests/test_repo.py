"""The repository itself: matching requirement lists, clean notebooks, CI as the README says."""

import ast
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict:
    """pyproject.toml, read with tomllib (Python 3.11+; these checks skip on 3.10)."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib, to read pyproject.toml, is 3.11+")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


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
