"""Degradation over seeds: notebook 06's experiment, repeated, with one thread.

He et al. 2015 (§4.1, fig. 4): a deeper plain network reaches a *higher* training error than a
shallower one, while with identity shortcuts the deeper network trains at least as well. The
notebook runs the experiment once (seed 0); this script runs it with the notebook's settings
for several seeds (the seed picks the 1,000 training digits and the initial weights) and prints
each run's final training loss and whether each of the two claims held:

- "plain degrades": plain-24's final training loss is above plain-6's;
- "residual does not": residual-24's is at most residual-6's.

The residual layers are deep_stack's default, ReLU after the addition (He et al. 2015, fig. 2);
--pre adds the full pre-activation layers (He et al. 2016, fig. 4e) as two more columns.

    python benchmarks/degradation.py [--seeds 0 1 2 3 4] [--pre]
"""

from __future__ import annotations

import argparse
import time

import torch

import course_utils as cu

# The notebook's settings (notebooks/06_resnet_bottleneck.ipynb, "Degradation, measured").
DEPTHS = (6, 24)
SETTINGS = dict(batch_norm=True, he_init=True, stride=4, pooled=4)
CHANNELS, DIGITS, EPOCHS = 16, 1000, 6


def final_losses(train, test, seed: int, kinds: list[str]) -> dict[str, float]:
    """Final training loss of each kind of stack at each depth, for one seed."""
    small = cu.data.subset(train, DIGITS, seed=seed)
    losses = {}
    for kind in kinds:
        for depth in DEPTHS:
            cu.seed_everything(seed)
            net = cu.blocks.deep_stack(
                depth,
                CHANNELS,
                shortcuts=kind != "plain",
                residual="pre" if kind == "pre-activation" else "post",
                **SETTINGS,
            )
            history = cu.fit(net, small, test, epochs=EPOCHS, quiet=True, augment=None)
            losses[f"{kind}-{depth}"] = history.train_loss[-1]
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--pre", action="store_true", help="add the pre-activation stacks")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, test = cu.load_mnist()
    kinds = ["plain", "residual"] + (["pre-activation"] if args.pre else [])
    d1, d2 = DEPTHS
    columns = [f"{k}-{d}" for k in kinds for d in DEPTHS]
    print(f"{len(train)} training digits available; {DIGITS} used per seed, {EPOCHS} epochs")
    print("| seed | " + " | ".join(columns) + " | plain degrades | residual does not | s |")
    print("|---" * (len(columns) + 4) + "|")
    held = []
    for seed in args.seeds:
        start = time.perf_counter()
        loss = final_losses(train, test, seed, kinds)
        plain = loss[f"plain-{d2}"] > loss[f"plain-{d1}"]
        residual = loss[f"residual-{d2}"] <= loss[f"residual-{d1}"]
        held.append((plain, residual))
        cells = " | ".join(f"{loss[c]:.3f}" for c in columns)
        seconds = time.perf_counter() - start
        print(
            f"| {seed} | {cells} | {'yes' if plain else 'no'} | {'yes' if residual else 'no'} "
            f"| {seconds:.0f} |",
            flush=True,
        )
    both = sum(p and r for p, r in held)
    print(f"\nboth claims held for {both} of {len(held)} seeds")


if __name__ == "__main__":
    main()
