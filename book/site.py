"""Build the book's static site from the staged sources (issue 24).

`build_site(src, html)` runs Sphinx (myst-nb, sphinx-book-theme; book/conf.py, staged as
src/conf.py) with warnings as errors, then copies the scripts, styles and fonts that the pages load
into the site's `_static/`, from book/node_modules (npm, pinned by book/package-lock.json):

    _static/mathjax/        MathJax 3 (es5: tex-chtml.js, its extensions and woff fonts)
    _static/requirejs/      require.js, which the widget renderer needs
    _static/html-manager/   @jupyter-widgets/html-manager 1.x: embed-amd.js and its fonts
    _static/reveal.js/      reveal.js 4 (dist/, plugin/notes/) for the slide decks

If book/node_modules is missing, it runs `npm ci --prefix book` first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent
NODE_MODULES = BOOK / "node_modules"

# Site folder under _static -> (package folder under node_modules, parts of it to copy).
ASSETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "mathjax": ("mathjax/es5", (".",)),  # less latest.js (EXCLUDE)
    "requirejs": ("requirejs", ("require.js",)),
    "html-manager": (
        "@jupyter-widgets/html-manager/dist",
        ("embed-amd.js", "*.woff", "*.woff2", "*.ttf", "*.eot", "*.svg"),
    ),
    "reveal.js": ("reveal.js", ("dist", "plugin/notes", "LICENSE")),
}
# Never copied: MathJax's latest.js loads "the latest MathJax" from a CDN (nothing here uses it),
# and reveal.js's themes that @import Google Fonts (book/scan.py finds them). The themes kept
# (white, nbconvert's default, black and serif) use fonts shipped in dist/theme/fonts.
EXCLUDE = {"mathjax/latest.js"} | {
    f"reveal.js/dist/theme/{theme}.css"
    for theme in ("beige", "blood", "league", "moon", "night", "simple", "sky", "solarized")
}


class SiteError(RuntimeError):
    """The site could not be built; the message names the file and what to do."""


def ensure_node_modules(book: Path = BOOK) -> Path:
    """book/node_modules, installed with `npm ci --prefix book` if it is missing or incomplete."""
    modules = book / "node_modules"
    missing = [pkg for pkg, _ in ASSETS.values() if not (modules / pkg).exists()]
    if not missing:
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise SiteError(
            f"{modules}: missing {', '.join(missing)}, and npm is not installed. Install Node.js "
            f"20 or later (it comes with npm), then run: npm ci --prefix {book}"
        )
    done = subprocess.run(
        [npm, "ci", "--prefix", str(book), "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SiteError(
            f"{book / 'package-lock.json'}: `npm ci --prefix {book}` failed "
            f"(exit {done.returncode}):\n{done.stderr.strip() or done.stdout.strip()}"
        )
    still = [pkg for pkg, _ in ASSETS.values() if not (modules / pkg).exists()]
    if still:
        raise SiteError(
            f"{book / 'package.json'}: after npm ci, node_modules still lacks {', '.join(still)}"
        )
    return modules


def copy_assets(static: Path, modules: Path = NODE_MODULES) -> None:
    """Copy the local MathJax, require.js, html-manager, reveal.js and jQuery into `static`."""
    for name, (package, parts) in ASSETS.items():
        base = modules / package
        dest = static / name
        if dest.exists():
            shutil.rmtree(dest)
        for part in parts:
            sources = [base] if part == "." else sorted(base.glob(part))
            if not sources:
                raise SiteError(f"{base / part}: missing; run npm ci --prefix {BOOK}")
            for source in sources:
                target = dest / source.relative_to(base)
                if source.is_dir():
                    shutil.copytree(source, target, dirs_exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
        for excluded in EXCLUDE:
            if excluded.startswith(name + "/"):
                (static / excluded).unlink(missing_ok=True)


def _warning_lines(output: str) -> list[str]:
    keep = [
        line
        for line in output.splitlines()
        if "WARNING" in line or "ERROR" in line or "Error" in line or "Exception" in line
    ]
    return keep or output.strip().splitlines()[-30:]


def build_site(src: Path, html: Path) -> None:
    """Build the site in `html` from the sources that book.stage.stage wrote into `src`.

    Sphinx runs with -W (a warning fails the build) and never executes a notebook. Raises
    SiteError naming the source folder and showing Sphinx's warnings if it fails.
    """
    src, html = Path(src).resolve(), Path(html).resolve()
    if not (src / "conf.py").exists():
        raise SiteError(f"{src / 'conf.py'}: missing; stage the sources first (book.stage.stage)")
    try:
        import myst_nb  # noqa: F401
        import sphinx  # noqa: F401
        import sphinx_book_theme  # noqa: F401
    except ImportError as e:
        raise SiteError(
            f"{e.name} is not installed: pip install -r {BOOK / 'requirements.txt'}"
        ) from e
    modules = ensure_node_modules()
    html.mkdir(parents=True, exist_ok=True)
    doctrees = src / "_doctrees"
    command = [
        sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-E",
        "-d", str(doctrees), "-D", "nb_execution_mode=off", str(src), str(html),
    ]  # fmt: skip
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        lines = "\n".join(_warning_lines(done.stderr + "\n" + done.stdout))
        raise SiteError(
            f"{src}: sphinx-build failed (exit {done.returncode}); its warnings, which -W makes "
            f"errors:\n{lines}"
        )
    copy_assets(html / "_static", modules)
