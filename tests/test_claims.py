"""No markdown cell reports what a run measured as a typed number.

The rule (CONTRIBUTING, "Claims"): a sentence that reports what this run measured is printed by
the run (`cu.show.report(f"...")`, or a table built from its results), or it sits beside a
Check whose assert holds exactly the number that the sentence says. Numbers from papers and
from the lecture stay in markdown, with their source in the same sentence.

So every number in a notebook's markdown has to be *traced*, in one of two ways:

- **to the notebook's code**: the same value is a literal in one of its code cells (a setting
  such as `epochs=6`, or the number that a Check asserts, such as `== 73_856`). A rounded
  number traces to a literal that rounds to it: "73k" to `73_856`, "1.2m" to `1_180_160`;
- **to a source** named in the same sentence: a paper (et al., §, Table, Fig.), the slide or
  the lecture, torchvision's weights metadata.

Numbers that are not measurements are left alone: code spans, math, links, years, versions,
sizes such as 3×3 or 224×224, names such as ResNet-50, references ("exercise 2", "§4.1",
"notebook 04"), list markers, and whole numbers below 10 that carry no unit (%, ×, times).

A typed measurement fails here whatever its value, so prose can no longer drift from the run:
it has to be generated, asserted, or cited. Run it on one notebook while writing:

    python tests/test_claims.py notebooks/06_resnet_bottleneck.ipynb
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# A sentence that names where its numbers come from.
SOURCE = re.compile(
    r"et al\b|§|\bTable\b|\btable \d|\bFig\b|\bFig\.|\bfigures? \d|\bslides?\b|\blecture\b"
    r"|\bpapers?\b|\bAlgorithm\b|\bILSVRC|\barXiv|torchvision's (?:weights|metadata|documentation)"
    r"|\bweights' metadata|\bmetadata\b|\bas quoted\b|\bquoted\b",
    re.I,
)
# Words after which a number is a reference, not a quantity ("exercise 2", "§4.1", "Fig. 4").
REFERENCE = re.compile(
    r"(?:exercises?|sections?|§|fig\.|figures?|tables?|chapters?|steps?|parts?|slides?|cells?"
    r"|eq\.|equations?|stages?|notebooks?|version|v|python|torch|torchvision|ipywidgets"
    r"|jupyterlab|pytorch|ilsvrc|issue|layer|conv|fc|top|block|blocks)[\s\-–]*(?:\d+[,–\-]\s*)*$",
    re.I,
)
# A sentence ends at . ! ? : ; before a capital, but not after "et al." or "e.g.".
SENTENCE_END = re.compile(
    r"(?<!\bal\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bFig\.)(?<!\bvs\.)(?<=[.!?:;])\s+(?=[A-Z(*“\"])"
)
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
SCALE = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "M": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "G": 1e9,
    "B": 1e9,
}
NUMBER = re.compile(
    r"(?<![\w.,])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<pow>(?<=10)[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)?"
    r"(?P<exp>\s?[×x·]\s?10(?P<sup>[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))?"
    r"(?P<unit>\s?(?:%|×(?!\s?\d)|times\b|-fold\b|k\b|m\b|M\b|G\b|B\b|thousand\b|millions?\b|billions?\b"
    r"|s\b|seconds?\b|points?\b))?"
)


@dataclass(frozen=True)
class Claim:
    """One untraced number: where it is and the sentence that says it."""

    notebook: str
    cell: int
    number: str
    sentence: str

    def __str__(self) -> str:
        return f"{self.notebook}, cell {self.cell}: {self.number!r} in: {self.sentence}"


def _prose(markdown: str) -> str:
    """The markdown's running text: no code, math, links' targets, HTML or list markers."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " CODE ", text)
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " MATH ", text, flags=re.S)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # keep a link's words, not its URL
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"^\s*(?:[-*]|\d+\.|#+\s*\d+(?:\.\d+)*\.?)\s", " ", text, flags=re.M)
    text = re.sub(r"^#+", " ", text, flags=re.M)
    return text


def _sentences(markdown: str) -> list[str]:
    """Sentences of the prose; a Markdown table is one sentence with the paragraph before it."""
    units, paragraphs = [], re.split(r"\n\s*\n", markdown)
    for k, paragraph in enumerate(paragraphs):
        if paragraph.lstrip().startswith("|"):
            units.append((paragraphs[k - 1] if k else "") + "\n" + paragraph)
            continue
        for item in re.split(r"\n(?=\s*(?:[-*]|\d+\.)\s)", paragraph):  # one bullet at a time
            prose = " ".join(_prose(item).split())
            units += [s for s in SENTENCE_END.split(prose) if s]
    return units


def code_values(sources: list[str]) -> set[float]:
    """Every numeric literal in the code cells (magics and shell lines skipped)."""
    values: set[float] = set()
    for source in sources:
        lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline))
        except (tokenize.TokenError, SyntaxError, IndentationError):
            continue
        for tok in tokens:
            if tok.type == tokenize.NUMBER:
                try:
                    value = complex(tok.string.replace("_", "")).real
                except ValueError:
                    value = float(int(tok.string.replace("_", ""), 0))
                values.add(abs(value))
    return values


def _value(match: re.Match) -> tuple[float, float]:
    """The number's value and the width of one unit of its last digit (rounded or cut off)."""
    digits = match["num"].replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    value, step = float(digits), 10.0**-decimals
    if match["pow"]:  # 10⁻⁶: only an exact literal (1e-6) traces it
        return 10.0 ** int(match["pow"].translate(SUPERSCRIPT)), 0.0
    if match["exp"]:
        scale = 10.0 ** int(match["sup"].translate(SUPERSCRIPT))
        value, step = value * scale, step * scale
    unit = (match["unit"] or "").strip()
    if unit in SCALE:
        value, step = value * SCALE[unit], step * SCALE[unit]
    return value, step


def _traced(value: float, step: float, literals: set[float], percent: bool) -> bool:
    candidates = [value] + ([value / 100] if percent else [])
    steps = [step] + ([step / 100] if percent else [])
    return any(
        math.isclose(lit, v, rel_tol=1e-9, abs_tol=1e-12) or abs(lit - v) < h
        for v, h in zip(candidates, steps, strict=True)
        for lit in literals
    )


def _exempt(sentence: str, match: re.Match) -> bool:
    start, end = match.span()
    before, after = sentence[:start], sentence[end:]
    digits = match["num"].replace(",", "")
    unit = (match["unit"] or "").strip()
    if re.search(r"[\w\-–./]$", before):
        return True  # part of a name or token: ResNet-50, ResNet-50/101, layer4, v1.5
    if re.search(r"\d\s?[×x]\s?$", before):
        return True  # the second side of a size or product: 224×224, 32 × 32 × 2
    if re.match(r"[\w.]*\d|\s?[×x]\s?\d|[–\-]\d|\.\d|(?:st|nd|rd|th)\b|[\w]", after):
        return True  # a size (3×3), a range's first end, a version, an ordinal, a name (1x1conv)
    if REFERENCE.search(before.rstrip("( ")):
        return True
    if unit == "" and "." not in digits and len(digits) == 4 and 1900 <= int(digits) <= 2099:
        return True  # a year
    if unit in ("", "k", "m", "M") and "." not in digits and int(digits) < 10 and not unit:
        return True  # a small count without a unit: "two blocks", "stage 4"
    return False


def untraced(path: Path) -> list[Claim]:
    """Every number in the notebook's markdown that neither its code nor a source accounts for."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return untraced_cells(path.stem, cells)


def untraced_cells(name: str, cells: list[dict]) -> list[Claim]:
    """As `untraced`, on a list of cells (so that the tests can run it on small fixtures)."""
    sources = ["".join(c["source"]) for c in cells]
    literals = code_values(
        [s for s, c in zip(sources, cells, strict=True) if c["cell_type"] == "code"]
    )
    claims = []
    for k, (source, cell) in enumerate(zip(sources, cells, strict=True)):
        if cell["cell_type"] != "markdown":
            continue
        for sentence in _sentences(source):
            if SOURCE.search(sentence):
                continue
            for match in NUMBER.finditer(sentence.translate({0x2009: " ", 0x202F: " "})):
                if _exempt(sentence, match):
                    continue
                value, step = _value(match)
                percent = (match["unit"] or "").strip() == "%"
                if not _traced(value, step, literals, percent):
                    claims.append(Claim(name, k, match.group(0).strip(), sentence))
    return claims


# --- the notebooks ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_markdown_reports_no_typed_measurement(path):
    claims = untraced(path)
    assert not claims, (
        "Markdown that states numbers neither the code nor a named source accounts for. Print "
        "a measurement from the run (cu.show.report), assert it in a Check, or name the "
        "paper, table or slide it comes from:\n" + "\n".join(map(str, claims))
    )


# --- the rule itself, on small fixtures --------------------------------------------------------


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "source": text, "metadata": {}}


def _code(text: str) -> dict:
    return {"cell_type": "code", "source": text, "metadata": {}, "outputs": []}


# Cells as they stood on main before issue 19 (06's gradient Check, 09's race paragraph): each
# reports this run's measurements as typed numbers, so the rule must reject them.
OLD_06 = [
    _code(
        'assert ratios["plain, He init"] > 0.1 and ratios["plain, He init and batch-norm"] > 0.1'
    ),
    _md(
        "**Check.** With He initialisation, with or without batch-norm, the plain stack's first "
        "layer gets a gradient within a factor of 10 of its last: the gradients do not vanish."
    ),
]
OLD_09 = [
    _code("results = cu.race.race(train, test, epochs=5)"),
    _md(
        "Measured on the shipped digits: NiN 93.4%, GoogLeNet 94.4%, ResNeXt 95.2%, "
        "ResNet-bottleneck 95.5%, AlexNet 96.0%, LeNet5 96.4%, ResNet 97.0%, VGG 97.3%."
    ),
]


def test_the_old_06_and_09_fail_the_rule():
    assert [c.number for c in untraced_cells("06", OLD_06)] == ["10"]
    assert [c.number for c in untraced_cells("09", OLD_09)] == [
        "93.4%",
        "94.4%",
        "95.2%",
        "95.5%",
        "96.0%",
        "96.4%",
        "97.0%",
        "97.3%",
    ]


def test_a_number_the_code_asserts_or_a_source_names_is_traced():
    cells = [
        _code("assert rows == [73_856, 1_180_160, 69_696]\nassert 0.1 < r < 10\nacc > 0.975"),
        _md("Built blocks and formulas agree: 73k, 1.2m and 70k parameters."),
        _md("The first layer's gradient is within a factor of 10 of its last."),
        _md("It reached at least 97.5% here."),
        _md("He et al. report 3.57% top-5 error (table 5); AlexNet has 61.1M parameters (slide)."),
        _md("A 3×3 convolution on 224×224 images, as in ResNet-50 v1.5 (exercise 2, §4.1)."),
        _md("Two blocks of 3 layers, in 2015."),
    ]
    assert untraced_cells("fixture", cells) == []


def test_a_typed_measurement_is_caught_whatever_its_form():
    cells = [
        _code("epochs = 4"),
        _md("This run took 12 s."),
        _md("The gap went from 6.0 to 1.6 points."),
        _md("One pass is 5× faster than the crops."),
        _md("The ratio was about 10⁶."),
        _md("It trained 4 epochs to a loss of 0.274."),
    ]
    assert [c.number for c in untraced_cells("fixture", cells)] == [
        "12 s",
        "6.0",
        "1.6 points",
        "5×",
        "10⁶",
        "0.274",
    ]


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or NOTEBOOKS
    found = [claim for p in paths for claim in untraced(p)]
    print("\n".join(map(str, found)) or "every number is traced")
    sys.exit(1 if found else 0)
