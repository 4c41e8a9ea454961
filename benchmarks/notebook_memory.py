"""Each notebook's peak kernel memory: what a hub must give each student.

Runs every notebook (or those named) top to bottom in a fresh kernel of its own, one after
another, and reads the kernel's peak resident memory (getrusage's ru_maxrss) at its end, beside
the memory of a kernel that has only imported course_utils: the baseline, in the same run.

    python benchmarks/notebook_memory.py [01 04 ...] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import json, resource\n"
    "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))"
)
BASELINE = "import course_utils as cu\n"


def peak_mb(cells: list[str], cwd: Path, timeout: int) -> tuple[float, float]:
    """Run `cells` in a fresh kernel: (its peak memory in MB, the seconds it took)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in [*cells, PROBE]]
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={})
    client.resources = {"metadata": {"path": str(cwd)}}
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    out = nb.cells[-1].outputs[0]["text"]
    return float(json.loads(out)), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="number prefixes, e.g. 01 04 (default all)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.notebooks:
        paths = [p for p in paths if p.name[:2] in args.notebooks]
    base, base_s = peak_mb([BASELINE], ROOT / "notebooks", args.timeout)
    rows = [("kernel with course_utils imported (baseline)", base, base_s)]
    for path in paths:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        nb = nbformat.read(path, as_version=4)
        cells = [c.source for c in nb.cells if c.cell_type == "code"]
        mb, seconds = peak_mb(cells, path.parent, args.timeout)
        rows.append((path.name, mb, seconds))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'notebook':<{width}}  peak MB  over baseline  seconds")
    for name, mb, seconds in rows:
        print(f"{name:<{width}}  {mb:7.0f}  {mb - base:13.0f}  {seconds:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
