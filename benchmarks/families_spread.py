"""How far apart the families are on notebook 09's cluttered digits, against their seed spread.

Each family (course_utils.nets) is trained as notebook 09's second race trains it (the
shipped digits on cluttered canvases, course_utils.data.cluttered; fit's defaults; the same
epochs), once per seed: the seed sets the initial weights and the order of the batches, the
canvases stay the same. Printed per family: the test accuracy's mean and its min–max over the
seeds; then every pair whose ranges do not overlap (the worst seed of one beats the best seed of
the other), which is what notebook 09 calls a real difference.

    python benchmarks/families_spread.py [--seeds 0 1 2] [--families LeNet5 ResNet]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import torch

import course_utils as cu
from course_utils import nets, race


def spread(
    names, train, test, *, seeds, epochs: int, device: torch.device
) -> dict[str, list[float]]:
    """Each family's final test accuracy for each seed, trained as train_family trains it."""
    accuracies: dict[str, list[float]] = {}
    for name in names:
        accuracies[name] = []
        for seed in seeds:
            cu.seed_everything(seed)
            model = nets.build(name, image_size=train.images.shape[-1])
            history = cu.fit(model, train, test, epochs=epochs, device=device, quiet=True)
            accuracies[name].append(history.test_accuracy[-1])
        print(f"  {name}: {', '.join(f'{a:.3f}' for a in accuracies[name])}", flush=True)
    return accuracies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--families", nargs="*", default=list(nets.FAMILIES))
    parser.add_argument("--epochs", type=int, default=race.CLUTTER_EPOCHS)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with contextlib.redirect_stdout(io.StringIO()):
        digits_train, digits_test = cu.data.mnist_fallback()
    train, test = race.cluttered_task(digits_train, digits_test)
    device = torch.device(args.device)
    print(
        f"{train.name}: {len(train):,} training and {len(test):,} test canvases; "
        f"{args.epochs} epochs, seeds {args.seeds}, on {device}, "
        f"{torch.get_num_threads()} torch threads"
    )
    start = time.perf_counter()
    acc = spread(args.families, train, test, seeds=args.seeds, epochs=args.epochs, device=device)
    print(f"({time.perf_counter() - start:.0f} s)\n")
    print(f"{'family':<18} {'mean':>6} {'min–max':>13}")
    for name in sorted(acc, key=lambda n: -sum(acc[n])):
        a = acc[name]
        print(f"{name:<18} {100 * sum(a) / len(a):>5.1f}% {100 * min(a):>5.1f}–{100 * max(a):.1f}%")
    real = race.real_differences(acc)
    print(f"\n{len(real)} of {len(acc) * (len(acc) - 1) // 2} pairs differ beyond their spread:")
    for better, worse in real:
        print(f"  {better} > {worse}")


if __name__ == "__main__":
    main()
