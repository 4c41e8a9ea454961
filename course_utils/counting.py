"""Parameters, multiply-adds (torch's own FlopCounterMode, completed) and per-layer tables.

A tool (imports the ground). Serves every notebook that counts (01-03, 05-07, 09) through
`cu.count_parameters`, `cu.count_macs` and `cu.layer_table`.

FlopCounterMode counts the operations it has a formula for: matrix products, convolutions and
the attention kernels of some devices. Operations it has no formula for count as zero, and
fused layers run as one such operation. count_macs adds formulas for the fused attention
operations (nn.MultiheadAttention's and nn.TransformerEncoderLayer's inference fast path, the
CPU's scaled dot-product attention) and for matrix-vector products, counts recurrent layers by
hand, and warns, naming them, about the layers whose parameters went into operations that
none of this counts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
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

# The key under which recurrent layers' hand counts appear in FlopCounterMode's counts.
RECURRENT = "recurrent layer, counted by hand"


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """The number of parameters (weights and biases) in `module`."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


# --- formulas for the operations FlopCounterMode leaves out (FLOPs: 2 per multiply-add) --------


def _attention_macs(batch: int, queries: int, keys: int, dim: int, dim_v: int | None = None):
    """Scores (query · key) and the weighted sum of values, all heads together."""
    return batch * queries * keys * (dim + (dim if dim_v is None else dim_v))


def _sdpa_flop(query, key, value, *args, out_shape=None, **kwargs) -> int:
    """Scaled dot-product attention on (..., heads, tokens, dim) shapes."""
    *lead, heads, queries, dim = query
    return 2 * _attention_macs(math.prod(lead) * heads, queries, key[-2], dim, value[-1])


def _mha_macs(query, key, qkv_weight, proj_weight) -> int:
    """Projections in (query, key, value) and out, and the attention between them."""
    *lead, queries, dim = query
    batch, keys = math.prod(lead), key[-2]
    inner = qkv_weight[0] // 3  # the query's, key's and value's projections are stacked
    projections = (queries + 2 * keys) * inner * dim + queries * math.prod(proj_weight)
    return batch * projections + _attention_macs(batch, queries, keys, inner)


def _native_mha_flop(query, key, value, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight,
                     *args, out_shape=None, **kwargs) -> int:  # fmt: skip
    """nn.MultiheadAttention's fast path (eval mode, no gradients): the whole layer in one op."""
    return 2 * _mha_macs(query, key, qkv_weight, proj_weight)


def _encoder_layer_flop(src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias,
                        use_gelu, norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2,
                        norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, *args,
                        out_shape=None, **kwargs) -> int:  # fmt: skip
    """nn.TransformerEncoderLayer's fast path: self-attention and the feed-forward block."""
    tokens = math.prod(src[:-1])
    ffn = tokens * (math.prod(ffn_weight_1) + math.prod(ffn_weight_2))
    return 2 * (_mha_macs(src, src, qkv_weight, proj_weight) + ffn)


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
        "_native_multi_head_attention": _native_mha_flop,
        "_transformer_encoder_layer_fwd": _encoder_layer_flop,
        "_scaled_dot_product_flash_attention_for_cpu": _sdpa_flop,
        "_scaled_dot_product_attention_math_for_mps": _sdpa_flop,
        "_scaled_dot_product_fused_attention_overrideable": _sdpa_flop,
        "mv": _mv_flop,
        "addmv": _addmv_flop,
        "dot": _dot_flop,
        "vdot": _dot_flop,
        "addbmm": _addbmm_flop,
    }
    return {getattr(aten, n): f for n, f in formulas.items() if hasattr(aten, n)}


MISSING_FORMULAS = _missing_formulas()


# --- recurrent layers, counted by hand ---------------------------------------------------------


def recurrent_macs(module: nn.RNNBase | nn.RNNCellBase, inputs) -> int:
    """Multiply-adds of an RNN, GRU or LSTM (layer or cell) on `inputs`, counted by hand.

    Each step of each sequence goes through every layer and direction once, and there multiplies
    the layer's input by `weight_ih` (gates × hidden rows: 4 for an LSTM, 3 for a GRU, 1 for an
    RNN) and the previous hidden state by `weight_hh`, and an LSTM with `proj_size` projects by
    `weight_hr`: per step, the number of entries of all the weight matrices. The gates'
    elementwise products and nonlinearities are not multiply-adds, as elsewhere.
    """
    data = inputs.data if isinstance(inputs, PackedSequence) else inputs
    steps = data.numel() // module.input_size  # length × batch; a PackedSequence: its steps
    weights = sum(p.numel() for name, p in module.named_parameters() if name.startswith("weight"))
    return steps * weights


class _CountRecurrent:
    """Hooks that put recurrent layers' hand counts in place of what FlopCounterMode saw.

    FlopCounterMode sees nothing of an LSTM on the CPU or with cuDNN (one fused operation) and
    the matrix products of a GRU on the CPU (decomposed), so the count depends on the device
    unless it is done by hand; this replaces whatever it saw inside the layer by the hand count.
    """

    def __init__(self, model: nn.Module, counter: FlopCounterMode) -> None:
        self.counter = counter
        self.handles = [
            handle
            for m in model.modules()
            if isinstance(m, nn.RNNBase | nn.RNNCellBase)
            for handle in (
                m.register_forward_pre_hook(self.before, with_kwargs=True),
                m.register_forward_hook(self.after),
            )
        ]
        self.started: list[tuple[set[str], dict, int]] = []

    def before(self, module, args, kwargs) -> None:
        inputs = args[0] if args else kwargs["input"]
        parents = set(self.counter.mod_tracker.parents)  # this layer's name, its parents, Global
        seen = dict(self.counter.flop_counts["Global"])
        self.started.append((parents, seen, recurrent_macs(module, inputs)))

    def after(self, module, args, output) -> None:
        parents, seen, macs = self.started.pop()
        counts = self.counter.flop_counts
        inside = {op: n - seen.get(op, 0) for op, n in counts["Global"].items()}
        for name in parents:
            for op, n in inside.items():
                counts[name][op] -= n
                if not counts[name][op]:
                    del counts[name][op]
            counts[name][RECURRENT] += 2 * macs

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


# --- which parameters went into which operations ------------------------------------------------


def _root(tensor: torch.Tensor) -> int:
    """The tensor, or the one it is a view of (a transposed weight): its id."""
    return id(tensor if tensor._base is None else tensor._base)


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
        for arg in tree_leaves((args, kwargs)):
            if isinstance(arg, torch.Tensor):
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
    recurrent = _CountRecurrent(model, counter)
    try:
        with anatomy.evaluating(model) as dev, use, counter:
            model(torch.zeros(1, *input_size, device=dev))
    finally:
        recurrent.remove()
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
    Fused attention (nn.MultiheadAttention, nn.TransformerEncoderLayer and scaled dot-product
    attention) counts its projections and its two products, query · key and weights · value.
    Recurrent layers (nn.RNN, nn.GRU, nn.LSTM and their cells) are counted by hand: per step,
    layer and direction, gates × hidden × (input + hidden), gates being 4 for an LSTM, 3 for a
    GRU and 1 for an RNN (see `recurrent_macs`). Layers whose parameters went into operations
    with no formula here are named in a CourseWarning; NOT_MULTIPLY_ADDS lists the layers
    (normalisation, embeddings) that are left out on purpose.
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
    own beyond their children's: a fused attention layer, which runs its projections itself, or
    a block that multiplies queries by keys in its forward. Such a row holds those operations,
    with the parameters of the children that did not run as modules.
    """
    modules = dict(model.named_modules())
    shapes: dict[str, tuple[int, ...]] = {}
    order: list[str] = []

    def record(name: str, _module, _inputs, output) -> None:
        if name not in shapes:
            order.append(name)
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

    def children(name: str) -> list[tuple[str, nn.Module]]:
        return [(f"{name}.{c}" if name else c, m) for c, m in modules[name].named_children()]

    rows = []
    for name in order:
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
    return LayerTable(
        [
            LayerRow(
                name=name or root,
                layer=_describe(modules[name]),
                output_shape=shapes[name],
                parameters=parameters,
                macs=flop_count // 2,
            )
            for name, flop_count, parameters in rows
        ],
        input_size,
        root,
    )
