"""The families race (notebook 09): every family's compact member trained under one budget.

A lecture module: it imports the ground and the tools. `race()` trains the networks of
`nets.build` for RACE_EPOCHS epochs with fit()'s recipe and caches weights and history under a
fingerprint of the data and the recipe, so a rerun loads them; `race_table()` and `race_rows()`
turn the results into the lecture's table and chart rows; `seed_spread()` and
`real_differences()` say which gaps are larger than a change of seed.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from . import anatomy, counting, data, env, nets, show, weights
from .train import History, evaluate, fit

# One budget for every family: the same number of epochs, so that every net sees the same
# images the same number of times (with fit's defaults: batch 32, AdamW, cosine schedule,
# one-pixel shifts). Wall time then differs between them, and is what the race reports.
# Five epochs on the 4,000 shipped digits take about a minute for all eight on a 2-core CPU.
RACE_EPOCHS = 5

# The second race (notebook 09, §5): the shipped digits, each at a random place on a larger
# canvas among fragments of other digits (data.cluttered), few of them, few epochs. Sized so
# that the nine families train in well under a minute on 2 CPU cores, and differ by more than
# a change of seed does (benchmarks/families_spread.py measures it over 3 seeds).
CLUTTER: dict = dict(size=32, fragments=2, fragment_size=8, train_size=1500, test_size=1000)
CLUTTER_EPOCHS = 5


# --- the race ------------------------------------------------------------------------------


@dataclass
class RaceResult:
    """One family's run: the trained model (eval mode) and what training measured."""

    name: str
    model: nn.Module
    params: int
    macs: int  # multiply-adds for one image
    train_seconds: float  # the sum of the epochs' seconds (those of the original run if loaded)
    images_per_second: float
    test_accuracy: float  # after the last epoch, a fraction
    history: History
    loaded: bool  # True: read from the cache, not trained in this call
    device: str  # where it was trained
    image_size: int = 28  # the side of the images it was trained on
    path: Path | None = None  # the cache file
    seed: int = 0  # the seed it was built and trained with (start_similarity rebuilds from it)


def cache_name(
    name: str,
    *,
    dataset: str,
    in_channels: int,
    image_size: int,
    epochs: int,
    seed: int,
    fingerprint: str = "",
) -> str:
    """The name under which train_family saves a run (a file in the cache's models folder).

    `fingerprint` (run_fingerprint) ends it: the run's training data and recipe, so that a run
    is only reused for the very data and recipe it was trained with.
    """
    name = f"family-{nets.slug(name)}-{dataset}-{in_channels}x{image_size}-e{epochs}-s{seed}"
    return f"{name}-{fingerprint}" if fingerprint else name


# Bumped when train_family's training changes in a way fit's arguments do not show.
RECIPE_VERSION = 1
_FINGERPRINTS: dict[tuple, str] = {}


def _recipe() -> dict:
    """The recipe that train_family trains with (fit's, cu.train.RECIPE), as plain values: a
    change to any field makes a new run. Epochs are left out: the run's name holds its own."""
    from .train import RECIPE

    recipe = {f.name: getattr(RECIPE, f.name) for f in dataclasses.fields(RECIPE)}
    del recipe["epochs"]
    text = repr(recipe["augment"])  # e.g. RandomShift(pixels=1); a function by its name
    if " at 0x" in text:
        text = getattr(recipe["augment"], "__qualname__", type(recipe["augment"]).__name__)
    return {"version": RECIPE_VERSION, **recipe, "augment": text}


def run_fingerprint(train: Dataset, *, epochs: int, seed: int) -> str:
    """12 hex digits of a hash of the training images and labels, epochs, seed and recipe.

    Two datasets of the same name and size but other content (random noise in place of the
    digits) get other fingerprints, so a cached run is never reported for data it never saw.
    The hash of a tensor is kept while the tensor is unchanged (its version counter), so the
    race hashes its data once.
    """
    import hashlib

    x, y = train_tensors(train)
    key = (x.data_ptr(), x._version, tuple(x.shape), y.data_ptr(), y._version, epochs, seed)
    if key not in _FINGERPRINTS:
        digest = hashlib.blake2b(digest_size=6)
        for tensor in (x, y):
            tensor = tensor.detach().cpu().contiguous()
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
        digest.update(repr(sorted(_recipe().items())).encode())
        digest.update(f"e{epochs}s{seed}".encode())
        _FINGERPRINTS[key] = digest.hexdigest()
    return _FINGERPRINTS[key]


def train_tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """A dataset's images and labels as two tensors (its .images and .labels when it has them)."""
    if hasattr(dataset, "images") and hasattr(dataset, "labels"):
        return torch.as_tensor(dataset.images), torch.as_tensor(dataset.labels)
    pairs = [dataset[i] for i in range(len(dataset))]
    images = torch.stack([torch.as_tensor(p[0]) for p in pairs])
    return images, torch.tensor([int(p[1]) for p in pairs])


def run_name(
    name: str, train: Dataset, *, epochs: int, seed: int, dataset: str | None = None
) -> str:
    """The cache name of train_family(name, train, epochs=..., seed=...): cache_name with the
    dataset's label, its image shape and run_fingerprint."""
    in_channels, image_size = _shape(train)
    return cache_name(
        nets._canonical(name),
        dataset=dataset or dataset_label(train),
        in_channels=in_channels,
        image_size=image_size,
        epochs=epochs,
        seed=seed,
        fingerprint=run_fingerprint(train, epochs=epochs, seed=seed),
    )


def dataset_label(dataset: Dataset) -> str:
    """The part of a cache name that says which data a run saw, from the dataset's `.name`.

    The shipped digits are "digits", whatever was asked for: a run on the digits that stood in
    for Fashion-MNIST offline must not be taken for a Fashion-MNIST run later.
    """
    name = str(getattr(dataset, "name", "") or "digits")
    if "shipped" in name:
        return "digits"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "digits"


def _shape(dataset: Dataset) -> tuple[int, int]:
    image = dataset.images[0] if hasattr(dataset, "images") else dataset[0][0]
    return int(image.shape[0]), int(image.shape[-1])


def _history_record(history: History, train: Dataset, test: Dataset) -> dict:
    record = dataclasses.asdict(history)
    record.update(train_size=len(train), test_size=len(test))
    return record


def _history_from(record: dict) -> History:
    fields = {f.name for f in dataclasses.fields(History)}
    return History(**{k: v for k, v in record.items() if k in fields})


def train_family(
    name: str,
    train: Dataset,
    test: Dataset,
    *,
    epochs: int = RACE_EPOCHS,
    dataset: str | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    retrain: bool = False,
    quiet: bool = True,
) -> RaceResult:
    """Train family `name` with fit()'s defaults for `epochs`, or load the run saved earlier.

    Weights and history are saved in the course's cache under run_name(...): the family, the
    dataset's label (`dataset`, by default dataset_label(train)), the image shape, epochs, seed
    and a fingerprint of the training data's content and of the recipe. A later call with the
    same family, data, epochs and seed loads them (loaded=True), unless retrain=True. A loaded
    model is evaluated on the `test` given now, and that is its test_accuracy; a note says so
    when it differs from the accuracy the run saved. A cached file that cannot be loaded is kept
    beside, renamed to *.pt.damaged, and the family is trained again; a note says so. A cache
    that cannot be written loses nothing: the result is returned, with one note.
    """
    family = nets._canonical(name)
    in_channels, image_size = _shape(train)
    key = run_name(family, train, epochs=epochs, seed=seed, dataset=dataset)
    path = weights.checkpoint_path(key)
    dev = torch.device(device) if device is not None else env.device()
    env.seed_everything(seed)
    model = nets.build(family, in_channels=in_channels, image_size=image_size)
    record = None if retrain else _load_record(model, key, path)
    if record is not None:
        history = _history_from(record)
        accuracy = _accuracy_now(family, model.to(dev).eval(), history, test, path)
    else:
        history = fit(model, train, test, epochs=epochs, device=dev, live=False, quiet=quiet)
        saved = {"history": _history_record(history, train, test)}
        if weights.save_trained(model, key, extra=saved) is None:
            path = None  # not cached: kept in memory only
        accuracy = float(history.test_accuracy[-1])
    return RaceResult(
        name=family,
        model=model.eval(),
        params=counting.count_parameters(model),
        macs=counting.count_macs(model, (in_channels, image_size, image_size)),
        train_seconds=float(sum(history.epoch_seconds)),
        images_per_second=float(history.images_per_second),
        test_accuracy=float(accuracy),
        history=history,
        loaded=record is not None,
        device=history.device,
        image_size=image_size,
        path=path,
        seed=seed,
    )


def _accuracy_now(
    family: str, model: nn.Module, history: History, test: Dataset, path: Path
) -> float:
    """A loaded run's accuracy on the `test` given now, with a note where it is not the one the
    run saved (more than one image's worth apart): the one measured now is reported."""
    accuracy = evaluate(model, test)
    saved = history.test_accuracy[-1] if history.test_accuracy else float("nan")
    if abs(accuracy - saved) > 1.5 / max(1, len(test)):  # more than one image's worth
        show.note(
            f"{family}'s saved run {path} scored {100 * saved:.1f}% on the test set it was "
            f"trained with, and scores {100 * accuracy:.1f}% on the {len(test):,} test "
            "images given now: the accuracy reported is the one measured now."
        )
    return accuracy


def _load_record(model: nn.Module, key: str, path: Path) -> dict | None:
    """The saved history of run `key`, its weights loaded into `model`; None: train it."""
    try:
        record = weights.load_trained_record(model, key)
    except RuntimeError as err:
        damaged = path.with_name(path.name + ".damaged")
        try:
            path.replace(damaged)  # kept, not deleted: the new run must not overwrite it unseen
            where = f"It was moved to {damaged}"
        except OSError as why:  # a read-only cache: leave it, and say so
            where = f"It could not be moved aside ({show.short_error(why)})"
        show.warn(f"{err} {where}, and {getattr(model, 'family', key)} is trained again now.")
        return None
    if record is None:
        return None
    saved = record["extra"].get("history")
    if saved is None or not record["finished"]:
        show.note(
            f"The saved run {path} is not reused (it holds no finished training history): "
            "training again."
        )
        return None
    return saved


def race(
    train: Dataset,
    test: Dataset,
    *,
    names: Iterable[str] = nets.FAMILIES,
    epochs: int = RACE_EPOCHS,
    dataset: str | None = None,
    device: torch.device | str | None = None,
    retrain: bool = False,
    seed: int = 0,
) -> dict[str, RaceResult]:
    """train_family for each family in turn (or its cached run), with a progress bar and a line
    per family saying whether it was trained now or loaded."""
    if isinstance(names, str):  # race(names="LeNet5"): one family, not the letters L, e, ...
        names = [names]
    names = [nets._canonical(n) for n in names]
    if not names:
        raise ValueError(f"race() was given no families: name some of {', '.join(nets.FAMILIES)}.")
    results: dict[str, RaceResult] = {}
    bar = show.Progress(len(names), desc="families", unit="nets", interval=0)
    try:
        for name in names:
            start = time.perf_counter()
            result = train_family(
                name,
                train,
                test,
                epochs=epochs,
                dataset=dataset,
                seed=seed,
                device=device,
                retrain=retrain,
            )
            results[name] = result
            if result.loaded:
                how = (
                    f"loaded from {result.path} (trained earlier: {result.train_seconds:.1f} s "
                    f"on {result.device}; {time.perf_counter() - start:.1f} s to load)"
                )
            else:
                how = f"trained in {result.train_seconds:.1f} s on {result.device}"
            print(f"{name}: {how}, test accuracy {result.test_accuracy:.1%}", flush=True)
            bar.update(1, postfix=name, force=True)
    finally:
        bar.close()
    return results


def race_table(results: dict[str, RaceResult]) -> show.Report:
    """The race as a Markdown table: size, cost, time and accuracy of each family."""
    headers = (
        "family",
        "parameters",
        "multiply-adds",
        "training time (s)",
        "images/s",
        "test accuracy (%)",
        "loaded",
    )
    rows = [
        (
            r.name,
            r.params,
            r.macs,
            f"{r.train_seconds:.1f}",
            round(r.images_per_second),
            f"{100 * r.test_accuracy:.1f}",
            "yes" if r.loaded else "no",
        )
        for r in results.values()
    ]
    epochs = {r.history.epochs for r in results.values()}
    devices = sorted({r.device for r in results.values()})
    note = (
        f"{', '.join(map(str, sorted(epochs)))} epochs each, with fit()'s defaults, on "
        f"{', '.join(devices)}; multiply-adds for one image; loaded runs show the time of "
        "their original training."
    )
    return show.markdown_table(headers, rows, note=note)


def race_rows(results: dict[str, RaceResult]) -> list[dict]:
    """Rows for a chart such as plots.plot_model_zoo's, one per family.

    Keys: name and family (the family's name), macs (multiply-adds per image, ×10⁶), params
    (parameters, ×10³), top1 (test accuracy, %), seconds (training time), recipe ("race") and
    size (the image side). Note the units: plot_model_zoo's rows are in ×10⁹ and millions.
    """
    rows = []
    for r in results.values():
        rows.append(
            {
                "name": r.name,
                "family": r.name,
                "macs": r.macs / 1e6,
                "params": r.params / 1e3,
                "top1": 100 * r.test_accuracy,
                "seconds": r.train_seconds,
                "recipe": "race",
                "size": r.image_size,
            }
        )
    return rows


def start_similarity(
    result: RaceResult, *, seed: int | None = None, layer: int | str = 0
) -> torch.Tensor:
    """Cosine similarity of each trained unit of a layer with the weights it started from.

    `layer`: an index into weight_layers(model) (0, the default: the first convolution; -1: the
    last layer) or a layer's name (e.g. last_conv(model)). One value per output unit (a filter,
    or a linear layer's row). train_family seeds, then builds: building again after the same
    seed gives the very weights the run started from. 1 means the unit still points where its
    random start did. `seed` defaults to the seed the run was trained with (result.seed).
    """
    in_channels = anatomy.first_conv(result.model).in_channels
    env.seed_everything(result.seed if seed is None else seed)
    start = nets.build(result.name, in_channels=in_channels, image_size=result.image_size)
    return nn.functional.cosine_similarity(
        anatomy._weights_of(start, layer), anatomy._weights_of(result.model, layer)
    )


# --- the cluttered task and the seed spread --------------------------------------------------


def cluttered_task(
    train: Dataset, test: Dataset, **settings
) -> tuple[data.TensorImageDataset, data.TensorImageDataset]:
    """The second race's (train, test): CLUTTER's canvases (or `settings`) made from the digits.

    The training canvases come from the training digits (seed 0), the test canvases from the
    test digits (seed 1), so that no test digit, and no fragment of one, is seen in training.
    """
    cfg = {**CLUTTER, **settings}
    common = dict(size=cfg["size"], fragments=cfg["fragments"], fragment_size=cfg["fragment_size"])
    return (
        data.cluttered(train, cfg["train_size"], seed=0, **common),
        data.cluttered(test, cfg["test_size"], seed=1, **common),
    )


def seed_spread(
    results: dict[str, RaceResult],
    train: Dataset,
    test: Dataset,
    *,
    names: Iterable[str] | None = None,
    seeds: Sequence[int] = (1, 2),
    device: torch.device | str | None = None,
) -> dict[str, list[float]]:
    """Each family's test accuracy for its race seed and for `seeds` (trained now, or loaded).

    `results` are a race's (their seed 0 comes first); the same epochs and data train the
    others. `names` picks some of the families (default: all of `results`).
    """
    spread: dict[str, list[float]] = {}
    for name in names if names is not None else results:
        first = results[nets._canonical(name)]
        runs = [
            train_family(
                first.name, train, test, epochs=first.history.epochs, seed=s, device=device
            )
            for s in seeds
        ]
        spread[first.name] = [first.test_accuracy] + [r.test_accuracy for r in runs]
    return spread


def real_differences(spread: dict[str, Sequence[float]]) -> list[tuple[str, str]]:
    """The pairs (better, worse) whose ranges over the seeds do not overlap: the worst seed of
    `better` beats the best seed of `worse`. Sorted by better's mean, then worse's."""
    names = list(spread)
    pairs = [(a, b) for a in names for b in names if a != b and min(spread[a]) > max(spread[b])]
    mean = {n: sum(v) / len(v) for n, v in spread.items()}
    return sorted(pairs, key=lambda p: (-mean[p[0]], -mean[p[1]]))


def saved_or_short_run(
    name: str,
    train: Dataset,
    test: Dataset,
    *,
    short_epochs: int = 3,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> RaceResult:
    """The race's saved run of family `name` (RACE_EPOCHS epochs) if there is one, else a
    train_family run of `short_epochs` (saved too, so that a rerun loads it)."""
    key = run_name(name, train, epochs=RACE_EPOCHS, seed=seed)
    epochs = RACE_EPOCHS if weights.checkpoint_path(key).is_file() else short_epochs
    return train_family(name, train, test, epochs=epochs, seed=seed, device=device)
