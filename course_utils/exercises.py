"""Exercises that check themselves, and a grader for a class's notebooks.

A lecture module: it imports the ground and the tools, never the widgets. It serves every
notebook, 01-09: an answer cell ends with `check("06", 1, answer)`, which prints ✓ or ✗ with a
hint for the common wrong answers (recognised by value), never the answer; `...` is "not
answered yet". `hint`, `look_for` and `progress` help along the way. Predict-then-run questions
go through the same `check`, with the run's own results: it compares the prediction with what
the run measured, and says what that was.

`python -m course_utils.exercises grade FOLDER` runs every notebook in FOLDER in a kernel of its
own, with time limits, and writes one CSV row per notebook. It runs the students' code: run it
in a container or as an unprivileged user.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import anatomy, blocks, counting, env, headless, nets, receptive, show

Run = Mapping[str, Any]

# When this variable names a file, every check appends one JSON line to it: the grader reads
# them from each student's kernel (see `grade`).
RECORD_ENV = "COURSE_GRADE_RECORD"


class UnknownExerciseError(env.CourseError, ValueError):
    """A check, hint or look-up for an exercise that the registry does not have."""


class AnswerFormError(env.CourseError, ValueError):
    """An answer that is not of the form the exercise asks for; the message says which."""


# --- reading answers ------------------------------------------------------------------------


def _scalar(x: Any) -> Any:
    """A Python number from a tensor or NumPy scalar of one element, else `x` unchanged."""
    if isinstance(x, torch.Tensor) and x.numel() == 1:
        return x.item()
    if type(x).__module__ == "numpy" and getattr(x, "size", 0) == 1:
        return x.item()
    return x


def read_number(x: Any) -> int | float:
    """An int or float from a number, a one-element tensor or array, or a string such as
    "51,748"; AnswerFormError for anything else."""
    x = _scalar(x)
    if isinstance(x, str):
        text = re.sub(r"[,_\s]", "", x)
        for kind in (int, float):
            with contextlib.suppress(ValueError):
                x = kind(text)
                break
    if isinstance(x, bool) or not isinstance(x, int | float) or math.isnan(x):
        raise AnswerFormError("a number")
    return x


class Form:
    """How an exercise reads an answer and compares it with the right one."""

    describe = "an answer"

    def read(self, answer: Any) -> Any:
        return answer

    def same(self, value: Any, expected: Any) -> bool:
        return value == expected

    def near(self, value: Any, expected: Any) -> bool:
        """Close to the right answer, but outside the stated tolerance."""
        return False


@dataclass(frozen=True)
class Number(Form):
    """A number: whole numbers exactly, others within `rel` (relative) or `abs` (absolute)."""

    whole: bool = False
    rel: float = 1e-3
    abs: float = 0.0
    what: str = ""

    @property
    def describe(self) -> str:
        if self.whole:
            kind = "a whole number"
        elif self.abs:
            kind = f"a number (within {self.abs:g}, absolute)"
        else:
            kind = f"a number (within {self.rel:g}, relative)"
        return f"{kind}{': ' + self.what if self.what else ''}"

    def read(self, answer: Any) -> int | float:
        try:
            x = read_number(answer)
        except AnswerFormError:
            raise AnswerFormError("a whole number" if self.whole else "a number") from None
        if self.whole:
            if isinstance(x, float) and not x.is_integer():
                raise AnswerFormError("a whole number")
            return int(x)
        return x

    def same(self, value: float, expected: float) -> bool:
        if self.whole:
            return value == expected
        return math.isclose(value, expected, rel_tol=self.rel, abs_tol=self.abs)

    def near(self, value: float, expected: float) -> bool:
        return not self.same(value, expected) and abs(value - expected) <= 0.05 * abs(expected)


@dataclass(frozen=True)
class Several(Form):
    """A tuple or list of answers, each read and compared by its own form."""

    parts: tuple[Form, ...]
    what: str = ""

    @property
    def describe(self) -> str:
        return f"{len(self.parts)} answers in a tuple{': ' + self.what if self.what else ''}"

    def read(self, answer: Any) -> tuple:
        if isinstance(answer, torch.Tensor):
            answer = answer.tolist()
        if isinstance(answer, str | bytes | Mapping) or not isinstance(answer, Iterable):
            raise AnswerFormError(self.describe)
        items = list(answer)
        if len(items) != len(self.parts):
            raise AnswerFormError(f"{len(self.parts)} answers in a tuple, not {len(items)}")
        return tuple(form.read(item) for form, item in zip(self.parts, items, strict=True))

    def same(self, value: tuple, expected: tuple) -> bool:
        return all(f.same(v, e) for f, v, e in zip(self.parts, value, expected, strict=True))

    def near(self, value: tuple, expected: tuple) -> bool:
        return not self.same(value, expected) and all(
            f.same(v, e) or f.near(v, e)
            for f, v, e in zip(self.parts, value, expected, strict=True)
        )


def numbers(k: int, *, whole: bool = True, what: str = "", **tolerance) -> Several:
    """A tuple of `k` numbers."""
    return Several(tuple(Number(whole=whole, **tolerance) for _ in range(k)), what=what)


def _words(text: str) -> str:
    """Lower case, no quotes or final full stop, single spaces: how names and choices compare."""
    text = str(text).strip().strip("\"'`").rstrip(".!").lower()
    return re.sub(r"\s+", " ", text)


@dataclass(frozen=True)
class Choice(Form):
    """One of a few words; each option's aliases read as the option."""

    options: Mapping[str, tuple[str, ...]]

    # Not the options themselves: one of them is the answer, and no message shows it.
    describe = "one of the choices that the comment lists"

    def read(self, answer: Any) -> str:
        if not isinstance(answer, str):
            raise AnswerFormError(self.describe)
        said = _words(answer)
        for option, aliases in self.options.items():
            if said in {_words(option), *map(_words, aliases)}:
                return option
        raise AnswerFormError(self.describe)


@dataclass(frozen=True)
class Name(Form):
    """A name (of a layer, a network, a family), compared without case or quotes. `expected`
    may be a tuple of names that are all right."""

    what: str = "a name"

    @property
    def describe(self) -> str:
        return f"{self.what}, as a string"

    def read(self, answer: Any) -> str:
        if not isinstance(answer, str) or not answer.strip():
            raise AnswerFormError(self.describe)
        return re.sub(r"\[(\d+)\]", r".\1", _words(answer))  # features[0] -> features.0

    def same(self, value: str, expected: str | tuple[str, ...]) -> bool:
        return value in {
            _words(e) for e in ((expected,) if isinstance(expected, str) else expected)
        }


@dataclass(frozen=True)
class NameSet(Form):
    """A set of names (a string, or a list, tuple or set of strings); order does not count."""

    what: str = "names"

    @property
    def describe(self) -> str:
        return f"{self.what}, as a set or list of strings"

    def read(self, answer: Any) -> frozenset[str]:
        items = [answer] if isinstance(answer, str) else answer
        if not isinstance(items, Iterable) or isinstance(items, Mapping):
            raise AnswerFormError(self.describe)
        items = list(items)
        if not all(isinstance(i, str) for i in items):
            raise AnswerFormError(self.describe)
        return frozenset(Name().read(i) for i in items)

    def same(self, value: frozenset, expected: Iterable[str]) -> bool:
        return value == frozenset(_words(e) for e in expected)


@dataclass(frozen=True)
class Numbers(Form):
    """A list of whole numbers whose order does not count (a multiset)."""

    what: str = "whole numbers"

    @property
    def describe(self) -> str:
        return f"{self.what}, as a list"

    def read(self, answer: Any) -> tuple[int, ...]:
        if isinstance(answer, torch.Tensor):
            answer = answer.flatten().tolist()
        if isinstance(answer, str | Mapping) or not isinstance(answer, Iterable):
            raise AnswerFormError(self.describe)
        return tuple(sorted(Number(whole=True).read(a) for a in answer))

    def same(self, value: tuple, expected: Iterable[int]) -> bool:
        return value == tuple(sorted(expected))


@dataclass(frozen=True)
class Table(Form):
    """A dict from names to numbers: the same names, each number within `abs`."""

    abs: float
    what: str = ""

    @property
    def describe(self) -> str:
        return f"a dict from names to numbers (each within {self.abs:g}){': ' + self.what}"

    def read(self, answer: Any) -> dict[str, float]:
        if not isinstance(answer, Mapping):
            raise AnswerFormError(self.describe)
        return {_words(k): read_number(v) for k, v in answer.items()}

    def same(self, value: dict, expected: Mapping[str, float]) -> bool:
        expected = {_words(k): v for k, v in expected.items()}
        return value.keys() == expected.keys() and all(
            math.isclose(value[k], expected[k], rel_tol=0, abs_tol=self.abs) for k in value
        )


@dataclass(frozen=True)
class Close(Form):
    """A tensor, compared with `torch.testing.assert_close` at these tolerances."""

    rtol: float = 1e-3
    atol: float = 1e-5
    what: str = "a tensor"

    @property
    def describe(self) -> str:
        return f"{self.what} (compared with assert_close, rtol {self.rtol:g}, atol {self.atol:g})"

    def read(self, answer: Any) -> torch.Tensor:
        try:
            return torch.as_tensor(answer, dtype=torch.float64).detach().cpu()
        except (TypeError, ValueError, RuntimeError):
            raise AnswerFormError(self.describe) from None

    def same(self, value: torch.Tensor, expected: torch.Tensor) -> bool:
        expected = torch.as_tensor(expected, dtype=torch.float64)
        if value.shape != expected.shape:
            return False
        try:
            torch.testing.assert_close(value, expected, rtol=self.rtol, atol=self.atol)
        except AssertionError:
            return False
        return True


# --- exercises, predictions and open questions ----------------------------------------------


@dataclass(frozen=True)
class Wrong:
    """A common wrong answer and the hint it gets. `value` is the wrong answer itself, or a
    function (right answer, run) -> wrong answer; `test` a function (answer, right answer, run)
    -> bool, for wrong answers that are a kind rather than a value. `hint` may be a function
    (answer, right answer, run) -> str."""

    hint: str | Callable[[Any, Any, Run], str]
    value: Any = None
    test: Callable[[Any, Any, Run], bool] | None = None

    def matches(self, answer: Any, right: Any, run: Run, form: Form) -> bool:
        if self.test is not None:
            return bool(self.test(answer, right, run))
        wrong = self.value(right, run) if callable(self.value) else self.value
        try:
            return form.same(answer, form.read(wrong))
        except AnswerFormError:
            return False

    def say(self, answer: Any, right: Any, run: Run) -> str:
        return self.hint(answer, right, run) if callable(self.hint) else self.hint


class _Numbered:
    """A numbered exercise's key (its number) and label ("Exercise 06.1")."""

    notebook: str
    n: int

    @property
    def key(self) -> int:
        return self.n

    @property
    def label(self) -> str:
        return f"Exercise {self.notebook}.{self.n}"


@dataclass(frozen=True)
class Exercise(_Numbered):
    """A numbered exercise whose answer a check can judge.

    `right(run)` computes the right answer (from the package where it can; `source` says
    where it comes from); `needs` names the run's results that `check` must be given for it.
    A `judge(answer, run) -> (right?, hint)` replaces the comparison for answers that are
    judged by behaviour (a function) or against the run (a test digit it gets wrong)."""

    notebook: str
    n: int
    form: Form
    source: str
    right: Callable[[Run], Any] | None = None
    wrong: tuple[Wrong, ...] = ()
    hints: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    judge: Callable[[Any, Run], tuple[bool, str]] | None = None
    kind = "exercise"

    def verdict(self, answer: Any, run: Run) -> tuple[bool, str]:
        """(right?, what to say if not), for an answer that is not `...`."""
        if self.judge is not None:
            return self.judge(answer, run)
        value = self.form.read(answer)
        right = _right_answer(self, run)
        if self.form.same(value, right):
            return True, ""
        for wrong in self.wrong:
            if wrong.matches(value, right, run, self.form):
                return False, wrong.say(value, right, run)
        if self.form.near(value, right):
            return False, f"Close, but not within the tolerance ({self.form.describe})."
        return False, ""


@dataclass(frozen=True)
class Prediction:
    """A predict-then-run question: the prediction is compared with what the run measured.

    `outcome(run)` gives the run's own answer in the prediction's form, and a sentence saying
    what the run showed; `agree(prediction, outcome)` decides (the form's `same` by default)."""

    notebook: str
    name: str
    form: Form
    outcome: Callable[[Run], tuple[Any, str]]
    needs: tuple[str, ...]
    agree: Callable[[Any, Any], bool] | None = None
    kind = "prediction"

    @property
    def key(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return f"Prediction {self.notebook} “{self.name}”"

    def verdict(self, answer: Any, run: Run) -> tuple[bool, str]:
        value = self.form.read(answer)
        truth, showed = self.outcome(run)
        agree = self.agree or self.form.same
        if agree(value, truth):
            return True, f"your prediction matched this run: {showed}"
        return False, f"this run showed otherwise: {showed}"


@dataclass(frozen=True)
class OpenExercise(_Numbered):
    """An open-ended exercise: no check, but a list of what to look for in an answer."""

    notebook: str
    n: int
    look_for: tuple[str, ...]
    kind = "open"


Item = Exercise | Prediction | OpenExercise
REGISTRY: dict[tuple[str, int | str], Item] = {}


def _add(*items: Item) -> None:
    for item in items:
        key = (item.notebook, item.key)
        assert key not in REGISTRY, f"{key} registered twice"
        REGISTRY[key] = item


def items(notebook: str | None = None, kind: str | None = None) -> list[Item]:
    """The registered exercises, predictions and open exercises (of one notebook, one kind)."""
    return [
        item
        for item in REGISTRY.values()
        if (notebook is None or item.notebook == _notebook(notebook))
        and (kind is None or item.kind == kind)
    ]


def _notebook(notebook: str | int) -> str:
    text = str(notebook).strip()
    return f"{int(text):02d}" if text.isdigit() else text


def _item(notebook: str | int, key: int | str) -> Item:
    found = REGISTRY.get((_notebook(notebook), key))
    if found is None:
        known = ", ".join(str(i.key) for i in items(_notebook(notebook))) or "none"
        raise UnknownExerciseError(
            f"No exercise {key!r} in notebook {notebook!r}; its exercises: {known}."
        )
    return found


_RIGHT: dict[tuple[str, int | str], Any] = {}


def _right_answer(item: Exercise, run: Run) -> Any:
    """The right answer; computed once per kernel when it does not depend on the run."""
    if item.needs:
        return item.right(run)
    key = (item.notebook, item.key)
    if key not in _RIGHT:
        _RIGHT[key] = item.right(run)
    return _RIGHT[key]


# --- what students call ---------------------------------------------------------------------

# This kernel's results: (notebook, key) -> True, False, or None (checked while unanswered).
_SESSION: dict[tuple[str, int | str], bool | None] = {}


def _unwrap(answer: Any) -> Any:
    """A choice widget's value (cu.widgets.prediction): duck-typed, as only widgets may import
    ipywidgets."""
    if any(c.__module__.startswith("ipywidgets") for c in type(answer).__mro__):
        return getattr(answer, "value", answer)
    return answer


def _record(item: Item, result: bool | None) -> None:
    _SESSION[(item.notebook, item.key)] = result
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    line = {"notebook": item.notebook, "exercise": item.key, "kind": item.kind, "result": result}
    with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def check(notebook: str, n: int | str, answer: Any, **run: Any) -> bool | None:
    """Print ✓ or ✗ (with a hint for a known wrong answer) for `answer` to exercise `n` of
    `notebook`, or, for a prediction (`n` its name), compare it with the run's results given
    as keywords. Returns True or False; None, with "not answered yet", for `...`."""
    item = _item(notebook, n)
    if isinstance(item, OpenExercise):
        print(f"{item.label} is open: no check. cu.exercises.look_for(...) lists what to look for.")
        return None
    widget, answer = answer, _unwrap(answer)
    if answer is ... or (isinstance(item, Prediction) and answer is None):
        what = "prediction" if isinstance(item, Prediction) else "answer"
        how = (
            "Choose one above"
            if widget is not answer
            else f"Write your {what} ({item.form.describe}) in place of ..."
        )
        print(f"{item.label}: not answered yet. {how}, then run this cell again.")
        _record(item, None)
        return None
    missing = [name for name in item.needs if run.get(name, ...) is ...]
    if missing:
        print(
            f"{item.label}: this check also needs your run's {', '.join(missing)}: set them "
            f"in the cell and pass them ({', '.join(f'{n}=...' for n in item.needs)})."
        )
        return None
    try:
        with torch.random.fork_rng(devices=[]):  # checking never moves the student's seed
            ok, say = item.verdict(answer, run)
    except AnswerFormError as err:
        ok, say = False, f"Expected {err}."
    except Exception as err:  # a student's function that raises, a tensor of the wrong shape
        ok, say = False, f"checking it raised {show.short_error(err)}."
    if isinstance(item, Prediction):
        print(f"{'✓' if ok else '✗'} {item.label}: {say}")
    elif ok:
        print(f"✓ {item.label}: right.")
    else:
        say = say or f'cu.exercises.hint("{item.notebook}", {item.n}) gives a hint.'
        print(f"✗ {item.label}: not yet. {say}")
    _record(item, ok)
    return ok


def hint(notebook: str, n: int, level: int = 1) -> None:
    """Print hint `level` (1, or 2 for a more direct one) for exercise `n` of `notebook`."""
    item = _item(notebook, n)
    if isinstance(item, OpenExercise):
        look_for(notebook, n)
        return
    if not isinstance(item, Exercise) or not item.hints:
        print(f"{item.label} has no hints: run the cell that measures it and read what it says.")
        return
    level = max(1, min(int(level), len(item.hints)))
    more = (
        f' For a more direct one: cu.exercises.hint("{item.notebook}", {item.n}, level=2).'
        if level < len(item.hints)
        else " (The worked solution is folded at the end of the notebook.)"
    )
    print(f"Hint {level} of {len(item.hints)} for {item.label}: {item.hints[level - 1]}{more}")


def look_for(notebook: str, n: int) -> None:
    """Print what to look for in an answer to open exercise `n` of `notebook`."""
    item = _item(notebook, n)
    if not isinstance(item, OpenExercise):
        print(f"{item.label} checks itself: run its answer cell.")
        return
    print(f"{item.label}, what to look for in your answer:")
    for point in item.look_for:
        print(f"- {point}")


def progress(notebook: str) -> dict[int | str, bool | None]:
    """Print this notebook's checked exercises and predictions, each ✓, ✗ or not answered, as
    this kernel has checked them; return {exercise or prediction: True, False or None}."""
    checked = [i for i in items(notebook) if not isinstance(i, OpenExercise)]
    if not checked:
        raise UnknownExerciseError(f"Notebook {notebook!r} has no checked exercises.")
    results = {i.key: _SESSION.get((i.notebook, i.key)) for i in checked}
    print(f"Notebook {_notebook(notebook)}, in this session:")
    for i in checked:
        mark = {True: "✓", False: "✗"}.get(results[i.key], "·")
        print(f"  {mark} {i.label}" + ("" if results[i.key] is not None else ": not answered"))
    right = sum(r is True for r in results.values())
    print(f"{right} of {len(checked)} right.", end="")
    open_ones = [str(i.n) for i in items(notebook, "open")]
    if open_ones:
        print(
            f" Open exercises ({', '.join(open_ones)}): cu.exercises.look_for"
            f'("{_notebook(notebook)}", n) lists what to look for.',
            end="",
        )
    print()
    return results


# --- the exercises, notebook by notebook ----------------------------------------------------
# Each right answer is computed from the package where it can be (networks built on the meta
# device: shapes without memory), or from the run's own results, which `needs` names.


def _meta(build: Callable[[], nn.Module]) -> nn.Module:
    """`build()` on the meta device: its shapes and counts, no memory, no random numbers."""
    with torch.device("meta"):
        return build()


def _tv(name: str, **kwargs) -> nn.Module:
    import torchvision

    return _meta(lambda: torchvision.models.get_model(name, weights=None, **kwargs))


def _swap(value: tuple) -> tuple:
    return tuple(reversed(value))


YES_NO_ALIASES = {"higher": ("higher", "up", "rise", "larger"), "lower": ("lower", "down", "fall")}


# 01 LeNet5 ---------------------------------------------------------------------------------


def _strided_lenet() -> nn.Module:
    net = nets.LeNet5()
    net.features[2] = nn.Conv2d(6, 6, 5, stride=2, padding=2)  # 6 x 12 x 12, as max-pool gave
    net.features[5] = nn.Conv2d(16, 16, 5, stride=2, padding=2)  # 16 x 4 x 4
    return net


def _changed_layers(_run: Run) -> set[str]:
    """The layers whose parameters change when LeNet5's first convolution becomes 3×3, pad 1."""
    before, after = nets.LeNet5(), nets.LeNet5()
    after.features[0] = nn.Conv2d(1, 6, 3, padding=1)
    flat = after.features(torch.zeros(1, 1, 28, 28)).flatten(1).shape[1]  # what the classifier gets
    after.classifier[0] = nn.Linear(flat, after.classifier[0].out_features)

    def counts(net: nn.Module) -> dict[str, int]:
        return {
            n: counting.count_parameters(m)
            for n, m in net.named_modules()
            if n and not [*m.children()]
        }

    a, b = counts(before), counts(after)
    return {name for name in a if a[name] != b[name]}


def _gaps(run: Run) -> tuple[float, ...]:
    rows = run["table"].rows  # cu.lab.overfitting_table: train and test accuracy per run
    return tuple((r["train"] - r["test"]) * 100 for r in rows.values())


def _second_choice(answer: Any, run: Run) -> tuple[bool, str]:
    probabilities, labels = run["probabilities"], torch.as_tensor(run["labels"])
    ranked = probabilities.argsort(dim=1, descending=True)
    exists = bool(((ranked[:, 0] != labels) & (ranked[:, 1] == labels)).any())
    if answer is None:
        if exists:
            return False, "There is such a digit in this run: look among the mistakes."
        return True, ""
    i = Number(whole=True).read(answer)
    if not 0 <= i < len(labels):
        return False, f"The test digits are numbered from 0 to {len(labels) - 1}."
    rank = int((ranked[i] == labels[i]).nonzero()) + 1
    if rank == 1:
        return False, "The network gets that digit right: pick one it gets wrong."
    if rank != 2:
        return False, f"It gets that digit wrong, but the true class is its choice number {rank}."
    return True, ""


def _points(run: Run) -> float:
    return (run["lenet1998"].test_accuracy[-1] - run["lenet5"].test_accuracy[-1]) * 100


def _lowest(losses: Mapping[str, float]) -> str:
    return min(losses, key=losses.get)


_add(
    Exercise(
        "01",
        1,
        numbers(2, whole=False, abs=0.1, what="the gaps in points, no shifts first"),
        "the run's own overfitting_table: train minus test accuracy, on the clean digits",
        _gaps,
        (
            Wrong("Train minus test, not test minus train.", lambda r, run: tuple(-g for g in r)),
            Wrong("In points: 100 times the difference.", lambda r, run: tuple(g / 100 for g in r)),
            Wrong("The other way round: the run without shifts first.", lambda r, run: _swap(r)),
        ),
        (
            "The table measures each run's accuracy on the training digits and on the test "
            "digits; the gap is the first minus the second.",
            "Read the table's last column, one gap per run, in points.",
        ),
        needs=("table",),
    ),
    Exercise(
        "01",
        2,
        Number(whole=True, what="parameters"),
        "cu.count_parameters of LeNet5 with its poolings replaced by the two convolutions",
        lambda run: counting.count_parameters(_meta(_strided_lenet)),
        (
            Wrong(
                "That is LeNet5's count before the change: the strided convolutions are new "
                "layers, with weights of their own.",
                44_426,
            ),
            Wrong(
                "Off by 22: each new convolution also has one bias per map (6 and 16).",
                lambda r, run: r - 22,
            ),
            Wrong(
                "That is what the two new convolutions add: the question asks for the network.",
                lambda r, run: r - 44_426,
            ),
            Wrong(
                "Each new convolution has as many filters as maps, each over all the maps "
                "before it, not one filter.",
                44_426 + (25 * 6 + 1) + (25 * 16 + 1),
            ),
        ),
        (
            "Pooling has no parameters. A k×k convolution from C to D maps has "
            "(k·k·C + 1)·D of them.",
            "Add the two new 5×5 convolutions (6 to 6 maps, then 16 to 16, with biases) to "
            "LeNet5's count from section 1.",
        ),
    ),
    Exercise(
        "01",
        3,
        NameSet(what="the names of the layers whose parameters change, as `model` prints them"),
        "the parameters of every layer of LeNet5, before and after the change, compared",
        _changed_layers,
        (
            Wrong(
                "That one changes. Follow the map's size down the network: what does the first "
                "linear layer receive now?",
                {"features.0"},
            ),
            Wrong(
                "That one changes, and so does the layer that you replaced.",
                {"classifier.0"},
            ),
            Wrong(
                "The second convolution's weights depend on how many maps it reads, not on "
                "their size.",
                test=lambda a, r, run: "features.3" in a,
            ),
            Wrong(
                "Pooling and ReLU layers have no parameters.",
                test=lambda a, r, run: bool(
                    a & {"features.1", "features.2", "features.4", "features.5"}
                ),
            ),
        ),
        (
            "Print `cu.layer_table(small, (1, 28, 28))` and compare each layer's parameters "
            "with LeNet5's.",
            "A convolution's parameters depend only on its kernel and channels; a linear "
            "layer's on the size of what it receives. Where does the map's size enter?",
        ),
    ),
    Exercise(
        "01",
        4,
        Number(whole=True, what="the number of a test digit"),
        "the run's own probabilities and the test labels",
        judge=_second_choice,
        hints=(
            "`probabilities.topk(2, dim=1)` gives each digit's two best classes.",
            "Keep the digits whose first choice is not the label and whose second choice is.",
        ),
        needs=("probabilities", "labels"),
    ),
    Exercise(
        "01",
        6,
        Number(abs=0.05, what="LeNet1998's test accuracy minus LeNet5's, in points"),
        "the two runs' own histories (test accuracy after the last epoch)",
        _points,
        (
            Wrong("LeNet1998's minus LeNet5's, not the reverse.", lambda r, run: -r),
            Wrong("In points: 100 times the difference.", lambda r, run: r / 100),
        ),
        (
            "Each history's `test_accuracy` lists one accuracy per epoch; take the last.",
            "Subtract the slide's LeNet5's (section 3's ReLU run) from LeNet1998's, times 100.",
        ),
        needs=("lenet1998", "lenet5"),
    ),
    Prediction(
        "01",
        "activations",
        Choice({"ReLU": ("relu",), "tanh": (), "sigmoid": ("logistic",)}),
        lambda run: (
            _lowest(run["losses"]),
            f"after 3 epochs {_lowest(run['losses'])} had the lowest training loss ("
            + ", ".join(f"{k} {v:.3f}" for k, v in run["losses"].items())
            + ").",
        ),
        needs=("losses",),
    ),
    OpenExercise(
        "01",
        5,
        (
            "Look at how the training digits of section 2 write their 7s and 1s.",
            "A network knows the styles of its training data, not the idea of a digit.",
            "Compare the probabilities, not only the winning class: a barred 7 may still win, "
            "with less confidence.",
        ),
    ),
    OpenExercise(
        "01",
        7,
        (
            "Equivariance: a shifted digit gives shifted feature maps.",
            "What a 2×2 maximum forgets: where in its window the peak was.",
            "Why only some: a peak that crosses a window's border, or a shift by a whole "
            "window (LeCun et al. 1998, §II.A).",
        ),
    ),
    OpenExercise(
        "01",
        8,
        (
            "Count the linear layer: every pixel to every output of the six maps.",
            "The two assumptions: local receptive fields and weight sharing.",
            "What is given up: treating positions differently, and relating distant pixels "
            "within one layer.",
        ),
    ),
)


# 02 AlexNet and augmentation -----------------------------------------------------------------


def _sample_photos() -> list:
    from . import images

    return [images.load_image(path) for path in images.sample_images().values()]


def _better(a: float, b: float) -> str:
    return "better" if a > b else "worse" if a < b else "no different"


def _shift_outcome(run: Run) -> tuple[tuple[str, str], str]:
    (_, base), (_, shifted) = list(run["rows"].items())[:2]  # no augmentation, random shifts
    test = "higher" if shifted["test"] > base["test"] else "lower"
    gap = base["train"] - base["test"], shifted["train"] - shifted["test"]
    narrower = "narrower" if gap[1] < gap[0] else "wider"
    return (test, narrower), (
        f"with shifts the test accuracy was {shifted['test']:.1%} against {base['test']:.1%}, "
        f"and the gap {gap[1] * 100:.1f} points against {gap[0] * 100:.1f}."
    )


_add(
    Exercise(
        "02",
        2,
        Choice({"better": ("higher",), "worse": ("lower",), "no different": ("same", "equal")}),
        "the run's histories with shifts of up to 2 and of up to 4 pixels: the last test accuracy",
        lambda run: _better(run["four"].test_accuracy[-1], run["two"].test_accuracy[-1]),
        hints=(
            "Compare the last test accuracy of the run with shifts of 4 pixels with that of "
            "the run with 2 (section 5).",
        ),
        needs=("two", "four"),
    ),
    Exercise(
        "02",
        4,
        Close(rtol=1e-3, atol=1e-6, what="the three eigenvalues, largest first"),
        "cu.augment.pca_colors over the pixels of all the sample photos together",
        lambda run: _augment().pca_colors(_sample_photos())[0],
        (
            Wrong("Those are ImageNet's: compute the photos' own.", lambda r, run: _imagenet()),
            Wrong(
                "That is one photo alone: pass `pca_colors` the list of all the sample photos.",
                test=lambda a, r, run: any(
                    Close().same(a, _augment().pca_colors(p)[0]) for p in _sample_photos()
                ),
            ),
        ),
        (
            "`cu.augment.pca_colors` takes a list of photos and pools their pixels.",
            "Load every photo of `cu.sample_images()` with `cu.load_image`; the eigenvalues "
            "are the first thing `pca_colors` returns.",
        ),
    ),
    Exercise(
        "02",
        5,
        numbers(2, what="inputs with the mirror, then without"),
        "the count of 224×224 crop positions in a 288×288 square, times the mirror's 2 states",
        lambda run: ((288 - 224 + 1) ** 2 * 2, (288 - 224 + 1) ** 2),
        (
            Wrong(
                "One position short along each side: a crop can start at 0 and at "
                "288 − 224, both included.",
                ((288 - 224) ** 2 * 2, (288 - 224) ** 2),
            ),
            Wrong("That is the 256×256 square's count.", ((256 - 224) ** 2 * 2, (256 - 224) ** 2)),
            Wrong("With the mirror first, then without.", lambda r, run: _swap(r)),
        ),
        (
            "Along one side, a 224-pixel crop of a 288-pixel square can start at how many offsets?",
            "Square the number of offsets along one side, then double it for the mirror.",
        ),
    ),
    Prediction(
        "02",
        "shifts",
        Several(
            (
                Choice({"higher": YES_NO_ALIASES["higher"], "lower": YES_NO_ALIASES["lower"]}),
                Choice({"narrower": ("narrow", "smaller"), "wider": ("widen", "larger")}),
            )
        ),
        _shift_outcome,
        needs=("rows",),
    ),
    OpenExercise(
        "02",
        1,
        (
            "Two numbers per data size: the test points gained and the gap closed.",
            "Whether the difference is larger than seed-to-seed noise (one seed each).",
        ),
    ),
    OpenExercise(
        "02",
        3,
        (
            "The colour offsets change from sample to sample, the crop's content too.",
            "Whether the colours stay plausible: a small `alpha_std` keeps them natural.",
        ),
    ),
    OpenExercise(
        "02",
        6,
        (
            "Each crop is a view with its own errors; averaging ten views averages them out.",
            "Krizhevsky et al. (2012, §6) measured the gain on ILSVRC-2010.",
            "Why it hurt on centred digits: off-centre and mirrored views, unlike the training "
            "data.",
        ),
    ),
    OpenExercise(
        "02",
        7,
        (
            "Where AlexNet's parameters sit (section 1's Check).",
            "A convolution shares each filter over every position.",
            "What dropout does to co-adaptations, and what it costs (§4.2).",
        ),
    ),
)


def _augment():
    from . import augment

    return augment


def _imagenet() -> torch.Tensor:
    return _augment().IMAGENET_PCA_EIGENVALUES


# 03 VGG -----------------------------------------------------------------------------------


def _vgg_without_fc6() -> nn.Module:
    import torchvision

    net = torchvision.models.vgg19()
    net.avgpool = nn.AdaptiveAvgPool2d(1)  # 512 x 1 x 1: global average pooling
    net.classifier[0] = nn.Linear(512, 4096)
    return net


def _uses_per_weight(run: Run) -> tuple[int, int]:
    vgg = _tv("vgg19")
    conv = vgg.features[0]
    side = (224 + 2 * conv.padding[0] - conv.kernel_size[0]) // conv.stride[0] + 1
    return side * side, 1  # once per output position; a linear layer's weight once per image


def _field(layers: nn.Module, k: int = -1) -> tuple[int, int]:
    """The side and the jump of the receptive field after layer `k` of `layers`."""
    field = receptive.receptive_fields(layers)[k]
    return field.size, field.jump


def _size_word(size: int) -> str:
    return "more" if size > 224 else "about all" if size >= 0.8 * 224 else "less"


_add(
    Exercise(
        "03",
        1,
        Number(whole=True, what="parameters"),
        "cu.count_parameters of VGG19 with global average pooling and a 512 → 4096 layer",
        lambda run: counting.count_parameters(_meta(_vgg_without_fc6)),
        (
            Wrong(
                "That removes the first linear layer, but the new 512 → 4096 layer has "
                "parameters too.",
                lambda r, run: counting.count_parameters(_tv("vgg19")) - 25088 * 4096 - 4096,
            ),
            Wrong(
                "That is how many fewer parameters there are: subtract it from VGG19's count.",
                lambda r, run: counting.count_parameters(_tv("vgg19")) - r,
            ),
            Wrong("Off by 4,096: the new layer has a bias per output.", lambda r, run: r - 4096),
            Wrong("That is VGG19's own count, before the change.", lambda r, run: 143_667_240),
        ),
        (
            "Only the first linear layer changes: it reads 512 numbers instead of 25,088.",
            "Subtract the old layer's parameters from VGG19's count and add the new one's, "
            "(512 + 1) · 4096.",
        ),
    ),
    Exercise(
        "03",
        3,
        Choice(
            {
                "unchanged": ("same", "the same", "no change", "identical", "they stay the same"),
                "larger": ("bigger", "higher", "all larger", "they grow", "grow"),
                "smaller": ("lower", "all smaller", "they shrink", "shrink"),
                "sharper": ("more peaked", "more confident"),
                "flatter": ("more uniform", "less confident"),
            }
        ),
        "the softmax: exp(s + 10) / Σ exp(s + 10) = exp(s) / Σ exp(s)",
        lambda run: "unchanged",
        (
            Wrong(
                "Each exp(s + 10) is e¹⁰ times exp(s), but so is the sum that divides it.",
                "larger",
            ),
            Wrong("Every score grows, and the sum that divides them grows alike.", "smaller"),
            Wrong(
                "Multiplying the scores by a number above 1 would sharpen them; adding moves "
                "them all together.",
                "sharper",
            ),
            Wrong("Dividing the scores would flatten them; adding moves them together.", "flatter"),
        ),
        (
            "Write the softmax of s + 10 and take e¹⁰ out of the top and the bottom.",
            "The softmax sees only the differences between scores. Do they change?",
        ),
    ),
    Exercise(
        "03",
        4,
        numbers(2, what="the field's side, then the distance between outputs, in pixels"),
        "cu.receptive.receptive_fields of VGG19's layers, the last one's size and jump",
        lambda run: _field(_tv("vgg19").features),
        (
            Wrong(
                "That is the last convolution's field: the pooling after it widens the field too.",
                lambda r, run: (_field(_tv("vgg19").features, -2)[0], r[1]),
            ),
            Wrong(
                "The size is right; the distance is not: every pooling doubles it.",
                test=lambda a, r, run: a[0] == r[0] and a[1] != r[1],
            ),
            Wrong(
                "A field can reach past the image, into the padding: count it.",
                test=lambda a, r, run: a[0] == 224,
            ),
            Wrong("Swapped: the field's side first, then the distance.", lambda r, run: _swap(r)),
        ),
        (
            "`cu.receptive.receptive_fields(vgg19.features)` lists every layer's field; "
            "`size` and `jump` are the two numbers.",
            "Take the last entry, the pooling's, not the one before it.",
        ),
    ),
    Exercise(
        "03",
        7,
        numbers(2, what="uses per weight of the first convolution, then of the first linear layer"),
        "VGG19's first convolution (3×3, padding 1, stride 1): one use per output position",
        _uses_per_weight,
        (
            Wrong(
                "With padding 1 the 3×3 filter is applied at every position of the input.",
                lambda r, run: ((224 - 2) ** 2, 1),
            ),
            Wrong(
                "A convolution's weight is used once at every output position, not once per image.",
                test=lambda a, r, run: a[0] == 1,
            ),
            Wrong(
                "That is how many weights the convolution has: how often is each one used?",
                test=lambda a, r, run: a[0] == 3 * 3 * 3 * 64,
            ),
            Wrong(
                "A linear layer's weight multiplies one input number, once per image.",
                test=lambda a, r, run: a[0] == r[0] and a[1] != 1,
            ),
        ),
        (
            "A convolution applies the same filter at every position of its output map: how "
            "many positions does the first one's output have?",
            "Its output is as large as its input (padding 1, stride 1). A linear layer's "
            "weight meets one input number.",
        ),
    ),
    Prediction(
        "03",
        "receptive field",
        Choice({"less": ("much less",), "about all": ("all", "about all of it"), "more": ()}),
        lambda run: (
            _size_word(run["size"]),
            f"one output of VGG19's last convolution sees {run['size']}×{run['size']} pixels, "
            "of a 224×224 input.",
        ),
        needs=("size",),
    ),
    OpenExercise(
        "03",
        2,
        (
            "The top class and its probability for each photo.",
            "With untrained weights (the output says so) the ranking means nothing.",
            "Whether a photo could have been among ImageNet's training images (section 3).",
        ),
    ),
    OpenExercise(
        "03",
        5,
        (
            "The normalisation is part of the function that the weights were fitted to.",
            "What a photo's own statistics would remove: its brightness and its colour cast.",
            "Why `weights.transforms()` ships the training statistics with the weights.",
        ),
    ),
    OpenExercise(
        "03",
        6,
        (
            "How often each weight is used: at every position (a convolution), once (a "
            "linear layer); exercise 7 counts it.",
            "Memory and what can overfit sit in the classifier; time sits in the convolutions.",
            "Which convolutions do the most: the early, high-resolution ones.",
        ),
    ),
)


# 04 convolutionization -----------------------------------------------------------------------


def _guesses(run: Run) -> list[tuple[int, int]]:
    """(true digit, the map's answer) for each digit of exercise 2's canvas: 12 test digits
    on 160×256 (seed 3), read by the run's convolutionized LeNet5 (`fcn`)."""
    from .lab import digit_canvas, digit_heatmaps, found_digits

    test = run["test"]
    canvas, placed = digit_canvas(test.images, test.labels, n=12, size=(160, 256), seed=3)
    found = found_digits(digit_heatmaps(run["fcn"], canvas)[0], placed)
    return [(label, guess) for (_, _, label), guess in zip(placed, found, strict=True)]


def _missed(run: Run) -> list[int]:
    return [label for label, guess in _guesses(run) if guess != label]


def _score_map(answer: Any, run: Run) -> tuple[bool, str]:
    """Judge a function (resnet, images) -> scores at every position, by calling it."""
    if not callable(answer):
        raise AnswerFormError("a function f(resnet, images) that returns N × 1000 × h × w scores")
    import torchvision

    resnet = torchvision.models.resnet18().eval()
    images = torch.rand(2, 3, 96, 128)  # 3 x 4 positions after the last stage
    with torch.no_grad():
        expected = resnet(images)
        try:
            scores = answer(resnet, images)
        except Exception as err:
            return False, f"Your function raised {show.short_error(err)}."
    if not isinstance(scores, torch.Tensor):
        return False, f"Your function returned {type(scores).__name__}, not a tensor."
    if scores.shape == expected.shape:
        return False, (
            "That is N × 1000: the scores after the averaging. Return them before it, one "
            "per position."
        )
    if scores.dim() != 4 or tuple(scores.shape[:2]) != tuple(expected.shape):
        return False, f"Expected N × 1000 × h × w scores, got the shape {tuple(scores.shape)}."
    mean = scores.detach().double().mean((2, 3))
    if torch.allclose(mean, expected.double(), rtol=1e-4, atol=1e-4):
        return True, ""
    if torch.allclose(mean + resnet.fc.bias.double(), expected.double(), rtol=1e-4, atol=1e-4):
        return False, "Averaged, your map lacks fc's bias: add it at every position."
    return False, (
        "Averaged over the positions, your map does not give the network's own scores: apply "
        "`fc` to each position's 512 numbers, taken before the pooling."
    )


_add(
    Exercise(
        "04",
        1,
        Number(whole=True, what="pixels"),
        "the jump of VGG16's last layer (cu.receptive), which its convolutionized classifier "
        "keeps (stride 1)",
        lambda run: _field(_tv("vgg16").features)[1],
        (
            Wrong("Count the poolings again: VGG16 has one more.", 16),
            Wrong("That is the input's side, not the distance between outputs.", 224),
            Wrong("That is one pooling's stride: the strides multiply.", 2),
            Wrong("Strides multiply; they don't add.", 10),
            Wrong("That is how many positions the map has at 224: how far apart are they?", 7),
        ),
        (
            "Each 2×2 max-pooling with stride 2 doubles the distance between neighbouring "
            "outputs; VGG16's convolutions have stride 1.",
            "Count VGG16's max-poolings, or call `cu.fcn.total_stride(vgg16_fcn, (3, 224, 224))`.",
        ),
    ),
    Exercise(
        "04",
        2,
        Numbers(what="the true digits of the ones it missed"),
        "cu.lab.found_digits on exercise 2's canvas, read by the run's convolutionized LeNet5",
        _missed,
        (
            Wrong(
                "Those are the digits it found: list the ones it missed.",
                lambda r, run: [label for label, guess in _guesses(run) if guess == label],
            ),
            Wrong(
                "Those are its answers for the digits it missed: list their true digits.",
                lambda r, run: [guess for label, guess in _guesses(run) if guess != label],
            ),
        ),
        (
            "`cu.lab.digit_heatmaps(lenet_fcn, big)` reads the canvas; "
            "`cu.lab.found_digits(probabilities, placed)` gives its answer for each pasted "
            "digit, in the order of `placed`.",
            "Compare each answer with the label, the third number of each entry of `placed`.",
        ),
        needs=("fcn", "test"),
    ),
    Exercise(
        "04",
        4,
        Form(),
        "calling the function on an untrained ResNet-18 and two random 96×128 images: its map, "
        "averaged, must give the network's scores",
        judge=_score_map,
        hints=(
            "`nn.Sequential(*list(resnet.children())[:-2])` gives the maps before the pooling: "
            "N × 512 × h × w.",
            "Apply `fc`'s weight to each position's 512 channels (`torch.einsum(\"kc,nchw->nkhw\", "
            "...)`) and add its bias.",
        ),
    ),
    Exercise(
        "04",
        5,
        Number(whole=True, what="pixels"),
        "cu.receptive's field of VGG16's central position after pool5, against the crop's 0 to 223",
        lambda run: _outside(_central(run)),
        (
            Wrong(
                "That is the first position's, at the corner: the central one is the middle "
                "of seven.",
                lambda r, run: _outside(0),
            ),
            Wrong(
                "Not the central position: count from the edge to the middle of seven.",
                test=lambda a, r, run: a in {_outside(k) for k in (1, 2, 4, 5)},
            ),
            Wrong(
                "That was AlexNet's central position (section 4); VGG16's fields sit differently.",
                test=lambda a, r, run: a in (1, 2),
            ),
            Wrong(
                "That is the field's side: how much of it lies outside the crop?",
                lambda r, run: _field(_tv("vgg16").features)[0],
            ),
        ),
        (
            "`cu.receptive.receptive_fields(models.vgg16().features)[-1].span(k)` gives the "
            "first and last pixel that position k sees; the crop spans pixels 0 to 223.",
            "The middle one of the 7×7 map is index 3: add what its span reaches below 0 and "
            "above 223.",
        ),
    ),
    Exercise(
        "04",
        8,
        numbers(2, what="weights of the 6×6 convolution, then of a 1×1 one"),
        "torchvision's AlexNet: its first linear layer's weights, which the 6×6 convolution "
        "takes over, and a 1×1 convolution from its last 256 maps to the same outputs",
        lambda run: _alexnet_fc6_weights(),
        (
            Wrong("Weights only: leave the biases out.", lambda r, run: (r[0] + 4096, r[1] + 4096)),
            Wrong("Swapped: the 6×6 convolution first.", lambda r, run: _swap(r)),
            Wrong(
                "That 1×1 count is the second linear layer's: the 1×1 convolution here would "
                "read the 256 maps.",
                test=lambda a, r, run: a[1] == 4096 * 4096,
            ),
        ),
        (
            "The first linear layer reads 256 maps of 6×6 and has 4096 outputs.",
            "A k×k convolution from C to D maps holds k·k·C·D weights.",
        ),
    ),
    Prediction(
        "04",
        "speed-up",
        Number(what="how many times faster"),
        lambda run: (
            run["speedup"],
            f"the crops one by one took {run['speedup']:.1f}× as long as one pass (within a "
            "factor of 2 counts as matching).",
        ),
        needs=("speedup",),
        agree=lambda p, t: t / 2 <= p <= 2 * t,
    ),
    OpenExercise(
        "04",
        3,
        (
            "The two times, and the map sizes: the dense one is twice as fine along each side.",
            "What runs once in both (the layers before the last pooling) and what runs once "
            "per offset (the pooling and the classifier).",
            "How to get stride 1: shift-and-stitch or dilation (Long et al. 2015, §3.2).",
        ),
    ),
    OpenExercise(
        "04",
        6,
        (
            "What the first linear layer sees: a 6×6 map of 256 channels.",
            "What the later ones see: a single position.",
            "A 1×1 convolution in the first one's place mixes channels at each position "
            "separately: another function, which can't take the linear layer's weights.",
        ),
    ),
    OpenExercise(
        "04",
        7,
        (
            "Overlapping crops share most of their pixels, and their convolutional features.",
            "The classifier still runs once per output position.",
            "Padding: the one difference between the two (section 4).",
        ),
    ),
)


def _central(_run: Run) -> int:
    """The index of the middle position of VGG16's map after pool5, for a 224×224 crop."""
    positions = _tv("vgg16").features(torch.zeros(1, 3, 224, 224, device="meta")).shape[-1]
    return positions // 2


def _outside(k: int) -> int:
    """How many pixels of position k's field, after VGG16's pool5, lie outside a 224 crop."""
    first, last = receptive.receptive_fields(_tv("vgg16").features)[-1].span(k)
    return int(max(0, -first) + max(0, last - 223))


def _alexnet_fc6_weights() -> tuple[int, int]:
    alexnet = _tv("alexnet")
    fc6 = alexnet.classifier[1]  # 9216 -> 4096: the 6x6 convolution takes these weights
    maps = alexnet.features[-3].out_channels  # the last convolution's 256 maps
    return fc6.weight.numel(), _meta(lambda: nn.Conv2d(maps, fc6.out_features, 1)).weight.numel()


# 05 NiN and inception ------------------------------------------------------------------------


def _inception_4e() -> tuple[int, int]:
    cfg = blocks.GOOGLENET_CFG["inception4e"]  # in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool
    c_in, c1, _, c3, _, c5, _ = cfg
    naive = _meta(lambda: blocks.InceptionNaive(c_in, c1, c3, c5))
    return counting.count_parameters(naive), counting.count_parameters(
        _meta(lambda: blocks.Inception(*cfg))
    )


def _five_by_five_saving(*, widen_first: bool = False, biases: bool = True) -> int:
    """Parameters that two 3×3 convolutions save against (3a)'s 5×5 branch convolution."""
    _, _, _, _, c_in, c_out, _ = blocks.INCEPTION_3A  # 16 maps reduced, 32 out
    middle = c_out if widen_first else c_in

    def conv(c: int, d: int, k: int) -> int:
        return (k * k * c + biases) * d

    return conv(c_in, c_out, 5) - conv(c_in, middle, 3) - conv(middle, c_out, 3)


def _busiest_layer(_run: Run) -> tuple[str, ...]:
    table = counting.layer_table(blocks.googlenet_2014(), (3, 224, 224))
    name = max(table, key=lambda r: r.macs).name
    return (name, name.removesuffix(".0"))  # conv3.0 is the convolution of conv3


def _nin_with_linear_layers(*, biases: bool = True, keep_last: bool = False) -> int:
    nin = _meta(blocks.nin_imagenet)
    body = list(nin.children())[: 8 if keep_last else 7]  # up to the 384 x 6 x 6 maps
    sizes = [384 * 6 * 6, 4096, 4096, 1000]  # AlexNet's three linear layers on NiN's maps
    linear = sum((a + biases) * b for a, b in zip(sizes, sizes[1:], strict=False))
    return counting.count_parameters(nn.Sequential(*body)) + linear


def _naive_stack(modules: int, *, pooling_passes: bool = True) -> int:
    """Maps out of `modules` naive inception modules with (3a)'s widths, stacked."""
    c_in, c1, _, c3, _, c5, _ = blocks.INCEPTION_3A
    for _ in range(modules):
        if not pooling_passes:
            c_in = c1 + c3 + c5
            continue
        module = _meta(lambda c=c_in: blocks.InceptionNaive(c, c1, c3, c5))
        c_in = module(torch.zeros(1, c_in, 28, 28, device="meta")).shape[1]
    return c_in


def _branch_outcome(run: Run) -> tuple[set[str], str]:
    from .lab import BRANCHES

    tops = [BRANCHES[int(s.argmax())] for s in run["shares"].values()]
    counts = {b: tops.count(b) for b in BRANCHES}
    most = max(counts.values())
    return {b for b, c in counts.items() if c == most}, (
        "the branch that carried the most after training was "
        + ", ".join(f"the {b} in {c} module(s)" for b, c in counts.items() if c)
        + "."
    )


_add(
    Exercise(
        "05",
        1,
        numbers(2, what="the naive module's parameters, then the reduced one's"),
        "cu.count_parameters of cu.blocks.InceptionNaive and cu.blocks.Inception with "
        "GOOGLENET_CFG's inception4e",
        lambda run: _inception_4e(),
        (
            Wrong("Swapped: the naive module is the larger one.", lambda r, run: _swap(r)),
            Wrong(
                "The reduced module's pooling branch has a 1×1 projection: count it too.",
                test=lambda a, r, run: (
                    a[1]
                    == r[1]
                    - (blocks.GOOGLENET_CFG["inception4e"][0] + 1)
                    * blocks.GOOGLENET_CFG["inception4e"][6]
                ),
            ),
        ),
        (
            '`cu.blocks.GOOGLENET_CFG["inception4e"]` lists its input maps and the branches\' '
            "widths; build both modules and count.",
            "The naive module keeps the 1×1, 3×3 and 5×5 widths and has neither reductions nor "
            "a pooling projection: `InceptionNaive(c_in, c1, c3, c5)`.",
        ),
    ),
    Exercise(
        "05",
        2,
        Number(whole=True, what="parameters saved"),
        "the 5×5 convolution of inception (3a)'s branch (INCEPTION_3A's 16 → 32 maps) against "
        "two 3×3 ones, 16 → 16 → 32, with biases",
        lambda run: _five_by_five_saving(),
        (
            Wrong(
                "That is the variant that widens in the first 3×3 (16 → 32 → 32): keep 16 maps "
                "there.",
                test=lambda a, r, run: abs(a) == abs(_five_by_five_saving(widen_first=True)),
            ),
            Wrong(
                "Off by 16: the biases count too.",
                lambda r, run: _five_by_five_saving(biases=False),
            ),
            Wrong(
                "That is the 5×5 convolution's own count: subtract what the two 3×3s hold.",
                lambda r, run: 25 * 16 * 32 + 32,
            ),
            Wrong(
                "That is what the two 3×3s hold: how much less than the 5×5 is it?",
                lambda r, run: (9 * 16 + 1) * 16 + (9 * 16 + 1) * 32,
            ),
        ),
        (
            "A k×k convolution from C to D maps, with biases, has (k·k·C + 1)·D parameters.",
            "Count the 5×5 (16 → 32) and the two 3×3s (16 → 16, then 16 → 32), and subtract.",
        ),
    ),
    Exercise(
        "05",
        3,
        Name(what="the busiest layer's name, as the table prints it"),
        "cu.layer_table of cu.blocks.googlenet_2014() at 224×224, sorted by multiply-adds",
        _busiest_layer,
        (
            Wrong(
                "A 7×7 kernel, but on 3 input channels: it is not first. Sort the table by "
                "multiply-adds.",
                test=lambda a, r, run: a.startswith("conv1"),
            ),
            Wrong(
                "That is a 1×1 convolution: cheap at each position.",
                test=lambda a, r, run: a.startswith("conv2"),
            ),
            Wrong(
                "The busiest layers of the inception modules are their 3×3 branches, but one "
                "layer before them does more.",
                test=lambda a, r, run: a.startswith("inception"),
            ),
        ),
        (
            "`sorted(table, key=lambda r: r.macs, reverse=True)` puts the busiest layers first.",
            "Look at the stem, before the first inception module: large maps, many channels.",
        ),
    ),
    Exercise(
        "05",
        4,
        Number(whole=True, what="parameters"),
        "cu.count_parameters of NiN up to its 384×6×6 maps, plus AlexNet's three linear layers "
        "on them",
        lambda run: _nin_with_linear_layers(),
        (
            Wrong(
                "That is the three linear layers alone: add the convolutions before them.",
                lambda r, run: (
                    r
                    - counting.count_parameters(
                        nn.Sequential(*list(_meta(blocks.nin_imagenet).children())[:7])
                    )
                ),
            ),
            Wrong(
                "That is NiN as it is.",
                lambda r, run: counting.count_parameters(_meta(blocks.nin_imagenet)),
            ),
            Wrong(
                "The linear layers have biases too.",
                lambda r, run: _nin_with_linear_layers(biases=False),
            ),
            Wrong(
                "The last MLP convolution goes: the linear layers replace it.",
                lambda r, run: _nin_with_linear_layers(keep_last=True),
            ),
        ),
        (
            "Keep NiN up to the dropout before its last MLP convolution (384 maps of 6×6), then "
            "add linear layers 384·6·6 → 4096 → 4096 → 1000.",
            "Count the kept part with `cu.count_parameters`; a linear layer has (inputs + 1) · "
            "outputs.",
        ),
    ),
    Exercise(
        "05",
        7,
        Number(whole=True, what="maps"),
        "three cu.blocks.InceptionNaive modules with (3a)'s widths, run one after the other",
        lambda run: _naive_stack(3),
        (
            Wrong(
                "That is the first module's output: stack two more.", lambda r, run: _naive_stack(1)
            ),
            Wrong("That is the second module's output.", lambda r, run: _naive_stack(2)),
            Wrong(
                "The pooling branch passes on all of its input maps: they add up.",
                lambda r, run: _naive_stack(3, pooling_passes=False),
            ),
        ),
        (
            "A naive module outputs its three convolutions' maps and all of its input maps, "
            "which the pooling passes on.",
            "Each module adds 64 + 128 + 32 maps to what it receives.",
        ),
    ),
    Prediction(
        "05",
        "busiest branch",
        Choice(
            {
                "1×1": ("1x1", "1"),
                "3×3": ("3x3", "3"),
                "5×5": ("5x5", "5"),
                "pool": ("pooling", "max-pool", "max pooling"),
            }
        ),
        _branch_outcome,
        needs=("shares",),
        agree=lambda p, truth: p in truth,
    ),
    OpenExercise(
        "05",
        5,
        (
            "What a 1×1 convolution's output at a position depends on: that position only.",
            "The receptive field of a stack of them stays one pixel.",
            "The reverse works: a 3×3 convolution can compute a 1×1 one (zero weights off the "
            "centre).",
        ),
    ),
    OpenExercise(
        "05",
        6,
        (
            "How many parameters global average pooling has, against a fully connected classifier.",
            "Where the learned weights then sit: in convolutions, shared over positions.",
            "Lin et al. (2014, §3.2) call it a structural regularizer.",
        ),
    ),
)


# 06 ResNet ----------------------------------------------------------------------------------


def _wide_resnet50() -> nn.Module:
    """The paper's ResNet-50 (stride in the first 1×1), each bottleneck twice as wide inside."""
    net = blocks.paper_resnet(50)
    for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
        for block in layer:
            c_in, width = block.conv1.in_channels, 2 * block.conv1.out_channels
            stride1, stride2 = block.conv1.stride, block.conv2.stride
            block.conv1 = nn.Conv2d(c_in, width, 1, stride=stride1, bias=False)
            block.bn1 = nn.BatchNorm2d(width)
            block.conv2 = nn.Conv2d(width, width, 3, stride=stride2, padding=1, bias=False)
            block.bn2 = nn.BatchNorm2d(width)
            block.conv3 = nn.Conv2d(width, block.conv3.out_channels, 1, bias=False)
    return net


_MACS: dict[str, int] = {}


def _macs(name: str) -> int:
    """Multiply-adds at 224×224 of the paper's ResNet-50 ("resnet50") or its wide version."""
    if name not in _MACS:
        build = _wide_resnet50 if name == "wide" else lambda: blocks.paper_resnet(50)
        _MACS[name] = counting.count_macs(build(), (3, 224, 224))
    return _MACS[name]


def _ratios(run: Run) -> tuple[float, float]:
    """The plain stack's first / last gradient norm at 10 and 60 layers (seed 0, float64)."""
    from .env import seed_everything

    found = []
    for depth in (10, 60):
        seed_everything(0)
        stack = blocks.deep_stack(depth, 16, shortcuts=False)
        blocks.gradient_norms(stack, run["images"].cpu(), run["labels"].cpu())
        grads = [m.weight.grad for m in stack.modules() if isinstance(m, nn.Conv2d)][1:]
        found.append(float(grads[0].double().norm() / grads[-1].double().norm()))
    return tuple(found)


def _within(a: float, b: float, factor: float) -> bool:
    return a > 0 and b > 0 and 1 / factor <= a / b <= factor


def _train_mode_accuracies(run: Run) -> dict[str, float]:
    """The run's batch-normalised LeNet5 on the test digits: eval mode, then training mode with
    batches of 1,000 and of 10. Its weights, running statistics and mode are restored."""
    from .train import as_tensors, evaluate

    model, test = run["model"], run["test"]
    images, labels = as_tensors(test)
    saved, mode = {k: v.clone() for k, v in model.state_dict().items()}, model.training
    found = {"eval": evaluate(model, test)}
    try:
        model.train()
        dev = anatomy.model_device(model)
        with torch.no_grad():
            for size in (1000, 10):
                hits = sum(
                    int(
                        (
                            model(images[k : k + size].to(dev)).argmax(1).cpu()
                            == labels[k : k + size]
                        ).sum()
                    )
                    for k in range(0, len(labels), size)
                )
                found[f"train {size}"] = hits / len(labels)
    finally:
        model.load_state_dict(saved)
        model.train(mode)
    return found


def _accuracy(answer: Any) -> float:
    x = read_number(answer)
    return x / 100 if x > 1 else x  # 87.5 (per cent) or 0.875


def _degradation(run: Run) -> tuple[tuple[str, str], str]:
    loss = run["loss"]
    words = tuple(
        "higher" if loss[f"{kind}-24"] > loss[f"{kind}-6"] else "lower"
        for kind in ("plain", "residual")
    )
    return words, (
        f"24 plain layers ended at training loss {loss['plain-24']:.3f} against "
        f"{loss['plain-6']:.3f} for 6 ({words[0]}); 24 residual layers at "
        f"{loss['residual-24']:.3f} against {loss['residual-6']:.3f} ({words[1]})."
    )


class _Accuracy(Number):
    """An accuracy as a fraction, or in per cent."""

    def read(self, answer: Any) -> float:
        return _accuracy(answer)


class _MultiplyAdds(Number):
    """A count of multiply-adds, or the same in units of 10⁹."""

    def read(self, answer: Any) -> float:
        x = read_number(answer)
        return x * 1e9 if abs(x) < 1e6 else x


_HIGHER_LOWER = Choice({"higher": YES_NO_ALIASES["higher"], "lower": YES_NO_ALIASES["lower"]})

_add(
    Exercise(
        "06",
        1,
        _MultiplyAdds(rel=1e-3, what="multiply-adds (or the same ×10⁹)"),
        "cu.count_macs at 224×224 of cu.blocks.paper_resnet(50), its bottlenecks twice as wide",
        lambda run: _macs("wide"),
        (
            Wrong(
                "That is torchvision's wide_resnet50_2, with v1.5's strides: here the paper's "
                "strides stay in the first 1×1 convolution.",
                lambda r, run: 11.398e9,
            ),
            Wrong(
                "That is ResNet-50 itself: widen its bottlenecks.", lambda r, run: _macs("resnet50")
            ),
            Wrong(
                "Doubling the width doubles the 1×1 convolutions' work, but the 3×3's grows "
                "with width × width.",
                lambda r, run: 2 * _macs("resnet50"),
            ),
            Wrong(
                "Only the 3×3 convolutions grow fourfold; the 1×1s double.",
                lambda r, run: 4 * _macs("resnet50"),
            ),
        ),
        (
            "Build `cu.blocks.paper_resnet(50)`, give each bottleneck's three convolutions and "
            "first two batch-norms twice the inner width (strides kept), then "
            "`cu.count_macs(net, (3, 224, 224))`.",
            "The width to double is conv1's output and conv2's input and output; conv3 still "
            "outputs the block's channels.",
        ),
    ),
    Exercise(
        "06",
        2,
        numbers(2, whole=False, rel=2e-2, what="the ratio at 10 layers, then at 60"),
        "the plain stack of section 5 (seed 0, PyTorch's default init) at 10 and 60 layers, "
        "its gradient norms computed in float64",
        _ratios,
        (
            Wrong(
                "A ratio of exactly 0 is float32 underflow, not a zero gradient: compute the "
                "norms in float64 (`grad.double().norm()`).",
                test=lambda a, r, run: a[1] == 0,
            ),
            Wrong(
                "Upside down: the first layer's norm over the last's.",
                lambda r, run: (1 / r[0], 1 / r[1]),
            ),
            Wrong(
                "Close, but not this run's: seed with `cu.seed_everything(0)` right before "
                "building each stack, as section 5 does, and use its 64 digits.",
                test=lambda a, r, run: all(_within(x, y, 10) for x, y in zip(a, r, strict=True)),
            ),
        ),
        (
            "Section 5's cell does it for 30 layers: `cu.blocks.deep_stack(depth, 16, "
            "shortcuts=False)` and `cu.blocks.gradient_norms`.",
            "At 60 layers the float32 norm underflows: take the convolutions' `weight.grad` and "
            "compute their norms in float64.",
        ),
        needs=("images", "labels"),
    ),
    Exercise(
        "06",
        3,
        _Accuracy(abs=1e-3, what="the accuracy in training mode with batches of 10"),
        "the run's batch-normalised LeNet5, run in training mode on the test digits in "
        "batches of 10 (its state restored afterwards)",
        lambda run: _train_mode_accuracies(run)["train 10"],
        (
            Wrong(
                "That is eval mode's: switch to training mode (`.train()`) for this one.",
                lambda r, run: _train_mode_accuracies(run)["eval"],
            ),
            Wrong(
                "That is with batches of 1,000: use batches of 10.",
                lambda r, run: _train_mode_accuracies(run)["train 1000"],
            ),
        ),
        (
            "In training mode batch-norm normalises each batch with its own statistics, even "
            "under `torch.no_grad()`.",
            "Call `.train()`, run the test digits in slices `k : k + 10`, count the hits, and "
            "restore the state dict afterwards.",
        ),
        needs=("model", "test"),
    ),
    Exercise(
        "06",
        4,
        Number(whole=True, what="parameters"),
        "cu.count_parameters of torchvision's resnet50().layer1[1]",
        lambda run: counting.count_parameters(_tv("resnet50").layer1[1]),
        (
            Wrong(
                "That is the slide's count: torchvision's convolutions have no biases, and each "
                "batch-norm has two vectors of its own.",
                69_696,
            ),
            Wrong("Those are the weights alone: add the batch-norms' γ and β.", 69_632),
            Wrong(
                "Running mean and variance are buffers, not parameters.",
                lambda r, run: r + 2 * (64 + 64 + 256),
            ),
            Wrong("torchvision's 3×3 convolution has no bias.", lambda r, run: r + 64),
        ),
        (
            "`cu.count_parameters(block)`, or sum `p.numel()` over `block.named_parameters()`.",
            "Three convolutions without biases (256→64, 3×3 64→64, 64→256), each followed by a "
            "batch-norm with γ and β per channel.",
        ),
    ),
    Prediction(
        "06",
        "degradation",
        Several((_HIGHER_LOWER, _HIGHER_LOWER), what="plain 24 against 6, then residual"),
        _degradation,
        needs=("loss",),
    ),
    OpenExercise(
        "06",
        5,
        (
            "What training mode does to one image's output: it depends on its batch.",
            "What the later layers were trained on: activations normalised with training "
            "statistics.",
            "Ioffe & Szegedy (2015, §3.1): inference should depend only on the input.",
        ),
    ),
    OpenExercise(
        "06",
        6,
        (
            "The reduction is on the branch only; the shortcut carries all 256 channels.",
            "The branch computes a correction to x, not a new encoding of it.",
            "The exception: the first block of a stage, with a projection shortcut.",
        ),
    ),
)


# 07 ResNeXt ---------------------------------------------------------------------------------


def _resnext_counts() -> tuple[int, ...]:
    return tuple(
        counting.count_parameters(
            _meta(lambda c=c, d=d: blocks.ResNeXtBlock(256, cardinality=c, width=d))
        )
        for c, d in [(32, 4), (8, 14), (1, 64)]
    )


def _depthwise_weights(*, groups: int | None = None, biases: bool = False) -> int:
    c = blocks.ResNeXtBlock(256).conv2.in_channels  # the 3x3's 128 channels
    conv = nn.Conv2d(c, c, 3, padding=1, groups=groups or c, bias=biases)
    return counting.count_parameters(conv)


def _block_macs() -> tuple[int, int]:
    size = (256, 56, 56)  # the maps of ResNet-50's first stage
    return (
        counting.count_macs(blocks.ResNeXtBlock(256), size),
        counting.count_macs(blocks.Bottleneck(256, 64), size),
    )


def _batch_gain(run: Run) -> dict[int, float]:
    return {batch: paths / grouped for batch, (grouped, paths) in run["times"].items()}


_GROUPED_PATHS = Choice(
    {
        "grouped": ("the grouped form", "grouped convolution", "one grouped"),
        "paths": ("32 paths", "the paths", "pathways", "32 pathways"),
    }
)

_add(
    Exercise(
        "07",
        1,
        numbers(3, what="parameters of 32×4d, 8×14d and 1×64d, in that order"),
        "cu.count_parameters of cu.blocks.ResNeXtBlock(256, cardinality=C, width=d)",
        lambda run: _resnext_counts(),
        (
            Wrong(
                "The 1×64d block is ResNet's bottleneck without biases: the slide's count has a "
                "bias in the 3×3.",
                test=lambda a, r, run: a[2] == 69_696,
            ),
            Wrong(
                "That counts a dense 3×3 convolution: in the block it is grouped, each path "
                "seeing only its own d channels.",
                test=lambda a, r, run: a[0] == 256 * 128 + 9 * 128 * 128 + 128 * 256,
            ),
            Wrong(
                "In the order 32×4d, 8×14d, 1×64d.", test=lambda a, r, run: sorted(a) == sorted(r)
            ),
        ),
        (
            "`cu.count_parameters(cu.blocks.ResNeXtBlock(256, cardinality=c, width=d))`.",
            "Each of the C paths holds 256·d + 9·d·d + d·256 weights, and there are no biases.",
        ),
    ),
    Exercise(
        "07",
        2,
        Number(whole=True, what="the batch size, 1 or 16"),
        "the run's own times: the paths' time over the grouped form's, at each batch size",
        lambda run: max(_batch_gain(run), key=_batch_gain(run).get),
        hints=(
            "Compare the ratio of the two times (paths over grouped) at each batch size, not "
            "the times themselves.",
        ),
        needs=("times",),
    ),
    Exercise(
        "07",
        3,
        Number(whole=True, what="weights"),
        "cu.count_parameters of nn.Conv2d(128, 128, 3, groups=128, bias=False)",
        lambda run: _depthwise_weights(),
        (
            Wrong(
                "That is the dense 3×3 convolution's count: with one group per channel, each "
                "filter sees a single channel.",
                lambda r, run: _depthwise_weights(groups=1),
            ),
            Wrong(
                "That is the count with 32 groups (exercise 4): here each group has one channel.",
                lambda r, run: _depthwise_weights(groups=32),
            ),
            Wrong(
                "Weights only, as in the block (bias=False).",
                lambda r, run: _depthwise_weights(biases=True),
            ),
            Wrong("That is one filter: there is one per output channel.", 9),
        ),
        (
            "A grouped convolution holds k·k·(C_in / groups)·C_out weights.",
            "With groups=128 each of the 128 filters is a 3×3 over one channel.",
        ),
    ),
    Exercise(
        "07",
        6,
        numbers(2, what="the ResNeXt block's multiply-adds, then the bottleneck's"),
        "cu.count_macs of cu.blocks.ResNeXtBlock(256) and cu.blocks.Bottleneck(256, 64) on "
        "256×56×56 maps",
        lambda run: _block_macs(),
        (
            Wrong("Swapped: the ResNeXt block first.", lambda r, run: _swap(r)),
            Wrong(
                "Biases are additions, not multiply-adds: count_macs leaves them out.",
                lambda r, run: (r[0], r[1] + 64 * 56 * 56),
            ),
        ),
        (
            "`cu.count_macs(block, (256, 56, 56))` counts one input's multiply-adds.",
            "Every convolution here keeps the 56×56 map, so each weight is used once per position.",
        ),
    ),
    Prediction(
        "07",
        "faster",
        _GROUPED_PATHS,
        lambda run: (
            "grouped" if run["t_grouped"] < run["t_paths"] else "paths",
            f"the grouped form took {run['t_grouped'] * 1e3:.1f} ms and the 32 paths "
            f"{run['t_paths'] * 1e3:.1f} ms.",
        ),
        needs=("t_grouped", "t_paths"),
    ),
    OpenExercise(
        "07",
        4,
        (
            "For each output channel, one k×k filter per input channel it sees.",
            "With 32 groups each output channel sees 4 of the 128 input channels.",
            "The general count: k² C_in C_out / g.",
        ),
    ),
    OpenExercise(
        "07",
        5,
        (
            "A 1×1 convolution on a concatenation is a matrix times the stacked channels.",
            "Cut the matrix into 32 blocks of columns: W h = Σ W_g h_g.",
            "Why it works: the last layer is linear, and the sum comes before the ReLU.",
        ),
    ),
)


# 08 summary ---------------------------------------------------------------------------------


def _zoo() -> list[dict]:
    from .weights import zoo

    return zoo()


def _family_slopes() -> dict[str, tuple[float, float]]:
    """Each family's (top-1 gain, gain per 10⁹ multiply-adds), smallest to largest member,
    original recipes; VGG with batch-norm apart."""
    zoo = [r for r in _zoo() if r["recipe"] == "original"]
    found = {}
    for family in {
        r["family"] + (" with batch-norm" if r["name"].endswith("_bn") else "") for r in zoo
    }:
        members = sorted(
            (
                r
                for r in zoo
                if r["family"] + (" with batch-norm" if r["name"].endswith("_bn") else "") == family
            ),
            key=lambda r: r["macs"],
        )
        if len(members) > 1:
            gain = members[-1]["top1"] - members[0]["top1"]
            found[family] = (gain, gain / (members[-1]["macs"] - members[0]["macs"]))
    return found


def _recipe_gains() -> dict[str, float]:
    gains = {}
    for name in sorted({r["name"] for r in _zoo()}):
        recipes = {r["recipe"]: r["top1"] for r in _zoo() if r["name"] == name}
        if {"original", "new"} <= recipes.keys():
            gains[name] = recipes["new"] - recipes["original"]
    return gains


def _cheapest(top1: float = 80) -> tuple[str, ...]:
    best = min((r for r in _zoo() if r["top1"] >= top1), key=lambda r: r["macs"])
    return best["name"], best["weights"], f"{best['name']} {best['version']}"


def _points_per_million() -> str:
    original = [r for r in _zoo() if r["recipe"] == "original"]
    return max(original, key=lambda r: r["top1"] / r["params"])["name"]


def _missing_or_extra(a: dict, r: dict, _run: Run) -> str:
    missing, extra = len(r.keys() - a.keys()), sorted(a.keys() - r.keys())
    if extra:
        return f"Only networks with weights of both recipes: {', '.join(extra)} has not both."
    return f"{missing} network(s) with weights of both recipes are missing."


_add(
    Exercise(
        "08",
        1,
        Name(what="a family, as the zoo's `family` writes it"),
        "cu.weights.zoo() (torchvision's weights metadata): each family's gain in top-1 per "
        "extra 10⁹ multiply-adds, smallest to largest member",
        lambda run: max(_family_slopes(), key=lambda f: _family_slopes()[f][1]),
        (
            Wrong(
                "It gains the most points in all, but over many more multiply-adds: divide the "
                "gain by the extra multiply-adds.",
                lambda r, run: max(_family_slopes(), key=lambda f: _family_slopes()[f][0]),
            ),
            Wrong(
                "Its members cost many multiply-adds each: its gain per billion is small.",
                test=lambda a, r, run: a.startswith("vgg"),
            ),
            Wrong(
                "Its two members differ little in accuracy.",
                test=lambda a, r, run: a == "wide resnet",
            ),
        ),
        (
            "For each family: (the largest member's top-1 − the smallest's) / (the largest's "
            "multiply-adds − the smallest's), original recipes only.",
            "Sort each family's members by `macs`; compare the first with the last.",
        ),
    ),
    Exercise(
        "08",
        2,
        Table(abs=0.05, what="network name → top-1 points added"),
        "cu.weights.zoo() (torchvision's weights metadata): the new recipe's top-1 minus the "
        "original's, for each network with both",
        lambda run: _recipe_gains(),
        (
            Wrong(
                "New minus original, not the reverse.",
                lambda r, run: {k: -v for k, v in r.items()},
            ),
            Wrong(
                _missing_or_extra,
                test=lambda a, r, run: a.keys() != {_words(k) for k in r},
            ),
        ),
        (
            'Group `zoo` by name; keep the names with both an "original" and a "new" recipe.',
            "For each of them: the new recipe's `top1` minus the original's.",
        ),
    ),
    Exercise(
        "08",
        3,
        Name(what="the network's name, as the zoo's `name` writes it"),
        "cu.weights.zoo() (torchvision's weights metadata): the weights with top-1 ≥ 80 and the "
        "fewest multiply-adds",
        lambda run: _cheapest(),
        (
            Wrong(
                "That one reaches 80%, but other weights do with fewer multiply-adds.",
                test=lambda a, r, run: a in {_words(x["name"]) for x in _zoo() if x["top1"] >= 80},
            ),
            Wrong(
                "None of its weights reach 80% top-1.",
                test=lambda a, r, run: a in {_words(x["name"]) for x in _zoo()},
            ),
        ),
        (
            "Keep the weights with `top1 >= 80`, then take the one with the fewest `macs`.",
            "Both recipes count: torchvision's new recipe lifts some older, cheaper networks "
            "over the line.",
        ),
    ),
    Exercise(
        "08",
        7,
        Name(what="the network's name, as the zoo's `name` writes it"),
        "cu.weights.zoo() (torchvision's weights metadata): top-1 over millions of parameters, "
        "original recipes",
        lambda run: _points_per_million(),
        (
            Wrong(
                "Close: it is second. One network has even fewer parameters for its accuracy.",
                lambda r, run: sorted(
                    (x for x in _zoo() if x["recipe"] == "original"),
                    key=lambda x: -x["top1"] / x["params"],
                )[1]["name"],
            ),
            Wrong(
                "That one has the most parameters for its accuracy, not the fewest.",
                lambda r, run: min(
                    (x for x in _zoo() if x["recipe"] == "original"),
                    key=lambda x: x["top1"] / x["params"],
                )["name"],
            ),
        ),
        (
            '`r["top1"] / r["params"]` for each original-recipe row of `zoo`; take the largest.',
            "Networks without large linear layers do well on this ratio.",
        ),
    ),
    Prediction(
        "08",
        "ReLU or tanh",
        Choice({"ReLU": ("relu",), "tanh": ()}),
        lambda run: (
            _lowest(run["loss"]),
            f"after 2 epochs the ReLU stack's training loss was {run['loss']['ReLU']:.3f}, the "
            f"tanh stack's {run['loss']['tanh']:.3f}.",
        ),
        needs=("loss",),
    ),
    OpenExercise(
        "08",
        4,
        (
            "Bytes moved: memory, not arithmetic, sets the speed of some layers.",
            "Launch and synchronisation costs of many small layers or branches.",
            "Element-wise layers: almost no multiply-adds, whole maps read and written.",
        ),
    ),
    OpenExercise(
        "08",
        5,
        (
            "Same architecture, different recipe: how many points apart (exercise 2)?",
            "An accuracy belongs to an architecture and its training.",
            "How to compare fairly: the same recipe for both, as notebook 09 does.",
        ),
    ),
    OpenExercise(
        "08",
        6,
        (
            "The optimiser: SGD with momentum there, AdamW here.",
            "The initialisation made for each activation.",
            "The size of the experiment: one seed, 2 epochs, a few thousand digits.",
        ),
    ),
)


# 09 every family trained ---------------------------------------------------------------------


def _economy(run: Run) -> dict[str, float]:
    return {name: r.test_accuracy / r.macs for name, r in run["results"].items()}


def _growth(name: str) -> float:
    grey = nets.build(name)
    colour = nets.build(name, in_channels=3, image_size=32)
    return counting.count_macs(colour, (3, 32, 32)) / counting.count_macs(grey, (1, 28, 28))


def _fastest_growing(_run: Run) -> tuple[str, float]:
    growth = {name: _growth(name) for name in nets.FAMILIES}
    name = max(growth, key=growth.get)
    return name, growth[name]


def _nin_mistake(answer: Any, run: Run) -> tuple[bool, str]:
    from .train import as_tensors, predict

    i = Number(whole=True).read(answer)
    images, labels = as_tensors(run["test"])
    if not 0 <= i < len(labels):
        return False, f"The test digits are numbered from 0 to {len(labels) - 1}."
    guess = int(predict(run["model"], images[i : i + 1]).argmax())
    if guess == int(labels[i]):
        return False, "NiN gets that digit right: pick one it gets wrong."
    return True, ""


_add(
    Exercise(
        "09",
        1,
        Name(what="a family's name"),
        "the run's own results: test accuracy over multiply-adds, per family",
        lambda run: max(_economy(run), key=_economy(run).get),
        (
            Wrong(
                "That is the most accurate family, not the most economical: divide by its "
                "multiply-adds.",
                lambda r, run: max(run["results"], key=lambda n: run["results"][n].test_accuracy),
            ),
        ),
        (
            "`r.test_accuracy / r.macs` for each family in `results`; take the largest.",
            "The ratio ranks the costs more than the accuracies: look at the cheapest families.",
        ),
        needs=("results",),
    ),
    Exercise(
        "09",
        2,
        Number(whole=True, what="the number of a test digit"),
        "the run's trained NiN on the test digits",
        judge=_nin_mistake,
        hints=("`cu.predict(nin, test).argmax(1) != test.labels` marks its mistakes.",),
        needs=("model", "test"),
    ),
    Exercise(
        "09",
        3,
        Several(
            (Name(what="a family"), Number(rel=1e-2)),
            what="the family whose multiply-adds grow most, and by what factor",
        ),
        "cu.count_macs of every family built by cu.nets.build for 1×28×28 and for 3×32×32",
        _fastest_growing,
        (
            Wrong(
                "The factor is right, the family is not.",
                test=lambda a, r, run: (
                    math.isclose(a[1], r[1], rel_tol=1e-2) and a[0] != _words(r[0])
                ),
            ),
            Wrong(
                "The family is right; its factor is multiply-adds at 3×32×32 over those at "
                "1×28×28.",
                test=lambda a, r, run: a[0] == _words(r[0]),
            ),
        ),
        (
            "Build each family twice, `cu.nets.build(name)` and `cu.nets.build(name, "
            "in_channels=3, image_size=32)`, and divide their `cu.count_macs`.",
            "Look for the family whose first convolution does a large share of its work and "
            "whose convolutions are not padded.",
        ),
    ),
    Prediction(
        "09",
        "cluttered winner",
        Name(what="a family's name"),
        lambda run: (
            max(run["accuracy"], key=run["accuracy"].get),
            f"{max(run['accuracy'], key=run['accuracy'].get)} did best, with "
            f"{max(run['accuracy'].values()):.1%}.",
        ),
        needs=("accuracy",),
    ),
    OpenExercise(
        "09",
        4,
        (
            "The median cosine similarity of the filters with their start, for both LeNet5s.",
            "Whether the He-initialised filters stay as close to their start as the other "
            "families' do.",
        ),
    ),
    OpenExercise(
        "09",
        5,
        (
            "Global average pooling has no parameter to fit (Lin et al. 2014, §3.2).",
            'It forces the last maps to mean "this class is here".',
            "What it gives up: where in the image a feature was.",
        ),
    ),
    OpenExercise(
        "09",
        6,
        (
            "A sum mixes old and new maps; a concatenation keeps them apart (Huang et al. 2017, "
            "§3).",
            "The channels grow by k per layer: width, compute and memory.",
            "The remedies: transitions and bottlenecks (DenseNet-BC).",
        ),
    ),
)


# --- the student edition, and the grader ----------------------------------------------------


def is_solution(cell: Mapping) -> bool:
    """A worked solution: a cell tagged `solution` (CONTRIBUTING, "Solutions")."""
    return "solution" in cell.get("metadata", {}).get("tags", [])


def is_solutions_heading(cell: Mapping) -> bool:
    """The markdown cell over the solutions: a heading that reads "Solutions", with at most one
    paragraph and no other heading under it (CONTRIBUTING, "Solutions")."""
    if cell.get("cell_type") != "markdown":
        return False
    first, _, rest = "".join(cell.get("source", "")).strip().partition("\n")
    if not re.fullmatch(r"#{1,6}[ \t]+Solutions[ \t]*#*[ \t]*", first.strip()):
        return False
    rest = rest.strip()
    return not re.search(r"\n[ \t]*\n", rest) and not re.search(r"^[ \t]*#", rest, re.M)


def student_edition(notebook: Mapping) -> dict:
    """A copy of `notebook` (its JSON, as a dict) without its solution cells and the heading
    over them."""
    copy = json.loads(json.dumps(notebook))
    copy["cells"] = [
        cell for cell in copy["cells"] if not is_solution(cell) and not is_solutions_heading(cell)
    ]
    return copy


@dataclass
class Grade:
    """One submitted notebook's row: how far it ran, and what its checks said."""

    file: str
    notebook: str = ""
    exercises: int = 0  # the checked exercises the notebook has
    answered: int = 0
    correct: int = 0
    failed: int = 0
    status: str = "ok"  # ok, error, time-out, not a notebook
    error: str = ""
    seconds: float = 0.0
    # (notebook, exercise) -> the last check's result: True, False, or None (not answered)
    results: dict = field(default_factory=dict, repr=False)


COLUMNS = (
    "file",
    "notebook",
    "exercises",
    "answered",
    "correct",
    "failed",
    "status",
    "error",
    "seconds",
)
# What one notebook's outputs may hold in the grader's memory; past it they are dropped (the
# checks' results come through RECORD_ENV's file, not through the outputs).
OUTPUT_LIMIT = 1_000_000


def _tally(grade: Grade, record: os.PathLike) -> None:
    """Fill in a grade's counts from the JSON lines that the notebook's checks wrote."""
    last: dict[tuple[str, Any], bool | None] = {}
    with contextlib.suppress(OSError), open(record, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
                entry = json.loads(line)
                if entry["kind"] == "exercise" and entry["result"] in (True, False, None):
                    last[(str(entry["notebook"]), entry["exercise"])] = entry["result"]
    if last and not grade.notebook:
        notebooks = [nb for nb, _ in last]
        grade.notebook = max(set(notebooks), key=notebooks.count)
    grade.exercises = len(items(grade.notebook, "exercise")) if grade.notebook else 0
    grade.results = last
    grade.answered = sum(r is not None for r in last.values())
    grade.correct = sum(r is True for r in last.values())
    grade.failed = sum(r is False for r in last.values())


def _submission(path, grade: Grade):
    """The notebook at `path` without its solution cells, each cell numbered as submitted; None,
    with the reason in `grade`, when it is not a notebook."""
    import nbformat

    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        cells = nb["cells"]
        if not isinstance(cells, list):
            raise ValueError("no list of cells")
    except Exception as err:  # not JSON, not a notebook, not UTF-8
        grade.status, grade.error = "not a notebook", show.short_error(err)
        return None
    for number, cell in enumerate(cells, 1):  # the submission's own cell numbers, in errors
        cell.setdefault("metadata", {})["course_cell"] = number
    nb["cells"] = [cell for cell in cells if not is_solution(cell)]
    return nb


def _client(nb, folder, at: dict, *, deadline: float, cell_timeout: float, **options):
    """An nbclient client for `nb` in `folder`, which keeps at most OUTPUT_LIMIT of its output,
    gives each cell what is left of `deadline` at most, and notes in `at` the cell it runs."""
    import time

    from nbclient import NotebookClient

    class Client(NotebookClient):
        kept = 0

        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            headless.steady_shell(kc)  # a student's explorer must not stall the grader (see there)
            return kc

        def output(self, outs, msg, display_id, cell_index):
            size = len(str(msg.get("content", "")))
            if self.kept + size > OUTPUT_LIMIT:
                return None  # a notebook that prints megabytes must not fill the grader's memory
            self.kept += size
            return super().output(outs, msg, display_id, cell_index)

    def started(cell, cell_index, **_):
        at["cell"] = cell.get("metadata", {}).get("course_cell", cell_index + 1)

    return Client(
        nb,
        timeout_func=lambda cell: max(1.0, min(cell_timeout, deadline - time.monotonic())),
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(folder)}},
        on_cell_start=started,
        **options,
    )


def _run_notebook(
    path, grade: Grade, record, *, timeout: float, cell_timeout: float, **options
) -> None:
    """Run one notebook in a kernel of its own, in its own folder; say in `grade` how it ended.
    `options` go to nbclient (kernel_name, allow_errors)."""
    import subprocess
    import time

    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = _submission(path, grade)
    if nb is None:
        return
    deadline, at = time.monotonic() + timeout, {"cell": 0}
    client = _client(
        nb,
        path.parent,
        at,
        deadline=deadline,
        cell_timeout=cell_timeout,
        startup_timeout=max(10, min(120, int(timeout))),
        **options,
    )
    kernel_env = {**os.environ, RECORD_ENV: str(record)}
    kernel_env.setdefault("MPLBACKEND", "Agg")
    try:
        # The kernel's own stdout and stderr (warnings, C-level prints) stay out of the summary.
        client.execute(env=kernel_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except CellTimeoutError:
        grade.status = "time-out"
        whole = time.monotonic() >= deadline - 1
        limit = f"the notebook's {timeout:g} s" if whole else f"one cell's {cell_timeout:g} s"
        grade.error = f"cell {at['cell']}: stopped at {limit} limit"
    except CellExecutionError as err:
        grade.status, grade.error = "error", f"cell {at['cell']}: {err.ename}: {err.evalue}"
    except DeadKernelError:
        grade.status, grade.error = "error", f"cell {at['cell']}: the kernel died"
    except Exception as err:  # the kernel did not start, or something else went wrong
        grade.status, grade.error = "error", show.short_error(err)
    grade.error = grade.error[:300]


def _write_grades(out, grades: list[Grade]) -> None:
    import csv

    with env.atomic_file(out, text=True) as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for g in grades:
            writer.writerow(
                [getattr(g, c) if c != "seconds" else f"{g.seconds:.1f}" for c in COLUMNS]
            )


def grade(
    folder: str | os.PathLike,
    *,
    timeout: float = 600,
    cell_timeout: float = 120,
    out: str | os.PathLike = "grades.csv",
    allow_errors: bool = False,
    kernel_name: str = "python3",
) -> list[Grade]:
    """Run every `*.ipynb` in `folder`, each in a new kernel of its own, and grade its checks.

    THIS RUNS THE STUDENTS' CODE with your permissions: run it in a container or as an
    unprivileged user. Every notebook is read before any runs; each is then written to a new
    temporary folder of its own, its working directory, just before it runs; its solution cells
    are dropped; it runs until its end, its first error (unless `allow_errors`), one cell's
    `cell_timeout` or the whole notebook's `timeout` (seconds). The checks it calls report to
    a file (RECORD_ENV), from which its row counts the exercises answered, correct and failed.
    After each notebook the CSV `out` is rewritten whole (atomically), so a crash keeps the
    rows so far. Returns the rows.
    """
    import tempfile
    from pathlib import Path

    folder = Path(folder)
    if not folder.is_dir():
        raise env.CourseError(f"{folder} is not a folder: give the folder of submitted notebooks.")
    # Every submission is read before any runs, and each is written to a new folder of its own
    # just before it runs: a notebook that deletes or rewrites its neighbours finds none.
    submissions = [
        (p.name, p.read_bytes())
        for p in sorted(folder.iterdir())
        if p.suffix == ".ipynb" and p.is_file()
    ]
    grades: list[Grade] = []
    bar = show.Progress(len(submissions), desc="grading", unit="notebooks", interval=0)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        for k, (name, data) in enumerate(submissions):
            work = Path(tmp) / f"{k:04d}" / "work"
            row = _grade_one(name, data, work, timeout=timeout, cell_timeout=cell_timeout,
                             allow_errors=allow_errors, kernel_name=kernel_name)  # fmt: skip
            grades.append(row)
            _write_grades(out, grades)
            bar.update(1, postfix=f"{row.file}: {row.status}", force=True)
    bar.close()
    print(summary(grades, out))
    return grades


def _grade_one(name: str, data: bytes, work, **limits) -> Grade:
    """Write the submission `name` into the new folder `work`, run it there, and count what its
    checks said."""
    import time

    work.mkdir(parents=True)
    (work / name).write_bytes(data)
    record = work.parent / "checks.jsonl"  # beside its folder, not in it
    row = Grade(file=name, notebook=_notebook_of(name))
    started = time.monotonic()
    _run_notebook(work / name, row, record, **limits)
    row.seconds = time.monotonic() - started
    _tally(row, record)
    return row


def _notebook_of(name: str) -> str:
    """The notebook a file name starts with ("06" for 06_resnet_bottleneck-alice.ipynb)."""
    found = re.match(r"(0[1-9])(?!\d)", name)
    return found[1] if found else ""


def summary(grades: list[Grade], out: str | os.PathLike = "") -> str:
    """The grades as a plain-text table, with a line of totals."""
    rows = [("file", "notebook", "answered", "correct", "failed", "status", "error")]
    rows += [
        (
            g.file,
            g.notebook or "?",
            f"{g.answered}/{g.exercises}",
            str(g.correct),
            str(g.failed),
            g.status,
            g.error[:60],
        )
        for g in grades
    ]
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    statuses = {
        s: sum(g.status == s for g in grades) for s in dict.fromkeys(g.status for g in grades)
    }
    totals = ", ".join(f"{n} {s}" for s, n in statuses.items()) or "no notebooks"
    where = f"; one row each in {out}" if out else ""
    return "\n".join(lines + [f"{len(grades)} notebook(s): {totals}{where}"])


WARNING = (
    "It runs the students' code, with your permissions: run it in a container or as an "
    "unprivileged user, never on a machine whose files you would not hand to your students."
)


def _parser():
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(
        prog="python -m course_utils.exercises",
        description="Grade a class's notebooks, or write the student edition of the course.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    grading = commands.add_parser(
        "grade",
        help="run every notebook in FOLDER and write one CSV row each. " + WARNING,
        description=(
            "Runs every *.ipynb in FOLDER, each in a new kernel of its own, in a temporary copy "
            "of its own folder, without its solution cells, with a time limit per cell and per "
            "notebook; writes one CSV row per notebook (file, notebook, exercises, answered, "
            "correct, failed, status, error, seconds) and prints a summary. WARNING: " + WARNING
        ),
    )
    grading.add_argument("folder", type=Path, help="the folder of submitted notebooks")
    grading.add_argument("--timeout", type=float, default=600, metavar="S",
                         help="seconds for a whole notebook (default 600)")  # fmt: skip
    grading.add_argument("--cell-timeout", type=float, default=120, metavar="S",
                         help="seconds for one cell (default 120)")  # fmt: skip
    grading.add_argument("--out", type=Path, default=Path("grades.csv"),
                         help="the CSV file to write (default grades.csv)")  # fmt: skip
    grading.add_argument("--allow-errors", action="store_true",
                         help="run on after a cell raises, instead of stopping there")  # fmt: skip
    student = commands.add_parser("student", help="write the notebooks without their solutions")
    student.add_argument("source", type=Path, help="a notebook, or a folder of notebooks")
    student.add_argument("dest", type=Path, help="the folder to write them to")
    return parser


def write_student_editions(source, dest) -> None:
    """Write each notebook of `source` (a notebook or a folder) into `dest`, without solutions."""
    sources = sorted(source.glob("*.ipynb")) if source.is_dir() else [source]
    dest.mkdir(parents=True, exist_ok=True)
    for path in sources:
        edition = student_edition(json.loads(path.read_text(encoding="utf-8")))
        with env.atomic_file(dest / path.name, text=True) as f:
            f.write(json.dumps(edition, indent=1, ensure_ascii=False) + "\n")
        print(f"{dest / path.name}: {len(edition['cells'])} cells, no solutions")


def main(argv: list[str] | None = None) -> int:
    """`python -m course_utils.exercises grade FOLDER` and `... student SOURCE DEST`."""
    args = _parser().parse_args(argv)
    if args.command == "student":
        write_student_editions(args.source, args.dest)
        return 0
    try:
        grade(args.folder, timeout=args.timeout, cell_timeout=args.cell_timeout, out=args.out,
              allow_errors=args.allow_errors)  # fmt: skip
    except env.CourseError as err:
        print(err)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
