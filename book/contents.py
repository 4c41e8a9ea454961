"""The book's table of contents: for each notebook, the part of the lecture it follows and its time
budget (the design notes, DESIGN.md, "The notebooks"). What each notebook teaches is not copied
here: it is read from the notebook itself (its title and italic subtitle line, in its first cell)
when the book is built, so the home page never disagrees with the notebook.

tests/test_book_site.py checks that every notebooks/*.ipynb has an entry here and that every entry
has a notebook.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

# Notebook stem -> (the lecture's part or slide it follows, time budget in seconds on 2 CPU cores).
LECTURE: dict[str, tuple[str, int]] = {
    "01_lenet_mnist": ("LeNet family", 60),
    "02_alexnet_augmentation": ("AlexNet, Krizhevsky's augmentation", 60),
    "03_vgg_pretrained": ("VGG19, the pretrained-model demo", 60),
    "04_convolutionization": ("fully convolutional networks, OverFeat", 60),
    "05_nin_inception": ("network in network, GoogLeNet", 60),
    "06_resnet_bottleneck": ("residual networks", 60),
    "07_resnext": ("ResNeXt", 60),
    "08_summary": ("the summary slide", 60),
    "09_every_family_trained": ("every family, trained (after the summary)", 180),
}


class ContentsError(ValueError):
    """A notebook that the home page cannot describe: not listed here, or without a title."""


@dataclass(frozen=True)
class Entry:
    """One line of the home page's list."""

    stem: str  # "01_lenet_mnist"
    title: str  # the notebook's H1 title
    teaches: str  # the notebook's italic subtitle, on one line
    part: str  # the lecture's part or slide it follows
    budget_s: int  # its time budget on 2 CPU cores, in seconds


def describe(notebook: Path) -> tuple[str, str]:
    """The title (first `# ` heading) and subtitle (the italic line after it, joined onto one line)
    of the notebook at `notebook`, read from its first cell."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    if not cells or cells[0].get("cell_type") != "markdown":
        raise ContentsError(
            f"{notebook}: the first cell should be markdown with a title and subtitle"
        )
    source = cells[0]["source"]
    text = "".join(source) if isinstance(source, list) else source
    title = re.search(r"^# +(.+?)\s*$", text, re.MULTILINE)
    if title is None:
        raise ContentsError(f"{notebook}: the first cell has no '# ' title line")
    after = text[title.end() :].lstrip("\n")
    subtitle = re.match(r"\*(?!\*)(.+?)(?<!\*)\*(?!\*)", after, re.DOTALL)
    if subtitle is None:
        raise ContentsError(
            f"{notebook}: the line after the title should be the italic subtitle, *like this*"
        )
    return title.group(1), " ".join(subtitle.group(1).split())


def entries(notebooks: list[Path]) -> list[Entry]:
    """The home page's list, in the order of `notebooks` (paths of notebooks named like the
    committed ones, executed or not). Raises ContentsError naming a notebook that LECTURE does
    not list."""
    result = []
    for path in notebooks:
        stem = Path(path).stem
        if stem not in LECTURE:
            raise ContentsError(
                f"{path}: not in book/contents.py's LECTURE; add its lecture part and time budget"
            )
        part, budget = LECTURE[stem]
        title, teaches = describe(Path(path))
        result.append(Entry(stem, title, teaches, part, budget))
    return result
