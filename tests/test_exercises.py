"""course_utils.exercises: every check takes its solution's answer and refuses the usual wrong
ones with their hints, never printing the right answer; hints, progress, predictions; the
notebooks' answer cells and solutions; the grader on a folder of generated submissions.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import course_utils as cu
from course_utils import exercises as ex

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {p.name[:2]: p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}


def said(fn, *args, **kwargs) -> tuple[object, str]:
    """What fn returns, and what it prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = fn(*args, **kwargs)
    return result, out.getvalue()


@pytest.fixture(autouse=True)
def fresh_session(monkeypatch):
    """Each test starts with no answers checked, and no record file."""
    monkeypatch.setattr(ex, "_SESSION", {})
    monkeypatch.delenv(ex.RECORD_ENV, raising=False)


# --- the run's results, for the checks that compare with the run ----------------------------


def _bn_lenet(digits):
    """A batch-normalised LeNet5 trained briefly, so that its two modes disagree."""
    cu.seed_everything(0)
    model = cu.LeNet5(batch_norm=True)
    train = cu.data.subset(digits[0], 1000, seed=0)
    cu.fit(model, train, _small_test(digits), epochs=1, quiet=True, device="cpu")
    return model.eval()


def _small_test(digits, n=200):
    test = digits[1]
    return cu.data.TensorImageDataset(test.images[:n], test.labels[:n])


def runs(key, digits) -> dict:
    """The run's results that exercise `key`'s check needs, made here."""
    test = _small_test(digits)
    probabilities = torch.tensor(
        [[0.9, 0.1, 0.0], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]
    )  # digit 0 right; digit 1 wrong, true class second; digit 2 wrong, true class third
    return {
        ("01", 1): lambda: {
            "table": cu.show.Report(
                "",
                {
                    "no shifts": {"train": 0.99, "test": 0.965},
                    "shifts": {"train": 0.98, "test": 0.97},
                },
            )
        },
        ("01", 4): lambda: {"probabilities": probabilities, "labels": torch.tensor([0, 1, 0, 1])},
        ("01", 6): lambda: {
            "lenet1998": SimpleNamespace(test_accuracy=[0.9, 0.953]),
            "lenet5": SimpleNamespace(test_accuracy=[0.95, 0.971]),
        },
        ("02", 2): lambda: {
            "two": SimpleNamespace(test_accuracy=[0.9, 0.97]),
            "four": SimpleNamespace(test_accuracy=[0.9, 0.962]),
        },
        ("04", 2): lambda: {"fcn": _lenet_fcn(), "test": digits[1]},
        ("06", 2): lambda: {"images": digits[0].images[:64], "labels": digits[0].labels[:64]},
        ("06", 3): lambda: {"model": _bn_lenet(digits), "test": test},
        ("07", 2): lambda: {"times": {1: (0.010, 0.050), 16: (0.100, 0.200)}},
        ("09", 1): lambda: {
            "results": {
                "LeNet5": SimpleNamespace(test_accuracy=0.97, macs=0.3e6),
                "VGG": SimpleNamespace(test_accuracy=0.99, macs=30e6),
            }
        },
        ("09", 2): lambda: {"model": _lenet(), "test": test},
    }.get(key, dict)()


def _lenet():
    torch.manual_seed(0)
    return cu.LeNet5().eval()


def _lenet_fcn():
    return cu.convolutionize(_lenet(), (1, 28, 28))


def _missed_by_hand(run):
    big, placed = cu.lab.digit_canvas(
        run["test"].images, run["test"].labels, n=12, size=(160, 256), seed=3
    )
    probabilities, _ = cu.lab.digit_heatmaps(run["fcn"], big)
    found = cu.lab.found_digits(probabilities, placed)
    return [label for (_, _, label), g in zip(placed, found, strict=True) if g != label]


def _strided_lenet():
    net = cu.LeNet5()
    net.features[2] = nn.Conv2d(6, 6, 5, stride=2, padding=2)
    net.features[5] = nn.Conv2d(16, 16, 5, stride=2, padding=2)
    assert net(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    return net


def _scores_everywhere(resnet, images):
    maps = nn.Sequential(*list(resnet.children())[:-2])(images)
    return torch.einsum("kc,nchw->nkhw", resnet.fc.weight, maps) + resnet.fc.bias[:, None, None]


def _first_wrong(run):
    wrong = (cu.predict(run["model"], run["test"]).argmax(1) != run["test"].labels).nonzero()
    return int(wrong[0])


def _first_right(run):
    right = (cu.predict(run["model"], run["test"]).argmax(1) == run["test"].labels).nonzero()
    return int(right[0])


def _train_mode_accuracy(run, size=10):
    model, test = run["model"], run["test"]
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    with torch.no_grad():
        hits = sum(
            int((model(test.images[k : k + size]).argmax(1) == test.labels[k : k + size]).sum())
            for k in range(0, len(test), size)
        )
    model.load_state_dict(saved)
    model.eval()
    return hits / len(test)


def _ratios(run):
    found = []
    for depth in (10, 60):
        cu.seed_everything(0)
        stack = cu.blocks.deep_stack(depth, 16, shortcuts=False)
        cu.blocks.gradient_norms(stack, run["images"], run["labels"])
        grads = [m.weight.grad for m in stack.modules() if isinstance(m, nn.Conv2d)][1:]
        found.append((grads[0].double().norm() / grads[-1].double().norm()).item())
    return tuple(found)


# Each checked exercise's answer, worked out here as its notebook's solution works it out (from
# the networks themselves, torchvision's own numbers, or the papers' formulas), given the run.
SOLUTIONS = {
    ("01", 1): lambda run: (2.5, 1.0),
    ("01", 2): lambda run: cu.count_parameters(_strided_lenet()),
    ("01", 3): lambda run: ["features.0", "classifier.0"],
    ("01", 4): lambda run: 1,
    ("01", 6): lambda run: (0.953 - 0.971) * 100,
    ("02", 2): lambda run: "worse",
    ("02", 4): lambda run: cu.augment.pca_colors(
        [cu.load_image(p) for p in cu.sample_images().values()]
    )[0],
    ("02", 5): lambda run: (65 * 65 * 2, 65 * 65),  # 288 - 224 + 1 offsets along each side
    ("03", 1): lambda run: 143_667_240 - (25088 - 512) * 4096,  # torchvision's count, less fc6's
    ("03", 3): lambda run: "the same",
    ("03", 4): lambda run: (268, 32),  # notebook 03's solution prints these from cu.receptive
    ("03", 7): lambda run: (224 * 224, 1),
    ("04", 1): lambda run: 2**5,  # five 2x2 poolings of stride 2
    ("04", 2): _missed_by_hand,
    ("04", 4): lambda run: _scores_everywhere,
    ("04", 5): lambda run: 0,
    ("04", 8): lambda run: (256 * 6 * 6 * 4096, 256 * 4096),
    ("05", 1): lambda run: (3_346_112, 868_352),
    ("05", 2): lambda run: (25 * 16 + 1) * 32 - (9 * 16 + 1) * 16 - (9 * 16 + 1) * 32,
    ("05", 3): lambda run: "conv3",
    ("05", 4): lambda run: 1_980_608 + (384 * 36 + 1) * 4096 + 4097 * 4096 + 4097 * 1000,
    ("05", 7): lambda run: 192 + 3 * (64 + 128 + 32),
    ("06", 1): lambda run: "10.94",  # ×10⁹, as notebook 06's solution prints it
    ("06", 2): _ratios,
    ("06", 3): _train_mode_accuracy,
    ("06", 4): lambda run: 256 * 64 + 9 * 64 * 64 + 64 * 256 + 2 * (64 + 64 + 256),
    ("07", 1): lambda run: [
        c * (256 * d + 9 * d * d + d * 256) for c, d in [(32, 4), (8, 14), (1, 64)]
    ],
    ("07", 2): lambda run: 1,
    ("07", 3): lambda run: 128 * 9,
    ("07", 6): lambda run: (70_144 * 56 * 56, 69_632 * 56 * 56),
    ("08", 1): lambda run: "GoogLeNet",
    ("08", 2): lambda run: {
        "resnet50": 80.858 - 76.130,
        "resnet101": 81.886 - 77.374,
        "resnet152": 82.284 - 78.312,
        "resnext50_32x4d": 81.198 - 77.618,
        "resnext101_32x8d": 82.834 - 79.312,
        "wide_resnet50_2": 81.602 - 78.468,
        "wide_resnet101_2": 82.510 - 78.848,
    },  # torchvision's weights metadata, acc@1
    ("08", 3): lambda run: "resnet50",
    ("08", 7): lambda run: "googlenet",
    ("09", 1): lambda run: "LeNet5",
    ("09", 2): _first_wrong,
    ("09", 3): lambda run: ("LeNet5", 2.314),
}

# Wrong answers that a Wrong recognises by a test rather than by value (and the judged ones),
# each with a piece of the hint it must get.
WRONG_EXAMPLES = {
    ("01", 3): [
        ({"features.0", "features.3"}, "how many maps it reads"),
        (["features.2"], "no parameters"),
    ],
    ("01", 4): [(0, "gets that digit right"), (2, "choice number 3"), (99, "numbered from 0")],
    ("02", 4): [
        (lambda: cu.augment.pca_colors(cu.load_image(cu.sample_images()["cat"]))[0], "one photo")
    ],
    ("03", 4): [((268, 16), "every pooling doubles"), ((224, 32), "past the image")],
    ("03", 7): [
        ((1, 1), "every output position"),
        ((1728, 1), "how often"),
        ((50176, 9), "once per image"),
    ],
    ("04", 4): [
        (lambda: lambda resnet, images: resnet(images), "after the averaging"),
        (lambda: lambda r, x: _scores_everywhere(r, x) - r.fc.bias[:, None, None], "bias"),
        (lambda: lambda r, x: torch.zeros(len(x), 1000, 3, 4), "does not give"),
        (lambda: 42, "a function"),
    ],
    ("04", 5): [(26, "Not the central"), (2, "AlexNet's")],
    ("04", 8): [((37_748_736, 16_777_216), "second linear layer")],
    ("05", 1): [((3_346_112, 868_352 - 529 * 128), "projection")],
    ("05", 2): [(-1_056, "widens in the first"), (1_056, "widens in the first")],
    ("05", 3): [("conv1", "7×7"), ("conv2", "1×1"), ("inception3b.branch2.1.0", "inception")],
    ("06", 2): [((4.3e-4, 0.0), "underflow"), ((3.7e-4, 9e-26), "seed")],
    ("07", 1): [
        ((70_144, 71_456, 69_696), "without biases"),
        ((69_632, 70_144, 71_456), "order"),
        ((212_992, 71_456, 69_632), "dense"),
    ],  # fmt: skip
    ("07", 2): [(16, 'hint("07", 2) gives a hint')],
    ("02", 2): [("better", 'hint("02", 2) gives a hint')],
    ("08", 1): [("VGG", "multiply-adds each"), ("wide ResNet", "differ little")],
    ("08", 2): [
        ({"resnet50": 4.728}, "missing"),
        ({**SOLUTIONS[("08", 2)](None), "alexnet": 1}, "both"),
    ],
    ("08", 3): [("resnet101", "fewer multiply-adds"), ("alexnet", "None of its weights")],
    ("09", 2): [(lambda run: _first_right(run), "gets that digit right")],
    ("09", 3): [(("VGG", 2.314), "family is not"), (("LeNet5", 1.4), "factor")],
}

CHECKED = [key for key, item in ex.REGISTRY.items() if isinstance(item, ex.Exercise)]


def test_every_checked_exercise_has_a_worked_answer_here():
    assert sorted(SOLUTIONS) == sorted(CHECKED)


def _forms(value) -> list[str]:
    """How the right answer could be written in a message: the strings that must not appear."""
    if isinstance(value, str):
        return [value] if len(value) >= 3 else []
    if isinstance(value, torch.Tensor):
        return [s for v in value.flatten().tolist() for s in _forms(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _forms(v)]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for v in value for s in _forms(v)]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    if round(float(value), 9).is_integer():
        v = round(value)
        if abs(v) < 10:  # small whole numbers are everywhere ("3×3", "2 levels")
            return []
        forms = [str(v), f"{v:,}", f"{v:_}"]
        if abs(v) >= 1e6:
            forms += [f"{v / 1e9:.2f}", f"{v / 1e6:.1f}"]
        return forms
    forms = [f"{value:.3g}", f"{value:.2e}", f"{value:.1e}"]
    if abs(value) >= 1:
        forms += [f"{value:.1f}", f"{value:.2f}"]
    return forms


def leaks(text: str, value) -> list[str]:
    """The forms of `value` that stand in `text` as a whole number or word."""
    found = []
    for form in _forms(value):
        if re.search(r"[A-Za-z]", form):
            if form.lower() in text.lower():
                found.append(form)
        elif re.search(rf"(?<![\d.,]){re.escape(form)}(?![\d,]|\.\d)", text):
            found.append(form)
    return found


@pytest.mark.parametrize("key", CHECKED, ids=[f"{n}.{k}" for n, k in CHECKED])
def test_the_solution_passes_the_wrong_answers_get_their_hints_and_nothing_leaks(key, digits):
    item = ex.REGISTRY[key]
    run = runs(key, digits)
    answer = SOLUTIONS[key](run)
    ok, right_said = said(ex.check, *key, answer, **run)
    assert ok is True and right_said.startswith("✓"), right_said
    ok, unanswered = said(ex.check, *key, ..., **run)
    assert ok is None and "not answered yet" in unanswered
    outputs = [right_said, unanswered]
    wrongs = []
    for wrong in item.wrong:
        if wrong.test is None:
            right = ex._right_answer(item, run)
            value = wrong.value(right, run) if callable(wrong.value) else wrong.value
            wrongs.append((value, wrong.hint if isinstance(wrong.hint, str) else ""))
    for value, piece in WRONG_EXAMPLES.get(key, []):
        if callable(value):
            value = value(run) if value.__code__.co_argcount else value()
        wrongs.append((value, piece))
    assert wrongs, f"{key}: no wrong answer is tried"
    for value, piece in wrongs:
        ok, text = said(ex.check, *key, value, **run)
        assert ok is False and text.startswith("✗"), (value, text)
        assert piece in text, (value, piece, text)
        outputs.append(text)
    for level in (1, 2, 3):
        outputs.append(said(ex.hint, *key, level)[1])
    if item.judge is None:
        right = ex._right_answer(item, run)
        for text in outputs:
            assert not leaks(text, right), (text, leaks(text, right))


def test_the_leak_finder_finds_a_leak():
    assert leaks("off by 22: the answer is 51,748.", 51_748) == ["51,748"]
    assert leaks("It reads 512 numbers, not 25,088.", 51_748) == []
    assert leaks("Take the 'Unchanged' one.", "unchanged") == ["unchanged"]
    assert leaks("ratios 4.3e-04 and 0", (4.33e-4, 3.2e-25)) == ["4.3e-04"]


def test_a_placeholder_or_a_missing_result_never_raises():
    for key, item in ex.REGISTRY.items():
        if isinstance(item, ex.OpenExercise):
            continue
        ok, text = said(ex.check, *key, ...)
        assert ok is None and "not answered yet" in text, key
    ok, text = said(ex.check, "01", 1, (2.5, 1.0), table=...)  # answered, table not set
    assert ok is None and "also needs your run's table" in text


def test_an_answer_of_the_wrong_form_is_refused_with_what_is_expected():
    ok, text = said(ex.check, "01", 2, "a lot")
    assert ok is False and "Expected a whole number" in text
    ok, text = said(ex.check, "07", 1, 70_144)
    assert ok is False and "3 answers in a tuple" in text
    assert said(ex.check, "01", 2, "51,748")[0] is True  # as a student may type it
    assert said(ex.check, "01", 2, torch.tensor(51_748))[0] is True


def test_a_number_close_to_the_answer_is_told_the_tolerance():
    ok, text = said(ex.check, "06", 1, 10.9)  # ×10⁹, 0.3% off
    assert ok is False and "within 0.001, relative" in text


def test_an_unknown_exercise_raises_naming_the_ones_there_are():
    with pytest.raises(ex.UnknownExerciseError, match="its exercises: 1, 2, 3"):
        ex.check("07", 9, 1)


def test_hints_come_in_at_most_two_levels_the_second_more_direct():
    for key, item in ex.REGISTRY.items():
        if isinstance(item, ex.Exercise):
            assert 1 <= len(item.hints) <= 2, key
    _, first = said(ex.hint, "01", 2)
    _, second = said(ex.hint, "01", 2, level=2)
    assert first.startswith("Hint 1 of 2") and "level=2" in first
    assert second.startswith("Hint 2 of 2") and "worked solution" in second
    assert said(ex.hint, "01", 2, level=9)[1] == second
    assert "what to look for" in said(ex.hint, "01", 5)[1]  # open: its list


def test_open_exercises_have_a_list_of_what_to_look_for():
    for item in ex.items(kind="open"):
        _, text = said(ex.look_for, item.notebook, item.n)
        assert len(item.look_for) >= 2 and text.count("\n- ") == len(item.look_for)
    assert "checks itself" in said(ex.look_for, "01", 2)[1]


def test_progress_lists_this_sessions_checks():
    said(ex.check, "07", 1, (70_144, 71_456, 69_632))
    said(ex.check, "07", 3, 9)
    said(ex.check, "07", 6, ...)
    results, text = said(ex.progress, "07")
    assert results == {1: True, 2: None, 3: False, 6: None, "faster": None}
    lines = text.splitlines()
    assert "✓ Exercise 07.1" in lines[1] and "✗ Exercise 07.3" in lines[3]
    assert lines[2].endswith("Exercise 07.2: not answered")
    assert "1 of 5 right" in text and 'look_for("07", n)' in text


# --- predictions ----------------------------------------------------------------------------

PREDICTIONS = {
    ("01", "activations"): ({"losses": {"ReLU": 0.1, "tanh": 0.2, "sigmoid": 0.9}}, "relu", "tanh"),
    ("02", "shifts"): (
        {"rows": {"none": {"train": 1.0, "test": 0.9}, "shifts": {"train": 0.98, "test": 0.93}}},
        ("higher", "narrower"),
        ("higher", "wider"),
    ),
    ("03", "receptive field"): ({"size": 252}, "more", "less"),
    ("04", "speed-up"): ({"speedup": 3.0}, 4, 10),
    ("05", "busiest branch"): (
        {
            "shares": {
                "a": torch.tensor([0.1, 0.6, 0.2, 0.1]),
                "b": torch.tensor([0.5, 0.3, 0.1, 0.1]),
                "c": torch.tensor([0.2, 0.5, 0.2, 0.1]),
            }
        },  # fmt: skip
        "3x3",
        "pool",
    ),
    ("06", "degradation"): (
        {"loss": {"plain-6": 0.3, "plain-24": 1.2, "residual-6": 0.3, "residual-24": 0.1}},
        ("higher", "lower"),
        ("lower", "lower"),
    ),
    ("07", "faster"): ({"t_grouped": 0.01, "t_paths": 0.05}, "grouped", "paths"),
    ("08", "ReLU or tanh"): ({"loss": {"ReLU": 0.30, "tanh": 0.28}}, "tanh", "ReLU"),
    ("09", "cluttered winner"): ({"accuracy": {"NiN": 0.8, "VGG": 0.7}}, "NiN", "VGG"),
}


def test_every_prediction_is_tried_here():
    assert sorted(PREDICTIONS) == sorted(
        k for k, i in ex.REGISTRY.items() if i.kind == "prediction"
    )


@pytest.mark.parametrize("key", sorted(PREDICTIONS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_a_prediction_is_compared_with_the_run_which_it_describes(key):
    run, right, wrong = PREDICTIONS[key]
    ok, text = said(ex.check, *key, right, **run)
    assert ok is True and text.startswith("✓") and "matched this run" in text, text
    ok, text = said(ex.check, *key, wrong, **run)
    assert ok is False and "this run showed otherwise" in text, text
    assert said(ex.check, *key, ..., **run)[0] is None


def test_the_choice_widget_holds_a_prediction_that_check_reads():
    choice = cu.widgets.prediction(["ReLU", "tanh", "sigmoid"])
    assert choice.value is None and "A choice of prediction" in repr(choice)
    run = {"losses": {"ReLU": 0.1, "tanh": 0.2, "sigmoid": 0.9}}
    ok, text = said(ex.check, "01", "activations", choice, **run)
    assert ok is None and "Choose one above" in text
    choice.value = "ReLU"  # as a click does
    assert said(ex.check, "01", "activations", choice, **run)[0] is True


def test_checking_leaves_the_students_random_numbers_alone(digits):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    said(ex.check, "06", 2, (1.0, 1.0), **runs(("06", 2), digits))  # seeds and builds stacks
    assert torch.equal(torch.rand(3), expected)


# --- the notebooks --------------------------------------------------------------------------


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _exercise_numbers(cells) -> list[int]:
    text = next("".join(c["source"]) for c in cells if "## Exercises" in "".join(c["source"]))
    return [int(n) for n in re.findall(r"^(\d+)\. ", text.split("## Exercises", 1)[1], re.M)]


CHECK_CALL = re.compile(r'cu\.exercises\.check\(\s*"(\d\d)", (\d+|"[^"]+"),')


def answered_in(path) -> dict:
    """{exercise: (answer cell, solution cell)} for every check call in a notebook."""
    found = {}
    for cell in _cells(path):
        text = "".join(cell["source"])
        for _, key in CHECK_CALL.findall(text):
            key = int(key) if key.isdigit() else key.strip('"')
            found.setdefault(key, [None, None])[ex.is_solution(cell)] = text
    return found


def test_every_exercise_of_every_notebook_is_checked_or_has_a_list_to_look_for():
    for number, path in NOTEBOOKS.items():
        numbers = _exercise_numbers(_cells(path))
        registered = sorted(i.n for i in ex.items(number) if i.kind in ("exercise", "open"))
        assert registered == numbers, path.name
        assert len(ex.items(number, "exercise")) >= 3, path.name


EDITED = [n for n, p in NOTEBOOKS.items() if answered_in(p)]


def test_at_least_30_exercises_check_themselves_in_the_notebooks():
    assert sum(len(ex.items(n, "exercise")) for n in EDITED) >= 30


@pytest.mark.parametrize("number", EDITED)
def test_each_answer_cell_waits_for_an_answer_and_its_solution_calls_the_same_check(number):
    path = NOTEBOOKS[number]
    found = answered_in(path)
    for item in ex.items(number):
        if isinstance(item, ex.OpenExercise):
            assert item.key not in found, f"{path.name}: exercise {item.n} is open"
            continue
        answer_cell, solution = found.get(item.key, (None, None))
        assert answer_cell, f"{path.name}: no cell checks {item.label}"
        if item.kind == "exercise":
            assert re.search(r"^answer = \.\.\.", answer_cell, re.M), answer_cell
            call = rf'assert cu\.exercises\.check\(\s*"{number}", {item.n},'
            assert solution and re.search(call, solution), f"{item.label}: {solution}"
    # a prediction is written at the top of the cell that measures, and checked after it
    texts = ["".join(c["source"]) for c in _cells(path)]
    for item in ex.items(number, "prediction"):
        asked = next(k for k, t in enumerate(texts) if t.startswith("prediction = ..."))
        checked = next(k for k, t in enumerate(texts) if f'"{item.name}", prediction' in t)
        assert "**Predict, then run.**" in texts[asked - 1] and asked < checked, path.name
    for cell in _cells(path):  # the answer cells sit among the student's cells, never folded
        if "answer = ..." in "".join(cell["source"]):
            assert not ex.is_solution(cell) and "jupyter" not in cell["metadata"]


def test_the_student_edition_has_no_solutions_and_is_the_notebook_up_to_them():
    for path in NOTEBOOKS.values():
        notebook = json.loads(path.read_text(encoding="utf-8"))
        edition = ex.student_edition(notebook)
        assert not any(ex.is_solution(c) for c in edition["cells"])
        # Solutions come last, so running the notebook (as CI does) runs the student edition
        # first, cell for cell, then the solutions.
        assert notebook["cells"][: len(edition["cells"])] == edition["cells"], path.name


def test_the_student_edition_runs_and_its_checks_wait_for_answers(tmp_path):
    """One notebook's student edition, run by the grader (the others run in CI, where each
    notebook's cells up to its solutions are exactly its student edition)."""
    (tmp_path / "class").mkdir()
    edition = ex.student_edition(json.loads(NOTEBOOKS["07"].read_text(encoding="utf-8")))
    (tmp_path / "class" / "07_resnext.ipynb").write_text(json.dumps(edition), encoding="utf-8")
    (row,) = said(ex.grade, tmp_path / "class", out=tmp_path / "grades.csv", timeout=300)[0]
    assert (row.status, row.error, row.answered) == ("ok", "", 0)
    assert row.results == {("07", i.n): None for i in ex.items("07", "exercise")}


# --- the grader -----------------------------------------------------------------------------


def _notebook(*cells: str) -> str:
    return json.dumps(
        {
            "cells": [
                {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                 "source": source}
                for source in cells
            ],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "nbformat": 4,
            "nbformat_minor": 4,
        }
    )  # fmt: skip


RIGHT = {
    1: "(70_144, 71_456, 69_632)",
    3: "1_152",
    6: "(219_971_584, 218_365_952)",
    2: "1, times={1: (0.01, 0.05), 16: (0.1, 0.2)}",
}


def _check(n, answer=None):
    return f'cu.exercises.check("07", {n}, {answer or RIGHT[n]})'


SUBMISSIONS = {
    "07_all_right.ipynb": _notebook("import course_utils as cu", *(_check(n) for n in RIGHT)),
    "07_half_right.ipynb": _notebook(
        "import course_utils as cu",
        _check(1),
        _check(3),
        _check(6, "(1, 2)"),
        _check(2, "16, times={1: (0.01, 0.05), 16: (0.1, 0.2)}"),
    ),
    "07_raises.ipynb": _notebook("import course_utils as cu", _check(1), "1 / 0", _check(3)),
    "07_loops.ipynb": _notebook("import course_utils as cu", _check(1), "while True:\n    pass"),
    "07_megabyte.ipynb": _notebook(
        "import course_utils as cu", "print('x' * 1_000_000)", _check(3)
    ),
    "07_escapes.ipynb": _notebook(
        "import pathlib\n[p.unlink() for p in pathlib.Path('../..').rglob('*.ipynb')]\n"
        "pathlib.Path('../../escaped.txt').write_text('here', encoding='utf-8')",
        "import course_utils as cu",
        _check(1),
    ),
}


def test_the_grader_runs_each_notebook_apart_and_keeps_every_row(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name, text in SUBMISSIONS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "07_not_a_notebook.ipynb").write_text(
        "my answers are 70144 and 1152", encoding="utf-8"
    )
    out = tmp_path / "grades.csv"
    start = time.monotonic()
    grades, printed = said(ex.grade, folder, out=out, timeout=120, cell_timeout=20)
    took = time.monotonic() - start
    rows = {g.file: g for g in grades}
    assert sorted(rows) == sorted([*SUBMISSIONS, "07_not_a_notebook.ipynb"])

    def row(name):
        g = rows[name]
        return g.status, g.answered, g.correct, g.failed

    assert row("07_all_right.ipynb") == ("ok", 4, 4, 0)
    assert row("07_half_right.ipynb") == ("ok", 4, 2, 2)
    assert row("07_raises.ipynb") == ("error", 1, 1, 0)
    assert rows["07_raises.ipynb"].error == "cell 3: ZeroDivisionError: division by zero"
    assert row("07_loops.ipynb") == ("time-out", 1, 1, 0)
    assert rows["07_loops.ipynb"].error == "cell 3: stopped at one cell's 20 s limit"
    assert 20 <= rows["07_loops.ipynb"].seconds < 60
    assert row("07_megabyte.ipynb") == ("ok", 1, 1, 0)
    assert row("07_escapes.ipynb") == ("ok", 1, 1, 0)  # it deleted nothing of the others
    assert row("07_not_a_notebook.ipynb") == ("not a notebook", 0, 0, 0)
    assert all(g.exercises == 4 for g in grades if g.status != "not a notebook")
    assert took < 300
    assert (folder / "07_all_right.ipynb").exists()  # the submissions are left as they were
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(ex.COLUMNS) and len(lines) == 1 + len(rows)
    assert "07_half_right.ipynb,07,4,4,2,2,ok,," in out.read_text(encoding="utf-8")
    summary = printed.splitlines()
    assert summary[0].split() == ["file", "notebook", "answered", "correct", "failed", "status",
                                  "error"]  # fmt: skip
    assert summary[-1].startswith("7 notebook(s):") and "1 time-out" in summary[-1]


def test_the_grader_stops_a_notebook_at_its_whole_limit_too(tmp_path):
    (tmp_path / "slow.ipynb").write_text(
        _notebook(*["import time\ntime.sleep(2)"] * 10), encoding="utf-8"
    )
    (row,) = said(ex.grade, tmp_path, out=tmp_path / "g.csv", timeout=8, cell_timeout=60)[0]
    assert row.status == "time-out" and "the notebook's 8 s limit" in row.error
    assert row.seconds < 30


def test_the_graders_help_says_it_runs_the_students_code():
    run = subprocess.run(
        [sys.executable, "-m", "course_utils.exercises", "grade", "--help"],
        capture_output=True, text=True, encoding="utf-8", timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0 and "RuntimeWarning" not in run.stderr
    text = " ".join(run.stdout.split())
    assert "runs the students' code" in text and "container or as an unprivileged user" in text
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "python -m course_utils.exercises grade" in readme
    assert "runs the students' code" in readme and "unprivileged user" in readme
