"""Training throughput of every family's compact member, against LeNet5 in the same run.

Each family (course_utils.nets) is trained with course_utils.fit's defaults on the shipped
MNIST digits, for a few epochs after one untimed warm-up epoch, on the CPU and on CUDA when
present; the best of `rounds` interleaved rounds counts, so that the machine's noise favours
none. Printed per device: parameters, multiply-adds per image, images per second, and the
speed relative to LeNet5 measured in the same run.

    python benchmarks/families_throughput.py [--epochs 1] [--rounds 2] [--families VGG NiN]
"""

from __future__ import annotations

import argparse
import contextlib
import io

import torch

import course_utils as cu
from course_utils import nets


def throughput(name: str, train, test, device: torch.device, epochs: int) -> float:
    """Images per second of fit() for `name` (after one warm-up epoch, not timed)."""
    settings = dict(device=device, live=False, quiet=True)
    cu.seed_everything(0)
    cu.fit(nets.build(name), train, test, epochs=1, **settings)  # warm-up
    cu.seed_everything(0)
    return cu.fit(nets.build(name), train, test, epochs=epochs, **settings).images_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--families", nargs="*", default=list(nets.FAMILIES))
    args = parser.parse_args()
    names = ["LeNet5"] + [n for n in args.families if n != "LeNet5"]  # the baseline first
    with contextlib.redirect_stdout(io.StringIO()):
        train, test = cu.data.mnist_fallback()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        label = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        speed = dict.fromkeys(names, 0.0)
        for _ in range(args.rounds):
            for name in names:
                speed[name] = max(speed[name], throughput(name, train, test, device, args.epochs))
        print(
            f"\nfit() throughput on {label}: {len(train):,} digits, batch size 32, "
            f"{args.epochs} timed epoch(s), best of {args.rounds}, "
            f"{torch.get_num_threads()} torch threads"
        )
        print(f"{'family':<18} {'parameters':>10} {'MACs':>11} {'images/s':>9} {'vs LeNet5':>9}")
        for name in names:
            model = nets.build(name)
            params, macs = cu.count_parameters(model), cu.count_macs(model, (1, 28, 28))
            rel = speed[name] / speed["LeNet5"]
            print(f"{name:<18} {params:>10,} {macs:>11,} {speed[name]:>9,.0f} {rel:>8.2f}x")


if __name__ == "__main__":
    main()
