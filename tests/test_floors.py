"""The package's floors: imports flow down, never in a circle (CONTRIBUTING.md's module table).

Every import is read from the source, the ones inside functions too, so a lazy import cannot hide
a circle. The checker itself is tested on small packages made here, so that a circle or a wrong
import is shown to fail it.
"""

import ast
import json
import re
from pathlib import Path

import pytest

import course_utils

PACKAGE = Path(course_utils.__file__).parent
NOTEBOOKS = PACKAGE.parent / "notebooks"

GROUND, TOOL, LECTURE, FACE = 0, 1, 2, 3
FLOOR_NAMES = {GROUND: "ground", TOOL: "tool", LECTURE: "lecture", FACE: "face"}

# Each module's floor. A new module goes here, and in CONTRIBUTING.md's table.
FLOORS = {
    "anatomy": GROUND,
    "env": GROUND,
    "show": GROUND,
    "download": TOOL,
    "images": TOOL,
    "data": TOOL,
    "blocks": TOOL,
    "nets": TOOL,
    "counting": TOOL,
    "augment": TOOL,
    "train": TOOL,
    "weights": TOOL,
    "plots": TOOL,
    "diagrams": TOOL,
    "receptive": TOOL,
    "headless": TOOL,
    "fcn": LECTURE,
    "lab": LECTURE,
    "race": LECTURE,
    "exercises": LECTURE,
    "widgets": FACE,
    "prefetch": FACE,
    "doctor": FACE,
    "colab": FACE,
}

# Each notebook's home module: the one whose code it teaches.
HOMES = {
    "01": "train",
    "02": "augment",
    "03": "weights",
    "04": "fcn",
    "05": "blocks",
    "06": "blocks",
    "07": "blocks",
    "08": "weights",
    "09": "race",
}


def imports(package: Path) -> dict[str, set[str]]:
    """Each module of `package` (a folder) and the package's modules it imports, anywhere in it."""
    graph = {}
    for path in sorted(package.glob("*.py")):
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:  # from .x import y
                    found.add(node.module.split(".")[0])
                else:  # from . import x, y
                    found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package.name):
                rest = node.module.split(".")[1:]
                found.update(rest[:1] or [alias.name for alias in node.names])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == package.name and len(parts) > 1:
                        found.add(parts[1])
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
                # importlib.import_module(".widgets", __name__): __init__'s lazy attribute
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and str(arg.value).startswith("."):
                    found.add(str(arg.value)[1:])
        graph[path.stem] = found - {path.stem}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each as the modules along it (first repeated at the end)."""
    found, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for other in sorted(graph.get(module, ())):
            if state.get(other) == "open":
                found.append(path[path.index(other) :] + [other])
            elif other not in state:
                visit(other, path + [other])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def floor_faults(graph: dict[str, set[str]], floors: dict[str, int]) -> list[str]:
    """What breaks the floors: a module without a floor, an import that runs up or sideways where
    it must not, anything importing the widgets, and every circle."""
    faults = [
        f"{m} has no floor: add it to FLOORS" for m in graph if m not in {*floors, "__init__"}
    ]
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            if dep == "widgets" and module != "__init__":
                faults.append(f"{module} imports widgets: nothing may (the face students call)")
            if module == "__init__" or module not in floors or dep not in floors:
                continue
            mine, theirs = floors[module], floors[dep]
            if mine == GROUND:
                faults.append(f"{module} (ground) imports {dep}: the ground imports nothing")
            elif theirs > mine or (mine == TOOL and theirs >= LECTURE):
                faults.append(
                    f"{module} ({FLOOR_NAMES[mine]}) imports {dep} ({FLOOR_NAMES[theirs]}): "
                    "imports only flow down"
                )
    faults += ["circle: " + " -> ".join(c) for c in circles(graph)]
    return faults


def test_the_package_keeps_its_floors():
    assert floor_faults(imports(PACKAGE), FLOORS) == []


def test_every_floor_is_named_and_every_module_has_one():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(FLOORS)


def test_only_widgets_imports_ipywidgets():
    for path in PACKAGE.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        uses = re.search(r"^\s*(import ipywidgets|from ipywidgets)", text, re.M)
        assert bool(uses) == (path.stem == "widgets"), path.name


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "pkg"
    package.mkdir()
    for name, text in files.items():
        (package / f"{name}.py").write_text(text, encoding="utf-8")
    return package


FIXTURE_FLOORS = {"env": GROUND, "train": TOOL, "augment": TOOL, "lab": LECTURE, "widgets": FACE}


def test_a_circle_fails_the_checker(tmp_path):
    # The circle this package had: augment's reports imported train, and train augment.
    package = _package(
        tmp_path,
        {
            "env": "",
            "augment": "def report():\n    from .train import evaluate\n",
            "train": "from .augment import RandomShift\n",
        },
    )
    faults = floor_faults(imports(package), FIXTURE_FLOORS)
    assert faults == ["circle: augment -> train -> augment"]


def test_a_ground_module_importing_the_package_fails(tmp_path):
    package = _package(tmp_path, {"env": "from . import train\n", "train": ""})
    assert floor_faults(imports(package), FIXTURE_FLOORS) == [
        "env (ground) imports train: the ground imports nothing"
    ]


def test_a_tool_importing_a_lecture_or_face_module_fails(tmp_path):
    package = _package(
        tmp_path,
        {"env": "", "train": "import pkg.lab\n", "lab": "", "augment": "from pkg import lab\n"},
    )
    assert floor_faults(imports(package), FIXTURE_FLOORS) == [
        "augment (tool) imports lab (lecture): imports only flow down",
        "train (tool) imports lab (lecture): imports only flow down",
    ]


def test_importing_the_widgets_fails_even_from_a_face(tmp_path):
    package = _package(
        tmp_path,
        {"env": "", "lab": "def f():\n    from .widgets import digit_explorer\n", "widgets": ""},
    )
    floors = {**FIXTURE_FLOORS, "doctor": FACE}
    faults = floor_faults(imports(package), floors)
    assert faults == [
        "lab imports widgets: nothing may (the face students call)",
        "lab (lecture) imports widgets (face): imports only flow down",
    ]


def test_a_module_without_a_floor_fails(tmp_path):
    package = _package(tmp_path, {"env": "", "misc": "from . import env\n"})
    assert floor_faults(imports(package), FIXTURE_FLOORS) == ["misc has no floor: add it to FLOORS"]


@pytest.mark.parametrize("module", sorted(FLOORS))
def test_every_module_says_its_floor_and_the_notebooks_it_serves(module):
    doc = ast.get_docstring(ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8")))
    floor = FLOOR_NAMES[FLOORS[module]]
    assert doc and re.search(rf"\b{floor}\b", doc, re.I), f"{module}'s docstring names no floor"
    assert re.search(r"\b0[1-9]\b", doc), f"{module}'s docstring names no notebook"


@pytest.mark.parametrize("number", sorted(HOMES))
def test_every_notebook_names_its_home_module_which_names_it(number):
    (path,) = NOTEBOOKS.glob(f"{number}_*.ipynb")
    first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
    home = HOMES[number]
    assert f"**Home module:** `course_utils.{home}`" in first, path.name
    doc = ast.get_docstring(ast.parse((PACKAGE / f"{home}.py").read_text(encoding="utf-8")))
    assert re.search(rf"\b{number}\b", doc), f"{home}'s docstring does not name notebook {number}"


MAX_LINES = 60


def long_functions(package: Path, limit: int = MAX_LINES) -> list[str]:
    """Functions and methods longer than `limit` lines (def to last line, docstring included)
    whose docstring does not say why ("Not split: ...")."""
    found = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = node.end_lineno - node.lineno + 1
            if length > limit and "Not split:" not in (ast.get_docstring(node) or ""):
                found.append(f"{path.stem}.{node.name}: {length} lines")
    return found


def test_no_function_is_longer_than_60_lines_unless_it_says_why():
    assert long_functions(PACKAGE) == []


def test_the_length_check_counts_the_docstring_and_hears_a_reason(tmp_path):
    body = "\n".join(f"    x{k} = {k}" for k in range(59))
    package = _package(
        tmp_path,
        {
            "short": f'def f():\n    """Fits."""\n{body}\n',  # 61 lines with the def
            "told": f'def g():\n    """Not split: one table."""\n{body}\n',
        },
    )
    assert long_functions(package) == ["short.f: 61 lines"]
