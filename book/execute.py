"""Executing the notebooks for the book: headless, with the students' inline backend, each cell
under a time limit, and each result kept until the notebook or the package changes.

Each notebook runs in its own kernel (nbclient), in the notebooks/ folder as in JupyterLab, with
the widgets' state saved into the copy so that the book can show them. The client reads the
kernel's replies with `course_utils.headless.steady_shell`, so it never waits on a reply it
missed (jupyter/nbclient#312). A cell that runs past the limit, or raises, stops the build with
the notebook's name and the cell's number.

An executed copy is reused while its key matches: the notebook's bytes, those of every module
in course_utils (the code it runs) and of this file (how it runs), hashed together.
`python -m book` twice in a row executes nothing the second time.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CELL_LIMIT = 300  # seconds; the slowest cell, 09's race, takes about 100 s on 2 cores
INLINE = "module://matplotlib_inline.backend_inline"  # what a student's kernel uses


class BookError(Exception):
    """The book cannot be built; the message names the notebook, file or tool, and what to do."""


def key(notebook: Path) -> str:
    """What an executed copy of `notebook` depends on: its bytes, the package's code, and how
    this file runs it."""
    digest = hashlib.sha256(notebook.read_bytes())
    digest.update(Path(__file__).read_bytes())
    for module in sorted((ROOT / "course_utils").rglob("*.py")):
        digest.update(module.relative_to(ROOT).as_posix().encode())
        digest.update(module.read_bytes())
    return digest.hexdigest()


def cached(notebook: Path, out: Path) -> Path | None:
    """The executed copy of `notebook` in `out`, if it was executed from this very source."""
    import nbformat

    copy = out / notebook.name
    try:
        nb = nbformat.read(copy, as_version=4)
    except (OSError, ValueError):
        return None  # absent, or unreadable: execute it again
    return copy if nb.metadata.get("course_book", {}).get("key") == key(notebook) else None


def _first_line(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip()]
    return (lines[0][:70] + (" …" if len(lines) > 1 or len(lines[0]) > 70 else "")) if lines else ""


def execute(notebook: Path, out: Path, *, cell_limit: int = CELL_LIMIT) -> Path:
    """Run `notebook` top to bottom and write the executed copy to `out`/<same name>.

    Raises BookError naming the notebook and the cell (numbered from 1, as JupyterLab's
    "cell N" counts every cell) when a cell raises or runs past `cell_limit` seconds."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from course_utils.env import atomic_file
    from course_utils.headless import steady_shell

    nb = nbformat.read(notebook, as_version=4)
    running: dict[str, int] = {}

    class Client(NotebookClient):
        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            steady_shell(kc)
            return kc

        async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
            running["cell"] = cell_index
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)

    client = Client(
        nb,
        timeout=cell_limit,
        kernel_name="python3",
        store_widget_state=True,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    start = time.monotonic()
    try:
        client.execute(env={**os.environ, "MPLBACKEND": INLINE})
    except (CellTimeoutError, CellExecutionError, DeadKernelError) as err:
        index = running.get("cell", 0)
        cell = f"cell {index + 1} ({_first_line(nb.cells[index].source)!r})"
        if isinstance(err, CellTimeoutError):
            why = f"ran past its limit of {cell_limit} s. Make it faster, or pass --cell-limit"
        elif isinstance(err, DeadKernelError):
            why = "killed the kernel (out of memory?)"
        else:
            why = f"raised {getattr(err, 'ename', '')}: {getattr(err, 'evalue', err)}"
        raise BookError(f"{notebook.name}: {cell} {why}.") from err
    nb.metadata["course_book"] = {"key": key(notebook), "seconds": round(time.monotonic() - start)}
    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / notebook.name, text=True) as file:
        nbformat.write(nb, file)
    return out / notebook.name


def execute_all(
    notebooks: list[Path], out: Path, *, cell_limit: int = CELL_LIMIT, jobs: int = 1
) -> list[Path]:
    """Executed copies of `notebooks` in `out`, in order: reused where the key matches, run
    otherwise (`jobs` at a time), each announced with its time."""

    def one(notebook: Path) -> Path:
        if copy := cached(notebook, out):
            print(f"  {notebook.name}: unchanged since its last run, reused", flush=True)
            return copy
        start = time.monotonic()
        copy = execute(notebook, out, cell_limit=cell_limit)
        print(f"  {notebook.name}: executed in {time.monotonic() - start:.0f} s", flush=True)
        return copy

    many = f"{len(notebooks)} notebook" + ("" if len(notebooks) == 1 else "s")
    print(f"Executing {many} into {out} (each cell at most {cell_limit} s):")
    if jobs <= 1:
        return [one(nb) for nb in notebooks]
    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(one, notebooks))
