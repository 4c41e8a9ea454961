"""The student edition of each notebook: the notebook as committed, without its solutions.

`write_student_editions` writes one per notebook into the book's `student/` folder, from which
the publishing workflow pushes them to the `student` branch that the book's "Open the student
edition in Colab" links point at. An edition is the committed notebook with

- every solution cell removed (cells tagged `solution`), and the "Solutions" heading over them
  (the markdown cell that is only that heading, perhaps with one short paragraph under it),
  by `course_utils.exercises.student_edition`, the same function that
  `python -m course_utils.exercises student SRC DEST` uses,
- every output cleared and every execution count reset,

and nothing else changed: the other cells, their order, sources and metadata, and the
notebook's metadata stay as they are. `removed_cells` says which cells an edition lacks, so a
test can check that these, and only these, are gone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from book import source as _source
from course_utils import env, exercises


def _cleared(cell: Mapping) -> dict:
    """A copy of `cell` with no outputs and no execution count (code cells); others as is."""
    copy = json.loads(json.dumps(cell))
    if copy.get("cell_type") == "code":
        copy["outputs"] = []
        copy["execution_count"] = None
    return copy


def student_notebook(notebook: Mapping) -> dict:
    """The student edition of `notebook` (its JSON, as a dict): without solution cells, without
    the "Solutions" heading, outputs cleared and execution counts reset; the rest unchanged."""
    edition = exercises.student_edition(notebook)
    edition["cells"] = [_cleared(cell) for cell in edition["cells"]]
    return edition


def removed_cells(original: Mapping, edition: Mapping) -> list[int]:
    """The indices, in `original`, of the cells that `edition` lacks.

    The edition's cells must be the original's in the same order, each equal to its original
    up to outputs and execution count (which an edition clears); otherwise ValueError, saying
    which edition cell has no match. So an empty list means "nothing removed", and the list
    says exactly which cells were.
    """
    kept = iter(enumerate(original["cells"]))
    removed: list[int] = []
    for k, cell in enumerate(edition["cells"]):
        want = _cleared(cell)
        for i, candidate in kept:
            if _cleared(candidate) == want:
                break
            removed.append(i)
        else:
            raise ValueError(
                f"cell {k} of the edition ({_source(cell)[:60]!r}) is not one of the original's "
                "cells in order: an edition may only leave cells out, never change or move them"
            )
    removed.extend(i for i, _ in kept)
    return removed


def write_student_editions(notebooks: Sequence[Path], out: Path) -> list[Path]:
    """Write the student edition of each committed notebook into `out` under the same name
    (`out/NN_name.ipynb`), and return the paths written, in the order given.

    Each file is written to a temporary file in `out` and then renamed over the target, so a
    reader never sees half a notebook.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        path = Path(path)
        notebook: Any = json.loads(path.read_text(encoding="utf-8"))
        edition = student_notebook(notebook)
        dest = out / path.name
        with env.atomic_file(dest, text=True) as f:
            f.write(json.dumps(edition, indent=1, ensure_ascii=False) + "\n")
        written.append(dest)
    return written
