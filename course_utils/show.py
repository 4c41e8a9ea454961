"""Showing things: notes and warnings, progress bars, Markdown reports and tables, timings.

The ground floor: it imports nothing from the package. Every notebook (01-09) shows its
results through it; `Report` is what a cell returns to show a table or a measured sentence.
"""

from __future__ import annotations

import html
import sys
import time
import warnings
from collections.abc import Sequence

# --- the course's one palette ------------------------------------------------------------------
# Okabe & Ito's colours, which colour-blind readers can tell apart (Wong 2011, Nature Methods 8,
# 441), by name; then the greys, and the red of a wrong answer. Every figure and diagram takes
# its colours from here, and every chart gives a family the same colour.
BLUE, VERMILION, GREEN, ORANGE = "#0072b2", "#d55e00", "#009e73", "#e69f00"
PINK, SKY = "#cc79a7", "#56b4e9"
GREY, LIGHT_GREY, DARK_GREY, INK, WRONG = "#999999", "#bbbbbb", "#555555", "#222222", "#c00000"
RIGHT = "#007a4d"  # a darker green, for text on white
# The order in which a figure's runs or series take colours.
SERIES = (BLUE, VERMILION, GREEN, PINK, ORANGE, SKY, DARK_GREY)
# One colour per family, the same in every chart; NiN's brown, ResNet-bottleneck's purple and
# DenseNet's olive extend Okabe & Ito's eight (DenseNet's is Paul Tol's).
FAMILY_COLORS = {
    "LeNet5": DARK_GREY,
    "AlexNet": ORANGE,
    "VGG": SKY,
    "NiN": "#8c510a",
    "GoogLeNet": GREEN,
    "ResNet": BLUE,
    "ResNet-bottleneck": "#6a3d9a",
    "ResNeXt": VERMILION,
    "DenseNet": "#999933",
    "wide ResNet": PINK,
}


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, classic Notebook, Colab, nbval)."""
    if "google.colab" in sys.modules:
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


class CourseWarning(UserWarning):
    """Something the student must know about, such as untrained weights standing in."""


def warn(text: str, *, stacklevel: int = 2) -> None:
    """Report a problem once: a coloured note in a notebook, a CourseWarning elsewhere."""
    if in_notebook():
        note(text)
    else:
        warnings.warn(text, CourseWarning, stacklevel=stacklevel + 1)


class Progress:
    """A progress bar that a saved notebook keeps in its final state.

    In a notebook it is HTML shown through a display handle, which each update replaces, so
    the executed copy holds the last state (a tqdm widget would save as "0%"). Elsewhere it is
    tqdm's text bar. Updates are shown at most every `interval` seconds, and at close.
    """

    def __init__(self, total: int, *, desc: str, unit: str, interval: float = 0.25) -> None:
        self.total, self.desc, self.unit, self.interval = total, desc, unit, interval
        self.n, self.postfix, self.start = 0, "", time.perf_counter()
        self.shown = self.start  # the first display, just below
        self.handle = self.bar = None
        if in_notebook():
            from IPython.display import display

            self.handle = display(self._bundle(), raw=True, display_id=True)
        else:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, mininterval=interval)

    def _text(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = ""
        if elapsed > 0 and self.n:  # slow steps (a network each) read as seconds per step
            per_second = self.n / elapsed
            rate = (
                f", {per_second:,.0f} {self.unit}/s"
                if per_second >= 1
                else f", {elapsed / self.n:,.1f} s per {self.unit.removesuffix('s')}"
            )
        done = f"{self.n / self.total:.0%}" if self.total else "100%"
        tail = f", {self.postfix}" if self.postfix else ""
        counts = f"{self.n:,}/{self.total:,} {self.unit}, {elapsed:.1f} s{rate}{tail}"
        return f"{self.desc}: {done} ({counts})"

    def _bundle(self) -> dict:
        text = self._text()
        bar = (
            f'<progress value="{self.n}" max="{max(self.total, 1)}" '
            'style="width:320px;vertical-align:middle"></progress> '
            f"<span style='font-family:monospace'>{html.escape(text)}</span>"
        )
        return {"text/plain": text, "text/html": bar}

    def update(self, n: int = 1, *, postfix: str | None = None, force: bool = False) -> None:
        """Count `n` more steps; `postfix` replaces the text after the counts."""
        self.n += n
        if postfix is not None:
            self.postfix = postfix
        if self.bar is not None:
            if postfix is not None:
                self.bar.set_postfix_str(postfix, refresh=False)
            self.bar.update(n)
        elif force or time.perf_counter() - self.shown >= self.interval:
            self.handle.update(self._bundle(), raw=True)
            self.shown = time.perf_counter()

    def close(self) -> None:
        """Show the final state."""
        if self.bar is not None:
            self.bar.close()
        else:
            self.handle.update(self._bundle(), raw=True)


def note(text: str) -> None:
    """Show a short, visible note: a coloured box in a notebook, a plain line elsewhere."""
    if in_notebook():
        from IPython.display import HTML, display

        display(
            HTML(
                f'<div style="border-left:4px solid {ORANGE};background:#fff8e6;'
                f'color:#222;padding:6px 10px;margin:4px 0">{html.escape(text)}</div>'
            )
        )
    else:
        print(f"Note: {text}", flush=True)


class Report:
    """Text written from measured numbers: Markdown in a notebook, plain text elsewhere."""

    def __init__(self, markdown: str, rows: dict | None = None) -> None:
        self.markdown, self.rows = markdown, rows if rows is not None else {}

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        return self.markdown


def report(text: str) -> Report:
    """A sentence written from this run's numbers: Markdown in a notebook, text elsewhere."""
    return Report(str(text))


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], *, note: str = "") -> Report:
    """A Markdown table (numbers formatted with thousands separators), with an optional note."""

    def cell(v) -> str:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return str(v)
        return f"{v:,}" if isinstance(v, int) else f"{v:,.3g}"

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return Report(
        "\n".join(lines) + (f"\n\n{note}" if note else ""),
        {str(row[0]): list(row[1:]) for row in rows},
    )


def timed(fn, *args, repeats: int = 1):
    """fn(*args) and the best of `repeats` wall-clock times in seconds."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - start)
    return result, best


def short_error(err: BaseException) -> str:
    """The most telling line of an exception: its last non-empty line, with its type."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1]}" if lines else type(err).__name__
