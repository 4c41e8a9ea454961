"""How long the classifier widget takes to show a new top 15 when the image changes.

With the model kept in memory (as ClassifierExplorer does), a new image costs one forward pass
plus preprocessing. The baseline, measured in the same run, is loading the model afresh for
each image. Untrained weights time the same as trained ones, so this runs offline.

    python benchmarks/classify_latency.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
import warnings

import torch

import course_utils as cu


def seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=["alexnet", "resnet50"])
    args = parser.parse_args()
    os.environ.setdefault("COURSE_OFFLINE", "1")
    warnings.simplefilter("ignore")
    photos = [cu.load_image(p) for p in cu.sample_images().values()]
    rows = []
    for name in args.models:
        reload = seconds(lambda n=name: cu.classify(cu.pretrained(n), photos[0]), 2)
        model = cu.pretrained(name)
        cu.classify(model, photos[0])  # warm-up
        cycle = itertools.cycle(photos[1:] + photos[:1])

        def next_image(m=model, images=cycle):
            cu.classify(m, next(images))

        rows.append((name, reload, seconds(next_image, args.repeats)))
    print(
        f"\nNew top 15 after changing the image: median seconds, "
        f"{torch.get_num_threads()} torch threads, cpu"
    )
    print(f"{'model':<18}{'load model each time':>22}{'model kept (widget)':>22}{'speed-up':>10}")
    for name, reload, kept in rows:
        print(f"{name:<18}{reload:>22.3f}{kept:>22.3f}{reload / kept:>9.1f}x")


if __name__ == "__main__":
    main()
