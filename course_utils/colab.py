"""Colab: the badge and the setup lines of every notebook, made from env.REPO_URL.

A face (imports env): `python -m course_utils.colab notebooks/` rewrites every notebook's badge
and setup cell (01-09).

The repository's address lives in one place, `env.REPO_URL`. After changing it (in a fork,
say), run `python -m course_utils.colab notebooks/` to rewrite every badge and setup cell;
tests/test_colab.py checks that the notebooks agree with it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from . import env

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
SETUP_START = "# In Colab only: install course_utils from the repository, enable widgets."


def github_path() -> str:
    """owner/name of the repository, from REPO_URL."""
    match = re.match(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?$", env.REPO_URL)
    if not match:
        raise ValueError(f"REPO_URL must be a GitHub repository address, not {env.REPO_URL!r}")
    return match.group(1)


def badge(notebook: str) -> str:
    """The Markdown of the "Open in Colab" badge for notebooks/<notebook>.ipynb."""
    url = f"https://colab.research.google.com/github/{github_path()}/blob/main/notebooks/{notebook}.ipynb"
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def install_command() -> str:
    """What the setup cell runs in Colab to install the course's helpers and their needs."""
    return f'%pip install -q "course_utils @ git+{env.REPO_URL}"'


def setup_lines() -> list[str]:
    """The lines at the top of every setup cell; they do nothing outside Colab."""
    return [
        "import sys",
        "",
        SETUP_START,
        'if "google.colab" in sys.modules:',
        f"    {install_command()}",
        "    from google.colab import output",
        "",
        "    output.enable_custom_widget_manager()",
        "",
    ]


def _sync(nb: dict, name: str) -> bool:
    changed = False
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        new = text
        if cell["cell_type"] == "markdown":
            new = re.sub(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", badge(name), text)
        elif SETUP_START in text:
            lines = text.split("\n")
            end = next(i for i, line in enumerate(lines) if "enable_custom_widget_manager" in line)
            start = lines.index("import sys")
            new = "\n".join(lines[:start] + setup_lines() + lines[end + 2 :])
        if new != text:
            cell["source"] = new.splitlines(keepends=True)
            changed = True
    return changed


def sync_notebooks(folder: str | Path) -> list[Path]:
    """Rewrite badges and setup cells in every notebook of `folder`; return those changed."""
    changed = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        if _sync(nb, path.stem):
            # UTF-8 and "\n" on every system: notebooks hold characters Windows' cp1252 lacks,
            # and a rewrite must not turn every line ending into "\r\n".
            text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
            with env.atomic_file(path, text=True) as out:
                out.write(text)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    """`python -m course_utils.colab [folder]`: sync the notebooks of `folder` (./notebooks)."""
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0] if argv else "notebooks")
    if not folder.is_dir() or not any(folder.glob("*.ipynb")):
        print(
            f"No notebooks in {folder.resolve()}: run this from the course repository's root, "
            "or name the folder that holds them: python -m course_utils.colab path/to/notebooks",
            file=sys.stderr,
        )
        return 2
    changed = sync_notebooks(folder)
    for p in changed:
        print(f"updated {p}")
    if not changed:
        print(f"Every notebook in {folder} already has this repository's badge and setup cell.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
