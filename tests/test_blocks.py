import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision import models as tvm

import course_utils as cu
from course_utils import blocks


def test_basic_blocks_match_the_slide_formula():
    for c in (64, 256):
        assert cu.count_parameters(blocks.BasicBlock(c)) == 2 * (3 * 3 * c + 1) * c
    assert cu.count_parameters(blocks.BasicBlock(64)) == 73_856
    assert cu.count_parameters(blocks.BasicBlock(256)) == 1_180_160


def test_bottleneck_matches_the_slide_formula():
    assert (
        cu.count_parameters(blocks.Bottleneck(256, 64))
        == 256 * 64 + (3 * 3 * 64 + 1) * 64 + 64 * 256
    )
    assert cu.count_parameters(blocks.Bottleneck(256, 64)) == 69_696
    x = torch.randn(2, 256, 7, 7)
    assert blocks.Bottleneck()(x).shape == x.shape


def test_resnext_block_matches_xie_et_al():
    block = blocks.ResNeXtBlock(256, cardinality=32, width=4)
    assert cu.count_parameters(block) == 32 * (256 * 4 + 3 * 3 * 4 * 4 + 4 * 256) == 70_144
    assert block.conv2.groups == 32


@settings(max_examples=15, deadline=None)
@given(
    c=st.sampled_from([2, 4, 8, 32]),
    d=st.integers(1, 4),
    channels=st.sampled_from([16, 64]),
    seed=st.integers(0, 1000),
)
def test_resnext_block_equals_its_explicit_paths(c, d, channels, seed):
    torch.manual_seed(seed)
    block = blocks.ResNeXtBlock(channels, cardinality=c, width=d)
    paths = blocks.to_paths(block)
    assert len(paths.paths) == c
    assert cu.count_parameters(paths) == cu.count_parameters(block)
    x = torch.randn(2, channels, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(block(x), paths(x), rtol=1e-4, atol=1e-4)


def test_inception_3a_counts():
    naive = blocks.InceptionNaive(192, 64, 128, 32)
    reduced = blocks.Inception(*blocks.INCEPTION_3A)
    assert cu.count_parameters(naive) == (193 * 64 + (9 * 192 + 1) * 128 + (25 * 192 + 1) * 32)
    assert cu.count_parameters(reduced) == 163_696
    assert cu.count_macs(naive, (192, 28, 28)) == 28 * 28 * (
        192 * 64 + 9 * 192 * 128 + 25 * 192 * 32
    )
    x = torch.randn(1, 192, 28, 28)
    assert naive(x).shape == (1, 416, 28, 28) and reduced(x).shape == (1, 256, 28, 28)


def test_one_by_one_convolution_is_a_per_pixel_linear():
    conv = torch.nn.Conv2d(8, 5, 1)
    x = torch.randn(2, 8, 4, 3)
    per_pixel = torch.einsum("oc,nchw->nohw", conv.weight[:, :, 0, 0], x) + conv.bias[:, None, None]
    torch.testing.assert_close(conv(x), per_pixel)
    assert len(blocks.mlpconv(3, (16, 16, 16), 5)) == 6


def test_googlenet_2014():
    net = blocks.googlenet_2014()
    assert net(torch.rand(1, 3, 224, 224)).shape == (1, 1000)
    assert cu.count_parameters(net) == 6_998_552
    assert cu.count_parameters(cu.weights.untrained("googlenet")) == 6_624_904


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d"])
def test_count_macs_matches_torchvision_gflops(name):
    macs = cu.count_macs(cu.weights.untrained(name), (3, 224, 224)) / 1e9
    assert macs == pytest.approx(cu.weights.weights_for(name).meta["_ops"], rel=0.01)


def test_paper_resnets_reproduce_table_1():
    for depth, gflops in blocks.PAPER_GFLOPS.items():
        net = blocks.paper_resnet(depth)
        assert [len(getattr(net, f"layer{i}")) for i in range(1, 5)] == blocks.RESNET_LAYERS[depth]
        assert cu.count_macs(net, (3, 224, 224)) / 1e9 == pytest.approx(gflops, rel=0.02)
    # torchvision's v1.5 ResNet-50 costs 4.1, the paper's 3.8 (3.86 before rounding down)
    assert cu.count_macs(tvm.resnet50(), (3, 224, 224)) / 1e9 == pytest.approx(4.09, abs=0.01)
    with pytest.raises(ValueError, match="table 1"):
        blocks.paper_resnet(42)


def test_shortcuts_keep_gradients_alive(digits):
    train, _ = digits
    x, y = train.images[:32], train.labels[:32]
    torch.manual_seed(0)
    plain = blocks.gradient_norms(blocks.deep_stack(20, 8, shortcuts=False), x, y)
    torch.manual_seed(0)
    residual = blocks.gradient_norms(blocks.deep_stack(20, 8, shortcuts=True), x, y)
    assert len(plain) == len(residual) == 20
    assert plain[0] / plain[-1] < 1e-3 < residual[0] / residual[-1]


def _bn(x: torch.Tensor, bn: torch.nn.BatchNorm2d) -> torch.Tensor:
    """Batch-norm in training mode, by hand: the batch's mean and biased variance per channel."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    scale, shift = bn.weight[None, :, None, None], bn.bias[None, :, None, None]
    return scale * (x - mean) / torch.sqrt(var + bn.eps) + shift


def _randomise(module: torch.nn.Module) -> None:
    with torch.no_grad():
        for bn in (m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.weight.uniform_(0.5, 2)
            bn.bias.uniform_(-1, 1)


def _layers(net: torch.nn.Sequential) -> list[blocks.ResidualLayer]:
    return [m for m in net if isinstance(m, blocks.ResidualLayer)]


def test_post_activation_layer_adds_then_applies_relu():
    """He et al. 2015, fig. 2 and §3.2: y = ReLU(x + BN(conv x)), the ReLU after the addition."""
    torch.manual_seed(0)
    net = blocks.deep_stack(2, 4, shortcuts=True, batch_norm=True, he_init=True)
    _randomise(net)
    layer = _layers(net)[0]
    assert layer.placement == "post" and len(_layers(net)) == 2
    x = torch.randn(8, 4, 5, 5)
    conv = torch.nn.functional.conv2d(x, layer.conv.weight, padding=1)
    torch.testing.assert_close(layer(x), torch.relu(x + _bn(conv, layer.bn)))
    assert (layer(x) < 0).sum() == 0 and (layer(-x.abs() - 5) == 0).all()  # ReLU after the sum
    with torch.no_grad():
        layer.conv.weight.zero_()  # a layer that should do nothing: ReLU(x + beta)
    beta = layer.bn.bias[None, :, None, None]
    torch.testing.assert_close(layer(x), torch.relu(x + beta))
    with torch.no_grad():
        layer.bn.bias.zero_()
    x = x.relu()  # what the stem and every earlier layer hand on: non-negative maps
    torch.testing.assert_close(layer(x), x)  # the identity, exactly


def test_pre_activation_layer_leaves_the_sum_alone():
    """He et al. 2016, fig. 4e: y = x + conv(ReLU(BN x)); nothing after the addition."""
    torch.manual_seed(1)
    net = blocks.deep_stack(3, 4, shortcuts=True, residual="pre", batch_norm=True)
    _randomise(net)
    layer = _layers(net)[0]
    x = torch.randn(8, 4, 5, 5)
    inner = torch.relu(_bn(x, layer.bn))
    by_hand = x + torch.nn.functional.conv2d(inner, layer.conv.weight, padding=1)
    torch.testing.assert_close(layer(x), by_hand)
    assert (layer(x - 100) < 0).any()  # the output can be negative: no ReLU on the sum
    with torch.no_grad():
        layer.conv.weight.zero_()
    torch.testing.assert_close(layer(x), x)  # zero weights: exactly the identity
    # the stack ends with BN and ReLU after its last addition, as pre-activation ResNets do
    assert isinstance(net[-5], torch.nn.BatchNorm2d) and isinstance(net[-4], torch.nn.ReLU)
    with pytest.raises(ValueError, match="'post' or 'pre'"):
        blocks.deep_stack(2, shortcuts=True, residual="middle")


def test_deep_stack_without_batch_norm_and_plain_layers():
    torch.manual_seed(2)
    net = blocks.deep_stack(3, 4, shortcuts=True)  # the gradient experiment's layers
    layer = _layers(net)[0]
    assert isinstance(layer.bn, torch.nn.Identity)
    x = torch.randn(2, 4, 5, 5)
    conv = torch.nn.functional.conv2d(x, layer.conv.weight, layer.conv.bias, padding=1)
    torch.testing.assert_close(layer(x), torch.relu(x + conv))
    plain = blocks.deep_stack(3, 4, shortcuts=False, batch_norm=True)
    assert _layers(plain) == [] and cu.count_parameters(plain) == cu.count_parameters(
        blocks.deep_stack(3, 4, shortcuts=True, batch_norm=True)
    )  # shortcuts add no parameters
    images = torch.randn(2, 1, 28, 28)
    assert blocks.deep_stack(3, 4, shortcuts=True, residual="pre")(images).shape == (2, 10)


def test_pre_activation_block_against_explicit_ops():
    torch.manual_seed(3)
    block = blocks.PreActBasicBlock(6)
    assert [n for n, _ in block.named_children()] == ["bn1", "conv1", "bn2", "conv2", "relu"]
    # two 3x3 convolutions without biases, two batch-norms: 2·9·C² + 2·2·C
    assert cu.count_parameters(block) == 2 * 9 * 6 * 6 + 2 * 2 * 6
    _randomise(block)
    x = torch.randn(4, 6, 7, 7)
    out = torch.nn.functional.conv2d(torch.relu(_bn(x, block.bn1)), block.conv1.weight, padding=1)
    out = torch.nn.functional.conv2d(torch.relu(_bn(out, block.bn2)), block.conv2.weight, padding=1)
    torch.testing.assert_close(block(x), out + x)
    with torch.no_grad():
        block.conv2.weight.zero_()
    torch.testing.assert_close(block(x), x)  # the identity, exactly, whatever BN holds


def test_zoo_comes_from_the_weights_metadata():
    rows = cu.weights.zoo()
    names = {r["name"] for r in rows}
    assert {
        "alexnet",
        "vgg19",
        "googlenet",
        "resnet50",
        "resnext50_32x4d",
        "wide_resnet50_2",
    } <= names
    resnext = next(r for r in rows if r["name"] == "resnext50_32x4d" and r["version"] == "V1")
    assert resnext["params"] * 1e6 == pytest.approx(25_028_904)
    assert (
        resnext["top1"]
        == tvm.ResNeXt50_32X4D_Weights.IMAGENET1K_V1.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    )
    fig = cu.plots.plot_model_zoo(rows)
    assert len(fig.axes[0].collections) == len(rows)


def test_markdown_table():
    table = cu.show.markdown_table(["a", "b"], [("x", 1234567), ("y", 0.5)])
    assert "| x | 1,234,567 |" in table._repr_markdown_()
    assert table.rows["y"] == [0.5]


def test_zoo_classifies_weights_by_their_recipe_not_their_name():
    rows = {(r["name"], r["version"]): r for r in cu.weights.zoo()}
    assert rows["resnext101_64x4d", "V1"]["recipe"] == "new"  # named V1, trained with the new one
    assert rows["resnet50", "V1"]["recipe"] == "original"
    assert rows["resnet50", "V2"]["recipe"] == "new"
    assert rows["inception_v3", "V1"]["size"] == 299 and rows["alexnet", "V1"]["size"] == 224
    assert all(r["top1"] == r["top1"] for r in rows.values())  # no NaN rows


def test_zoo_chart_labels_do_not_overlap_and_say_the_input_sizes():
    from matplotlib.text import Text

    fig = cu.plots.plot_model_zoo(cu.weights.zoo())
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    for label in ax.texts:
        label.update_positions(renderer)
    boxes = [Text.get_window_extent(t, renderer) for t in ax.texts]  # the words, not the leaders
    assert len(boxes) == len(cu.weights.zoo())
    overlapping = [
        (ax.texts[i].get_text(), ax.texts[j].get_text())
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if boxes[i].overlaps(boxes[j])
    ]
    assert overlapping == []
    title = ax.title.get_window_extent(renderer)
    assert [t.get_text() for t, b in zip(ax.texts, boxes, strict=True) if b.overlaps(title)] == []
    assert all(fig.bbox.contains(b.x0, b.y0) and fig.bbox.contains(b.x1, b.y1) for b in boxes)
    assert "inception_v3 at 299×299" in ax.get_xlabel()


def test_to_paths_refuses_a_block_whose_layers_no_longer_match_its_settings():
    block = blocks.ResNeXtBlock(16, cardinality=4, width=2)
    block.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)  # no longer grouped
    with pytest.raises(blocks.BlockError, match=r"conv2 gives path 0 weights of 2×8×3×3.*2×2×3×3"):
        blocks.to_paths(block)
    assert issubclass(blocks.BlockError, cu.CourseError)


@pytest.mark.parametrize(
    ("block", "biases"),
    [(blocks.Bottleneck(256, 64), ["conv2.bias"]), (blocks.ResNeXtBlock(256), [])],
    ids=["bottleneck", "resnext"],
)
def test_the_bottleneck_and_the_resnext_block_keep_their_layer_names(block, biases):
    # notebooks 06 and 07 load these state dicts into their own blocks, written out
    names = ["conv1.weight", "conv2.weight", *biases, "conv3.weight"]
    assert list(block.state_dict()) == names
