"""A class on one machine: N students on a real JupyterHub run notebooks at the same time.

The same hub as tests/test_hub.py (tests/classroom.py: JupyterHub's DummyAuthenticator and
SimpleLocalProcessSpawner on 127.0.0.1, configurable-http-proxy from `npm ci --prefix
tests/hub`), on one read-only course pack. Half the students run 01 and half 04 by default.
The baseline, in the same run, is one student alone with each notebook; the table prints each
kernel's wall time and peak memory, and the class's wall time.

    python benchmarks/classroom.py [--students 8] [--notebooks 01 04]

Needs root for the read-only bind mount of the pack, or runs with the pack only chmod-ed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from classroom import Hub, make_pack, snapshot  # noqa: E402 - after the path above


def read_only(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
    else:
        subprocess.run(["chmod", "-R", "a-w", str(folder)], check=True)


def writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["umount", str(folder)], check=False)
    subprocess.run(["chmod", "-R", "u+w", str(folder)], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--notebooks", nargs="+", default=["01", "04"], help="number prefixes")
    args = parser.parse_args(argv)
    names = {p.name[:2]: p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    unknown = [n for n in args.notebooks if n not in names]
    if unknown:
        parser.error(f"no notebook numbered {', '.join(unknown)}; there are {sorted(names)}")
    chosen = [names[n] for n in args.notebooks]
    with tempfile.TemporaryDirectory(prefix="classroom-") as tmp:
        pack = Path(tmp) / "pack"
        make_pack(pack)
        read_only(pack)
        before = snapshot(pack)
        rows = []
        try:
            with Hub(Path(tmp) / "hub", pack=pack) as hub:
                alone = {f"alone{k}": nb for k, nb in enumerate(chosen)}
                for user, nb in alone.items():  # the baseline: one student at a time
                    (run,) = hub.run_class({user: nb})
                    rows.append(("alone", run))
                count = args.students
                students = {f"student{k:02d}": chosen[k % len(chosen)] for k in range(count)}
                started = time.perf_counter()
                for run in hub.run_class(students):
                    rows.append((f"class of {args.students}", run))
                class_wall = time.perf_counter() - started
        finally:
            writable(pack)
        untouched = snapshot(pack) == before
    print(f"\n{'setting':<12}  {'student':<10}  {'notebook':<28}  ok  seconds  peak MB")
    for setting, run in rows:
        peak = run.report.get("peak_mb", float("nan"))
        ok = "yes" if run.ok else f"NO: {run.error[:60]}"
        print(
            f"{setting:<12}  {run.user:<10}  {run.notebook:<28}  {ok}  {run.seconds:7.1f}"
            f"  {peak:7.0f}"
        )
    peaks = [run.report.get("peak_mb", 0) for _, run in rows if run.ok]
    print(
        f"\nThe class of {args.students}: {class_wall:.0f} s wall time on {os.cpu_count()} CPUs; "
        f"the largest kernel {max(peaks, default=0):.0f} MB, all kernels together "
        f"{sum(r.report.get('peak_mb', 0) for s, r in rows if s != 'alone'):.0f} MB at most; "
        f"the pack {'untouched' if untouched else 'WRITTEN TO'}."
    )
    return 0 if untouched and all(run.ok for _, run in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
