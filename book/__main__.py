"""`python -m book`: build the course as a book into _build/ (README, "The book").

python -m book                         execute, stage, build the site, slides, student editions
python -m book --only 07               the same for some notebooks (a quick look)
python -m book check-publishable       refuse a book with untrained weights (book.publish)
python -m book check-browser           open every page in Chromium, offline (book.browser)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from book import default_repo
from book.execute import CELL_LIMIT, NOTEBOOKS, ROOT, BookError, execute_all


def _count(notebooks: list[Path]) -> str:
    return f"{len(notebooks)} notebook" + ("" if len(notebooks) == 1 else "s")


def _seconds(executed: list[Path]) -> dict[str, float]:
    """How long each executed notebook took to run, as its copy records it (book.execute)."""
    import nbformat

    return {
        path.stem: nbformat.read(path, as_version=4).metadata["course_book"]["seconds"]
        for path in executed
    }


def build(
    out: Path = ROOT / "_build",
    *,
    only: list[str] | None = None,
    repo: str | None = None,
    branch: str = "main",
    cell_limit: int = CELL_LIMIT,
    jobs: int = 1,
) -> Path:
    """Build the whole book into `out`; return the site's folder (`out`/html).

    Executes the notebooks (reusing unchanged runs) into `out`/executed, stages them into
    `out`/src, builds the site with Sphinx into `out`/html, then writes the slide decks
    (html/slides) and the student editions (html/student), and scans every file of the site for
    anything loaded from another host."""
    from book.scan import external_loads
    from book.site import build_site
    from book.slides import write_slides
    from book.stage import stage
    from book.student import write_student_editions

    start = time.monotonic()
    repo = repo or default_repo()
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    if only:
        notebooks = [nb for nb in notebooks if any(nb.name.startswith(o) for o in only)]
        if not notebooks:
            raise BookError(f"No notebook in {NOTEBOOKS} starts with {' or '.join(only)}.")
    executed = execute_all(notebooks, out / "executed", cell_limit=cell_limit, jobs=jobs)
    src, html = out / "src", out / "html"
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(html, ignore_errors=True)  # no page of an earlier build survives
    stage(executed, src, repo=repo, branch=branch, measured=_seconds(executed))
    build_site(src, html)
    write_slides(executed, html / "slides")
    write_student_editions(notebooks, html / "student")
    if problems := external_loads(html):
        raise BookError(
            f"The site in {html} loads {len(problems)} things from other hosts, and must work "
            "offline:\n  " + "\n  ".join(problems[:20])
        )
    print(
        f"The book is in {html} ({_count(notebooks)}, {time.monotonic() - start:.0f} s): "
        f"open {html / 'index.html'}; slide decks in {html / 'slides'}, student editions in "
        f"{html / 'student'}."
    )
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m book", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command",
        nargs="?",
        default="build",
        choices=["build", "check-publishable", "check-browser"],
    )
    parser.add_argument("--out", type=Path, default=ROOT / "_build", help="default: _build")
    parser.add_argument("--only", nargs="+", metavar="NN", help="notebooks whose names start so")
    parser.add_argument("--repo", help=f"owner/name for the Colab links (default {default_repo()})")
    parser.add_argument("--branch", default="main", help="the branch the Colab links open")
    parser.add_argument(
        "--cell-limit",
        type=int,
        default=CELL_LIMIT,
        metavar="SECONDS",
        help=f"a cell running longer fails the build (default {CELL_LIMIT})",
    )
    parser.add_argument("--jobs", type=int, default=1, help="notebooks executed at once")
    args = parser.parse_args(argv)
    try:
        if args.command == "check-publishable":
            from book.publish import main as publish

            return publish([str(args.out)])
        if args.command == "check-browser":
            from book.browser import main as browser

            return browser([str(args.out / "html"), str(args.out / "executed")])
        build(
            args.out,
            only=args.only,
            repo=args.repo,
            branch=args.branch,
            cell_limit=args.cell_limit,
            jobs=args.jobs,
        )
    except BookError as err:
        print(f"The book was not built: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
