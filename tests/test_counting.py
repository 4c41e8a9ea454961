import warnings

import pytest
import torch
from torch import nn
from torchvision import models as tvm

import course_utils as cu


@pytest.mark.parametrize(
    ("builder", "expected"),
    [  # torchvision's documented parameter counts (weights metadata "num_params")
        (tvm.alexnet, tvm.AlexNet_Weights.IMAGENET1K_V1.meta["num_params"]),
        (tvm.vgg19, tvm.VGG19_Weights.IMAGENET1K_V1.meta["num_params"]),
        (tvm.resnet50, tvm.ResNet50_Weights.IMAGENET1K_V2.meta["num_params"]),
    ],
)
def test_count_parameters_matches_torchvision(builder, expected):
    assert cu.count_parameters(builder()) == expected


def test_known_counts():
    assert cu.count_parameters(tvm.alexnet()) == 61_100_840
    assert cu.count_parameters(tvm.vgg19()) == 143_667_240


@pytest.mark.parametrize(
    ("builder", "weights"),
    [
        (tvm.alexnet, tvm.AlexNet_Weights.IMAGENET1K_V1),
        (tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1),
    ],
)
def test_count_macs_matches_torchvision_gflops(builder, weights):
    macs = cu.count_macs(builder(), (3, 224, 224))
    # within 1%, or half the last of the metadata's 3 decimals (shufflenet_v2_x0_5: 0.04)
    assert macs / 1e9 == pytest.approx(weights.meta["_ops"], rel=0.01, abs=0.0005)


def test_count_macs_lenet_by_hand():
    conv1 = 6 * 24 * 24 * (5 * 5 * 1)
    conv2 = 16 * 8 * 8 * (5 * 5 * 6)
    fc = 256 * 120 + 120 * 84 + 84 * 10
    assert cu.count_macs(cu.LeNet5(), (1, 28, 28)) == conv1 + conv2 + fc == 281_640


def test_layer_table_rows_add_up():
    model = cu.LeNet5()
    table = cu.layer_table(model, (1, 28, 28))
    assert [r.name for r in table][:3] == ["features.0", "features.1", "features.2"]
    assert table.rows[0].output_shape == (6, 24, 24)
    assert table.rows[5].output_shape == (16, 4, 4)
    assert table.rows[0].layer == "conv 1→6 5×5"
    assert table.total_parameters == cu.count_parameters(model)
    assert table.total_macs == cu.count_macs(model, (1, 28, 28))
    text = str(table)
    assert "44,426" in text and "linear 256→120" in text and "16 × 4 × 4" in text


class Scores(nn.Module):
    """Queries times keys in its own forward, beside a child that runs as a module."""

    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(8, 8)
        self.key = nn.Linear(8, 8, bias=False)  # its weight is used, it never runs

    def forward(self, x):
        return self.query(x) @ self.key.weight @ x.transpose(1, 2)


def test_layer_table_has_a_row_for_a_module_with_operations_of_its_own():
    table = cu.layer_table(Scores(), (5, 8))
    rows = {row.name: (row.macs, row.parameters, row.output_shape) for row in table}
    # query: 5·8·8; its own: (5×8)·(8×8), then (5×8)·(8×5), with the key's parameters
    assert rows == {"query": (320, 72, (5, 8)), "Scores": (320 + 200, 64, (5, 5))}
    assert table.total_macs == cu.count_macs(Scores(), (5, 8))


def test_counting_leaves_training_mode_alone():
    model = cu.LeNet5().train()
    cu.count_macs(model, (1, 28, 28))
    assert model.training
    assert torch.is_grad_enabled()


# --- what FlopCounterMode alone does not see ------------------------------------------------


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, *, need_weights: bool) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.need_weights = need_weights

    def forward(self, x):
        return self.attn(x, x, x, need_weights=self.need_weights)[0]


class MatrixVector(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(5, 10))

    def forward(self, x):
        return self.weight @ x[0]  # one vector: aten.mv, which FlopCounterMode does not count


def test_count_macs_matrix_vector_product():
    assert cu.count_macs(MatrixVector(), (10,)) == 50


def test_count_macs_leaves_grad_mode_and_fast_path_alone():
    model = SelfAttention(32, 4, need_weights=False).train()
    with pytest.warns(cu.show.CourseWarning, match="attn"):
        cu.count_macs(model, (10, 32))
    assert model.training and model.attn.training
    assert torch.is_grad_enabled()
    assert torch.backends.mha.get_fastpath_enabled()


# --- an undercount is never silent ------------------------------------------------------------


@torch.library.custom_op("course_tests::opaque_linear", mutates_args=())
def opaque_linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A linear layer in one op that FlopCounterMode has no formula for."""
    return x @ weight.t()


class OpaqueLinear(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in))

    def forward(self, x):
        return opaque_linear(x, self.weight)


def test_uncounted_layers_are_named_in_a_warning():
    model = nn.Sequential(nn.Linear(10, 10), OpaqueLinear(10, 5), nn.LayerNorm(5))
    with pytest.warns(cu.show.CourseWarning, match=r"1 \(OpaqueLinear\)") as record:
        assert cu.count_macs(model, (10,)) == 100  # the linear layer only
    (warning,) = record
    assert "course_tests.opaque_linear" in str(warning.message)
    assert "LayerNorm" not in str(warning.message)  # normalisation: no multiply-adds to count
    with pytest.warns(cu.show.CourseWarning, match=r"1 \(OpaqueLinear\)"):
        cu.layer_table(model, (10,))


@pytest.mark.parametrize(
    ("model", "size", "named"),
    [
        (SelfAttention(32, 4, need_weights=False), (10, 32), r"attn \(MultiheadAttention\)"),
        (nn.LSTM(8, 16, batch_first=True), (5, 8), r"LSTM \(LSTM\)"),
    ],
    ids=["attention", "lstm"],
)
def test_fused_attention_and_recurrent_layers_are_named_not_counted(model, size, named):
    # one fused kernel each, with no formula here: zero, and a warning that names the layer
    with pytest.warns(cu.show.CourseWarning, match=f"1 layer.*{named}"):
        assert cu.count_macs(model, size) == 0


def test_layers_that_do_not_run_or_hold_no_multiply_adds_give_no_warning():
    # eval mode skips GoogLeNet's auxiliary classifiers; batch norm is a scale and shift
    model = tvm.googlenet(weights=None, aux_logits=True, init_weights=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cu.show.CourseWarning)
        assert cu.count_macs(model, (3, 224, 224)) > 0


# --- every torchvision classifier against its weights' metadata ------------------------------


def _cheapest_weights(name: str):
    """The weights entry with the fewest multiply-adds: every builder takes its input size."""
    return min(tvm.get_model_weights(name), key=lambda w: w.meta["_ops"])


RANDOM_INITS = ("normal_", "uniform_", "trunc_normal_", "kaiming_normal_", "kaiming_uniform_")
RANDOM_INITS += ("xavier_normal_", "xavier_uniform_", "orthogonal_")


@pytest.fixture
def zero_init(monkeypatch):
    """Zeros in place of random initial weights while models are built.

    A count depends on shapes only, and drawing the 5.6 billion random weights of the 80
    classifiers took 30 of its 70 seconds on 2 cores; zero weights run as fast as any.
    """

    def zeros(tensor, *args, **kwargs):
        with torch.no_grad():
            return tensor.zero_()

    for name in RANDOM_INITS:
        monkeypatch.setattr(nn.init, name, zeros)


# torchvision's vision transformers run nn.MultiheadAttention's fused kernel, which count_macs
# has no formula for (the course counts convolutional networks): they are undercounted, and say so.
VISION_TRANSFORMERS = [n for n in tvm.list_models(module=tvm) if n.startswith("vit_")]


@pytest.mark.filterwarnings("ignore:The default weight initialization:FutureWarning")
@pytest.mark.parametrize("name", sorted(set(tvm.list_models(module=tvm)) - {*VISION_TRANSFORMERS}))
def test_count_macs_matches_every_torchvision_classifier(name, zero_init):
    weights = _cheapest_weights(name)
    (size,) = weights.transforms().crop_size  # 224, or 299 for inception_v3, 600 for b7...
    model = tvm.get_model(name, weights=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cu.show.CourseWarning)
        macs = cu.count_macs(model, (3, size, size))
    # within 1%, or half the last of the metadata's 3 decimals (shufflenet_v2_x0_5: 0.04)
    assert macs / 1e9 == pytest.approx(weights.meta["_ops"], rel=0.01, abs=0.0005)


def test_report_is_markdown_in_a_notebook_and_text_elsewhere():
    accuracy = 0.9731
    sentence = cu.show.report(f"VGG reached **{accuracy:.1%}**.")
    assert sentence._repr_markdown_() == "VGG reached **97.3%**." == repr(sentence)


def test_a_vision_transformer_names_its_uncounted_attention(zero_init):
    model = tvm.vit_b_32()
    with pytest.warns(cu.show.CourseWarning, match=r"12 layer.*self_attention \(MultiheadAtt"):
        macs = cu.count_macs(model, (3, 224, 224))
    assert macs / 1e9 < tvm.ViT_B_32_Weights.IMAGENET1K_V1.meta["_ops"]  # attention left out
