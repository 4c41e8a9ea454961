"""One pass of the convolutionized network against the original on every crop.

For AlexNet (224 windows, 32 pixels apart) and LeNet5 (28 windows, 4 pixels apart) on inputs
of growing size: both compute a score for every window position, measured in the same run.

    python benchmarks/fcn_vs_sliding.py
"""

from __future__ import annotations

import torch
from torchvision import models

import course_utils as cu
from course_utils.fcn import sliding_window
from course_utils.show import timed


def main() -> None:
    torch.manual_seed(0)
    cases = [
        ("LeNet5", cu.LeNet5().eval(), (1, 28, 28), 4, [(64, 64), (128, 224)]),
        (
            "AlexNet",
            models.alexnet().eval(),
            (3, 224, 224),
            32,
            [(288, 288), (352, 480), (480, 640)],
        ),
    ]
    print(f"\nScores at every window position, {torch.get_num_threads()} torch threads, cpu")
    print(
        f"{'network':<9}{'input':>11}{'windows':>9}{'every crop (s)':>16}{'one pass (s)':>14}"
        f"{'speed-up':>10}{'max diff':>10}"
    )
    for name, model, size, stride, inputs in cases:
        fcn = cu.convolutionize(model, size)
        for h, w in inputs:
            x = torch.rand(size[0], h, w)
            with torch.no_grad():
                one, fast = timed(lambda m=fcn, t=x: m(t[None])[0], repeats=3)
            crops, slow = timed(sliding_window, model, x, size[1], stride)
            diff = (one - crops).abs().max().item()
            windows = crops.shape[1] * crops.shape[2]
            print(
                f"{name:<9}{f'{h}×{w}':>11}{windows:>9}{slow:>16.3f}{fast:>14.3f}"
                f"{slow / fast:>9.1f}x{diff:>10.1e}"
            )
    print(
        "\nLeNet5 has no padding: the two agree to rounding. AlexNet's zero padding sits at each "
        "crop's edge in the crop-by-crop run and not in the one pass, hence its difference."
    )


if __name__ == "__main__":
    main()
