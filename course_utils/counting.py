"""Parameters, multiply-adds (torch's own FlopCounterMode, completed) and per-layer tables.

A tool (imports the ground). Serves every notebook that counts (01-03, 05-07, 09) through
`cu.count_parameters`, `cu.count_macs` and `cu.layer_table`.

FlopCounterMode counts the operations it has a formula for: matrix products and convolutions.
Operations it has no formula for count as zero, and fused layers run as one such operation.
count_macs adds formulas for matrix-vector products and their kin (mv, addmv, dot, addbmm), and
warns, naming them, about the layers whose parameters went into operations that none of this
counts (a fused attention or recurrent layer, say).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from . import anatomy, show

aten = torch.ops.aten

# Layers with parameters whose work is not a multiply-add by convention: papers and torchvision's
# GFLOPS metadata count convolutions and matrix products only. A count of zero for these is
# right, so count_macs does not warn about them.
NOT_MULTIPLY_ADDS: dict[type[nn.Module], str] = {
    **dict.fromkeys(
        (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm),
        "batch norm: a per-channel scale and shift, folded into the convolution before it "
        "for inference",
    ),
    **dict.fromkeys(
        (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d),
        "instance norm: a mean, a variance and an elementwise scale and shift",
    ),
    **dict.fromkeys(
        (nn.LayerNorm, nn.GroupNorm, nn.RMSNorm),
        "layer, group and RMS norm: statistics and an elementwise scale and shift",
    ),
    nn.Embedding: "a table look-up: rows are copied, nothing is multiplied",
    nn.EmbeddingBag: "table look-ups and their sum or mean",
    nn.PReLU: "an elementwise slope for the negative part",
}


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """The number of parameters (weights and biases) in `module`."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


# --- formulas for the operations FlopCounterMode leaves out (FLOPs: 2 per multiply-add) --------


def _mv_flop(matrix, vector, *args, out_shape=None, **kwargs) -> int:
    return 2 * math.prod(matrix)


def _addmv_flop(bias, matrix, vector, *args, out_shape=None, **kwargs) -> int:
    return 2 * math.prod(matrix)


def _dot_flop(a, b, *args, out_shape=None, **kwargs) -> int:
    return 2 * math.prod(a)


def _addbmm_flop(bias, a, b, *args, out_shape=None, **kwargs) -> int:
    return 2 * math.prod(a) * b[-1]


def _missing_formulas() -> dict:
    """The formulas above for the operations of this torch version (some are newer than others)."""
    formulas = {
        "mv": _mv_flop,
        "addmv": _addmv_flop,
        "dot": _dot_flop,
        "vdot": _dot_flop,
        "addbmm": _addbmm_flop,
    }
    return {getattr(aten, n): f for n, f in formulas.items() if hasattr(aten, n)}


MISSING_FORMULAS = _missing_formulas()


# --- which parameters went into which operations ------------------------------------------------


def _root(tensor: torch.Tensor) -> int:
    """The tensor, or the one it is a view of (a transposed weight): its id."""
    return id(tensor if tensor._base is None else tensor._base)


def _tensors(tree) -> Iterator[torch.Tensor]:
    """The tensors in an operation's arguments: nested tuples, lists and dicts."""
    if isinstance(tree, torch.Tensor):
        yield tree
    elif isinstance(tree, tuple | list):
        for item in tree:
            yield from _tensors(item)
    elif isinstance(tree, dict):
        for item in tree.values():
            yield from _tensors(item)


class _ParameterUse(TorchDispatchMode):
    """Records, for each module's own parameters, the operations they went into.

    Entered before FlopCounterMode, so below it: it sees the operations that FlopCounterMode
    runs, after its decompositions, and so whether each one was counted. Parameters are
    recognised as themselves or as the base of a view (a transposed weight); a copy is not.
    """

    def __init__(self, model: nn.Module, counted) -> None:
        super().__init__()
        self.counted = counted
        self.owners: dict[int, list[str]] = defaultdict(list)
        for name, module in model.named_modules():
            for p in module.parameters(recurse=False):
                self.owners[_root(p)].append(name)
        self.ops: dict[str, set[str]] = defaultdict(set)  # module → operations not counted
        self.counted_modules: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        owners = set()
        for arg in _tensors((args, kwargs)):
            owners.update(self.owners.get(_root(arg), ()))
        packet = func._overloadpacket
        for owner in owners:
            if packet in self.counted:
                self.counted_modules.add(owner)
            else:
                self.ops[owner].add(str(packet))
        return func(*args, **(kwargs or {}))


def _uncounted(model: nn.Module, use: _ParameterUse, counter: FlopCounterMode) -> list[str]:
    """The modules whose own parameters went into operations, none of them counted.

    Not listed: NOT_MULTIPLY_ADDS's layers, modules that did not run (GoogLeNet's auxiliary
    classifiers in eval mode), modules with a count of their own or their children's (a
    transformer's class token, which is concatenated, not multiplied), and the submodules of a
    listed module (a fused attention layer's output projection).
    """
    counts = counter.get_flop_counts()
    root = type(model).__name__
    found: dict[str, str] = {}
    for name, module in model.named_modules():
        ops = use.ops.get(name)
        if not ops or name in use.counted_modules or isinstance(module, tuple(NOT_MULTIPLY_ADDS)):
            continue
        if sum(counts.get(f"{root}.{name}" if name else root, {}).values()):
            continue
        if "" in found or any(name.startswith(f"{listed}.") for listed in found):
            continue
        found[name] = f"{name or root} ({type(module).__name__}) through {', '.join(sorted(ops))}"
    return list(found.values())


def _run_counted(model: nn.Module, input_size: Sequence[int]) -> FlopCounterMode:
    """Run one all-zero input of shape `input_size` (batch of 1) through the model, counted.

    The model runs as for inference (eval mode, no gradients, its modes restored afterwards),
    so fused fast paths run as they do for a student's predictions, and are counted as such.
    """
    counter = FlopCounterMode(display=False, custom_mapping=MISSING_FORMULAS)
    use = _ParameterUse(model, counter.flop_registry)
    with anatomy.evaluating(model) as dev, use, counter:
        model(torch.zeros(1, *input_size, device=dev))
    uncounted = _uncounted(model, use, counter)
    if uncounted:
        shown = "; ".join(uncounted[:5])
        if len(uncounted) > 5:
            shown += f"; and {len(uncounted) - 5} more"
        show.warn(
            f"The multiply-adds of {len(uncounted)} layer(s) are missing from the count: their "
            f"parameters went into operations with no formula to count them. {shown}",
            stacklevel=3,
        )
    return counter


def count_macs(model: nn.Module, input_size: Sequence[int]) -> int:
    """Multiply-adds for one input of shape `input_size`, e.g. (3, 224, 224).

    FlopCounterMode counts a multiply-add as two FLOPs (convolutions and matrix products
    only, as papers and torchvision's GFLOPS metadata do), so this is half its total.
    Matrix-vector products (mv, addmv, dot, addbmm) are counted too. Layers whose parameters
    went into operations with no formula, such as the fused kernels of nn.MultiheadAttention or
    nn.LSTM, count as zero and are named in a CourseWarning; NOT_MULTIPLY_ADDS lists the layers
    (normalisation, embeddings) that are left out on purpose, without a warning.
    """
    return _run_counted(model, input_size).get_total_flops() // 2


@dataclass
class LayerRow:
    """One layer of a model: its name, the layer, its output shape, parameters and MACs."""

    name: str
    layer: str
    output_shape: tuple[int, ...]
    parameters: int
    macs: int


class LayerTable:
    """The per-layer listing of a model, printed like the slide's architecture table."""

    def __init__(self, rows: list[LayerRow], input_size: Sequence[int], title: str) -> None:
        self.rows = rows
        self.input_size = tuple(input_size)
        self.title = title

    @property
    def total_parameters(self) -> int:
        return sum(r.parameters for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __str__(self) -> str:
        def shape(s: tuple[int, ...]) -> str:
            return " × ".join(str(d) for d in s)

        lines = [
            (r.name, r.layer, shape(r.output_shape), f"{r.parameters:,}", f"{r.macs:,}")
            for r in self.rows
        ]
        header = ("layer", "module", "output shape", "parameters", "multiply-adds")
        total = ("total", "", "", f"{self.total_parameters:,}", f"{self.total_macs:,}")
        widths = [max(len(row[i]) for row in [header, total, *lines]) for i in range(5)]

        def fmt(row: tuple[str, ...]) -> str:
            left = [row[i].ljust(widths[i]) for i in range(3)]
            right = [row[i].rjust(widths[i]) for i in range(3, 5)]
            return "  ".join(left + right).rstrip()

        rule = "-" * len(fmt(header))
        head = f"{self.title}, input {shape(self.input_size)}"
        return "\n".join([head, fmt(header), rule, *map(fmt, lines), rule, fmt(total)])

    def __repr__(self) -> str:
        return str(self)


def _pair(v) -> str:
    v = (v, v) if isinstance(v, int) else tuple(v)
    return f"{v[0]}×{v[1]}" if v[0] != v[1] else f"{v[0]}"


def _describe(module: nn.Module) -> str:
    """A short description in the slide's style: "conv 1→6 5×5", "linear 256→120"."""
    m = module
    if isinstance(m, nn.Conv2d):
        k = m.kernel_size
        text = f"conv {m.in_channels}→{m.out_channels} {k[0]}×{k[1]}"
        if m.stride != (1, 1):
            text += f" /{_pair(m.stride)}"
        if m.padding not in ((0, 0), "valid"):
            text += f" pad {_pair(m.padding) if not isinstance(m.padding, str) else m.padding}"
        if m.groups > 1:
            text += f" groups {m.groups}"
        return text
    if isinstance(m, nn.Linear):
        return f"linear {m.in_features}→{m.out_features}"
    if isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
        kind = "max-pool" if isinstance(m, nn.MaxPool2d) else "avg-pool"
        text = f"{kind} {_pair(m.kernel_size)}"
        stride = m.stride if m.stride is not None else m.kernel_size
        return text if _pair(stride) == _pair(m.kernel_size) else f"{text} /{_pair(stride)}"
    if isinstance(m, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        return f"{type(m).__name__} → {_pair(m.output_size)}"
    if isinstance(m, nn.ReLU):
        return "relu"
    if isinstance(m, nn.Dropout):
        return f"dropout {m.p}"
    if isinstance(m, nn.BatchNorm2d):
        return f"batch-norm {m.num_features}"
    if isinstance(m, nn.MultiheadAttention):
        return f"attention {m.embed_dim}, {m.num_heads} heads"
    extra = m.extra_repr()
    extra = extra if len(extra) <= 40 else extra[:37] + "..."
    return f"{type(m).__name__}({extra})" if extra else type(m).__name__.lower()


def layer_table(model: nn.Module, input_size: Sequence[int]) -> LayerTable:
    """Each layer's output shape, parameters and multiply-adds for one input.

    The layers are the leaf modules that ran, and the modules that counted operations of their
    own beyond their children's, such as a block that multiplies queries by keys in its
    forward. Such a row holds those operations, with the parameters of the children that did
    not run as modules.
    """
    modules = dict(model.named_modules())
    shapes, flops = _shapes_and_flops(model, modules, input_size)
    root = type(model).__name__
    rows = [
        LayerRow(
            name=name or root,
            layer=_describe(modules[name]),
            output_shape=shapes[name],
            parameters=parameters,
            macs=flop_count // 2,
        )
        for name, flop_count, parameters in _rows(modules, shapes, flops)
    ]
    return LayerTable(rows, input_size, root)


def _shapes_and_flops(
    model: nn.Module, modules: dict[str, nn.Module], input_size: Sequence[int]
) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """One counted run: each module's output shape (per image), in the order they ran, and the
    FLOPs counted in each module, its children's included (the model's own under "")."""
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name: str, _module, _inputs, output) -> None:
        if isinstance(output, tuple | list) and output:  # a layer that returns several
            output = output[0]
        shapes[name] = tuple(output.shape[1:]) if torch.is_tensor(output) else ()

    with anatomy.hooked(modules, record):
        counter = _run_counted(model, input_size)
    root = type(model).__name__
    flops = {
        "" if key == root else key.removeprefix(root + "."): sum(ops.values())
        for key, ops in counter.get_flop_counts().items()
    }
    return shapes, flops


def _rows(
    modules: dict[str, nn.Module], shapes: dict[str, tuple[int, ...]], flops: dict[str, int]
) -> list[tuple[str, int, int]]:
    """(name, FLOPs, parameters) of each leaf that ran, and of each module with FLOPs of its own
    beyond its children's: those, with its own parameters and its children's that did not run."""

    def children(name: str) -> list[tuple[str, nn.Module]]:
        return [(f"{name}.{c}" if name else c, m) for c, m in modules[name].named_children()]

    rows = []
    for name in shapes:  # in the order they ran
        module = modules[name]
        if not list(module.children()):
            if name:
                rows.append((name, flops.get(name, 0), count_parameters(module)))
            continue
        own = flops.get(name, 0) - sum(flops.get(child, 0) for child, _ in children(name))
        if own > 0:
            parameters = sum(p.numel() for p in module.parameters(recurse=False)) + sum(
                count_parameters(m) for child, m in children(name) if child not in shapes
            )
            rows.append((name, own, parameters))
    return rows
