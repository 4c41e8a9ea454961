from collections import OrderedDict

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torchvision import models as tvm

import course_utils as cu
from course_utils.fcn import ConvolutionizeError, dense_max_pool, sliding_window, total_stride
from course_utils.lab import digit_canvas


@st.composite
def small_convnets(draw):
    """A small convnet with a Linear head, its base input size, and its total stride."""
    channels = draw(st.integers(1, 3))
    size = draw(st.integers(10, 20))
    layers, c, s, stride = [], channels, size, 1
    for _ in range(draw(st.integers(1, 2))):
        out = draw(st.integers(2, 6))
        k = draw(st.integers(1, min(3, s)))
        layers += [nn.Conv2d(c, out, k), nn.ReLU()]
        c, s = out, s - k + 1
        if draw(st.booleans()) and s >= 4:
            pool = draw(st.sampled_from([nn.MaxPool2d(2), nn.AvgPool2d(2)]))
            layers.append(pool)
            s, stride = s // 2, stride * 2
    if draw(st.booleans()):
        layers.append(nn.AdaptiveAvgPool2d((s, s)))  # the identity at the base size
    layers.append(nn.Flatten())
    width = c * s * s
    for _ in range(draw(st.integers(1, 2))):  # one or two hidden Linear layers
        hidden = draw(st.integers(3, 12))
        if draw(st.booleans()):
            layers.append(nn.Dropout(0.3))
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, draw(st.integers(2, 5))))
    return nn.Sequential(*layers).eval(), (channels, size, size), stride


@settings(max_examples=40, deadline=None)
@given(net=small_convnets(), extra=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_convolutionize_is_equal_at_base_size_and_slides_on_larger_inputs(net, extra, seed):
    model, (c, h, w), stride = net
    torch.manual_seed(seed)
    fcn = cu.convolutionize(model, (c, h, w)).eval()
    x = torch.randn(3, c, h, w)
    with torch.no_grad():
        torch.testing.assert_close(fcn(x).flatten(1), model(x), rtol=1e-4, atol=1e-5)
        big = torch.randn(c, h + extra * stride, w + 2 * extra * stride)
        out = fcn(big[None])[0]
    assert out.shape[-2:] == (extra + 1, 2 * extra + 1)
    # No padding anywhere: each position equals the original on the crop there.
    torch.testing.assert_close(out, sliding_window(model, big, h, stride), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("builder", [tvm.alexnet, tvm.vgg11])
def test_torchvision_models_are_accepted_as_they_are(builder):
    torch.manual_seed(0)
    model = builder().eval()
    fcn = cu.convolutionize(model, (3, 224, 224))
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(fcn(x).flatten(1), model(x), rtol=1e-4, atol=1e-5)
        assert fcn(torch.rand(1, 3, 288, 320)).shape == (1, 1000, 3, 4)
    assert total_stride(fcn, (3, 224, 224)) == 32
    assert "avgpool" not in dict(fcn.named_children())  # the identity at 224 is gone
    first = next(m for m in fcn.classifier if isinstance(m, nn.Conv2d))
    assert first.kernel_size == ((6, 6) if builder is tvm.alexnet else (7, 7))
    assert cu.count_parameters(fcn) == cu.count_parameters(model)
    assert isinstance(model.classifier[1 if builder is tvm.alexnet else 0], nn.Linear)  # intact
    for part in ("features", "classifier"):  # torchvision's names, as nothing is nested
        names = [n for n, _ in getattr(model, part).named_children()]
        assert [n for n, _ in getattr(fcn, part).named_children()] == names


def test_nested_sequentials_and_lists_are_flattened():
    inner = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.ReLU(), nn.MaxPool2d(2)))
    layers = [
        inner,
        nn.Flatten(),
        nn.Sequential(nn.Linear(2 * 4 * 4, 5), nn.ReLU()),
        nn.Linear(5, 3),
    ]
    fcn = cu.convolutionize(layers, (1, 10, 10))
    assert [type(m) for m in fcn.features] == [nn.Conv2d, nn.ReLU, nn.MaxPool2d]
    assert [type(m) for m in fcn.classifier] == [nn.Conv2d, nn.ReLU, nn.Conv2d]
    assert fcn.classifier[2].kernel_size == (1, 1)
    x = torch.rand(2, 1, 10, 10)
    model = nn.Sequential(*layers)
    torch.testing.assert_close(fcn(x).flatten(1), model(x))


def test_non_identity_adaptive_pooling_becomes_a_fixed_pooling():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(8, 3)
    ).eval()
    fcn = cu.convolutionize(model, (1, 10, 10))  # 8x8 -> 2x2: a 4x4 average pooling
    assert isinstance(fcn.features[1], nn.AvgPool2d)
    x = torch.rand(1, 1, 10, 10)
    torch.testing.assert_close(fcn(x).flatten(1), model(x))


def test_unsupported_layer_is_named():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(128, 4), nn.LayerNorm(4))
    with pytest.raises(ConvolutionizeError, match=r"layer '3' \(LayerNorm\)"):
        cu.convolutionize(model, (1, 10, 10))
    with pytest.raises(ConvolutionizeError, match="list of layers"):
        cu.convolutionize(tvm.resnet18(), (3, 224, 224))
    with pytest.raises(ConvolutionizeError, match="expects 100 inputs"):
        cu.convolutionize([nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(100, 2)], (1, 10, 10))


def test_weights_are_copied_not_shared():
    model = cu.LeNet5()
    fcn = cu.convolutionize(model, (1, 28, 28))
    with torch.no_grad():
        fcn.classifier[0].weight.zero_()
    assert model.classifier[0].weight.abs().sum() > 0


def test_dense_max_pool_by_hand():
    x = torch.tensor([[[[1.0, 2, 0, 4, 1], [0, 5, 1, 0, 2], [3, 0, 2, 6, 0], [1, 1, 0, 0, 7]]]])
    # 2x2 pooling at offsets (0,0), (0,1), (1,0), (1,1), interleaved:
    expected = torch.tensor([[[[5.0, 5, 4, 4], [5, 5, 6, 6], [3, 2, 6, 7]]]])
    assert torch.equal(dense_max_pool(x, 2), expected)
    assert torch.equal(dense_max_pool(x, 2), nn.functional.max_pool2d(x, 2, 1))
    # the offset maps themselves
    assert torch.equal(nn.functional.max_pool2d(x, 2), torch.tensor([[[[5.0, 4], [3, 6]]]]))


@settings(max_examples=20, deadline=None)
@given(h=st.integers(6, 14), w=st.integers(6, 14), k=st.integers(2, 3), s=st.integers(1, 3))
def test_dense_max_pool_sizes(h, w, k, s):
    x = torch.randn(2, 3, h, w)
    dense = dense_max_pool(x, k, s)
    plain = nn.functional.max_pool2d(x, k, s)
    assert dense.shape[-2] >= s * plain.shape[-2] - (s - 1)
    assert dense.shape[-1] >= s * plain.shape[-1] - (s - 1)
    assert torch.equal(dense[..., ::s, ::s], plain)
    assert torch.equal(
        dense, nn.functional.max_pool2d(x, k, 1)[..., : dense.shape[-2], : dense.shape[-1]]
    )


def test_digit_canvas_places_real_digits(digits):
    _, test = digits
    canvas, placed = digit_canvas(test.images, test.labels, n=6, size=(96, 160), seed=3)
    assert canvas.shape == (1, 96, 160) and len(placed) == 6
    for top, left, label in placed:
        window = canvas[:, top : top + 28, left : left + 28]
        assert any(
            torch.equal(window, img) and int(lab) == label
            for img, lab in zip(test.images, test.labels, strict=True)
        )
    with pytest.raises(ValueError, match="don't fit"):
        digit_canvas(test.images, test.labels, n=50, size=(64, 64))


def test_heatmap_explorer(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    explorer = cu.widgets.heatmap_explorer("alexnet", "cat")
    assert "untrained weights" in explorer.status.value
    assert explorer.probabilities.shape == (1000, 5, 10)  # 352 x 529 input
    assert len(explorer.class_picker.options) == 5
    explorer.scale.value = 224
    assert explorer.probabilities.shape == (1000, 1, 4)
    explorer.picker.dropdown.value = "coffee"
    assert "coffee at 224" in explorer.status.value


def test_whole_digit_windows_and_false_detections(digits):
    _, test = digits
    canvas, placed = cu.lab.digit_canvas(test.images, test.labels, n=4, size=(64, 96), seed=0)
    whole = cu.lab.whole_digit_windows(canvas)
    assert whole.shape == (10, 18)
    for top, left, _ in placed:  # the window nearest to each digit holds it whole
        assert whole[round(top / 4), round(left / 4)]
    assert not whole[:, :].all() and whole.sum() < 4 * 9  # blank and cut windows are not
    probabilities = torch.zeros(11, 10, 18)
    probabilities[3] = 0.6  # class 3 everywhere: a false detection wherever no whole digit is
    assert cu.lab.false_detections(probabilities, whole) == int((~whole).sum())
    probabilities[3], probabilities[10] = 0.2, 0.8  # "no digit here" wins: nothing is false
    assert cu.lab.false_detections(probabilities, whole) == 0
    found = cu.lab.found_digits(probabilities, placed)
    assert found == [3] * 4  # the 11th class is never an answer


def test_background_windows_hold_no_whole_digit(digits):
    train, _ = digits
    windows = cu.lab.background_windows(train.images, train.labels, 200, seed=0)
    assert windows.shape == (200, 1, 28, 28)
    ink = windows.sum((1, 2, 3))
    assert (ink <= 20).sum() == 40  # a fifth blank
    for w in windows[ink > 20][:20]:  # the rest: ink cut by the window's edge
        edge = torch.cat([w[0, 0], w[0, -1], w[0, :, 0], w[0, :, -1]])
        assert edge.sum() > 0


def test_padding_differences_vanish_without_padding_and_grow_at_the_border():
    torch.manual_seed(0)
    image = torch.rand(1, 64, 96)
    plain = nn.Sequential(nn.Conv2d(1, 4, 5), nn.ReLU(), nn.MaxPool2d(2))
    zero = cu.fcn.padding_differences(plain, image, size=32, stride=2)
    torch.testing.assert_close(zero, torch.zeros_like(zero))  # no padding: crops = one pass
    padded = nn.Sequential(nn.Conv2d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
    diff = cu.fcn.padding_differences(padded, image, size=32, stride=2)
    assert diff.shape == (16, 16)
    assert diff[0, 0] > 0 and diff[8, 8] == 0  # only fields that reach the crop's edge differ


# --- convolutionize: what it must not change, what it must catch ------------------------------


def _snapshot(model):
    """A copy of every state_dict entry and of every submodule's mode."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return state, [(name, m.training) for name, m in model.named_modules()]


def _assert_unchanged(model, snapshot):
    state, modes = snapshot
    now = model.state_dict()
    assert now.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(now[key], value), f"{key} changed"
    assert [(name, m.training) for name, m in model.named_modules()] == modes


class _ConvBN(nn.Module):
    """A small conv + BatchNorm model as a student writes it, fresh: in training mode."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.classifier = nn.Sequential(nn.Linear(8 * 5 * 5, 16), nn.ReLU(), nn.Linear(16, 4))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def test_batchnorm_statistics_and_modes_are_left_as_they_were():
    torch.manual_seed(0)
    model = _ConvBN()  # training mode, running statistics at their start values
    model.features[0].bias.data += 1.0  # so that the batch mean is far from the running mean
    before = _snapshot(model)
    x = torch.randn(2, 3, 12, 12)
    rng = torch.get_rng_state()
    fcn = cu.convolutionize(model, (3, 12, 12))
    _assert_unchanged(model, before)
    with cu.anatomy.evaluating(model), cu.anatomy.evaluating(fcn):
        torch.testing.assert_close(fcn(x).flatten(1), model(x), rtol=1e-4, atol=1e-5)
    assert torch.equal(torch.get_rng_state(), rng)  # no draw from the global generator either
    assert fcn.training and all(m.training for m in fcn.modules())  # the model's mode
    # A frozen BatchNorm inside a training model stays frozen in the result, and the other way.
    model.features[1].eval()
    fcn = cu.convolutionize(model, (3, 12, 12))
    assert fcn.training and not fcn.features[1].training and fcn.features[0].training
    model.eval()
    assert not any(m.training for m in cu.convolutionize(model, (3, 12, 12)).modules())


def test_fresh_vgg11_bn_gives_the_same_network():
    torch.manual_seed(0)
    model = tvm.vgg11_bn()  # fresh: training mode
    before = _snapshot(model)
    fcn = cu.convolutionize(model, (3, 224, 224))
    _assert_unchanged(model, before)
    assert fcn.training
    # The copies hold the model's running statistics, not ones updated by the shape tracing
    # (which made the outputs differ by 0.13); convolutionize() itself checks the outputs.
    kept = fcn.features.state_dict()
    for key, value in model.features.state_dict().items():
        assert torch.equal(kept[key], value), key


class _StepInForward(nn.Module):
    """features, then a step that only forward() shows, then classifier."""

    def __init__(self, step):
        super().__init__()
        self.step = step
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
        self.classifier = nn.Sequential(nn.Linear(8 * 10 * 10, 16), nn.ReLU(), nn.Linear(16, 4))

    def forward(self, x):
        return self.classifier(torch.flatten(self.step(self.features(x)), 1))


@pytest.mark.parametrize("step", [nn.functional.relu, lambda x: 0.5 * x], ids=["relu", "scale"])
def test_a_step_hidden_in_forward_is_caught(step):
    torch.manual_seed(0)
    model = _StepInForward(step)  # fresh: training mode
    before = _snapshot(model)
    with pytest.raises(ConvolutionizeError, match=r"differs .*by up to \d.*2×3×12×12") as err:
        cu.convolutionize(model, (3, 12, 12))
    assert "forward()" in str(err.value) and "list of layers" in str(err.value)
    _assert_unchanged(model, before)  # the check ran in eval mode and put the modes back


def test_densenet121_is_refused_with_the_reason():
    model = tvm.densenet121()  # forward: features, F.relu, global pooling, classifier
    with pytest.raises(ConvolutionizeError, match=r"'classifier' \(Linear.*forward\(\)") as err:
        cu.convolutionize(model, (3, 224, 224))
    assert "nn.AdaptiveAvgPool2d(1)" in str(err.value)  # says what to do
    # At 32×32 the map is 1×1, the pooling the identity, the Linear fits: F.relu is what's lost.
    with pytest.raises(ConvolutionizeError, match=r"differs .*by up to \d.*2×3×32×32"):
        cu.convolutionize(model, (3, 32, 32))


def test_mobilenet_v2_is_refused_and_the_suggested_list_works():
    torch.manual_seed(0)
    model = tvm.mobilenet_v2().eval()  # forward pools and flattens; no module does
    with pytest.raises(ConvolutionizeError, match=r"'classifier.1' \(Linear.*1280×7×7") as err:
        cu.convolutionize(model, (3, 224, 224))
    assert "nn.AdaptiveAvgPool2d(1)" in str(err.value)
    # What the message suggests: the pooling written out as a layer. Nested blocks are opened.
    layers = [*model.features, nn.AdaptiveAvgPool2d(1), nn.Flatten(), *model.classifier]
    fcn = cu.convolutionize(layers, (3, 224, 224))
    assert list(fcn.features.named_children())[0][0] == "0_0"  # features[0][0], a Conv2d
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(fcn(x).flatten(1), model(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "dtype, tol",
    [(torch.float64, 1e-12), (torch.bfloat16, 5e-2), (torch.float16, 1e-2)],
    ids=str,
)
def test_models_in_other_dtypes(dtype, tol):
    torch.manual_seed(0)
    model = cu.LeNet5().to(dtype).eval()
    fcn = cu.convolutionize(model, (1, 28, 28))
    assert {p.dtype for p in fcn.parameters()} == {dtype}
    x = torch.randn(4, 1, 28, 28, dtype=dtype)
    with torch.no_grad():
        expected = model(x)
        got = fcn(x).flatten(1)
    assert got.dtype == dtype
    assert (got - expected).abs().max() <= tol * expected.abs().max()
    with torch.no_grad():  # and it slides, in that dtype
        assert fcn(torch.randn(1, 1, 36, 44, dtype=dtype)).shape == (1, 10, 3, 5)


@pytest.mark.filterwarnings("ignore:Complex modules are a new feature")
def test_unsupported_dtypes_are_refused_by_name():
    model = cu.LeNet5().to(torch.complex64)
    with pytest.raises(ConvolutionizeError, match="complex64"):
        cu.convolutionize(model, (1, 28, 28))
    mixed = cu.LeNet5()
    mixed.classifier.double()
    with pytest.raises(ConvolutionizeError, match="float32 and float64"):
        cu.convolutionize(mixed, (1, 28, 28))


class _Blocks(nn.Module):
    """A student model built from blocks: Sequentials inside Sequentials inside features."""

    def __init__(self):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3), nn.BatchNorm2d(cout), nn.ReLU())

        self.features = nn.Sequential(
            block(1, 4), nn.Sequential(block(4, 6), nn.MaxPool2d(2)), nn.Dropout2d(0.1)
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.2), nn.Linear(6 * 4 * 4, 12), nn.ReLU(), nn.Linear(12, 3)
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def test_nested_blocks_in_features_get_valid_names():
    torch.manual_seed(0)
    model = _Blocks().eval()
    fcn = cu.convolutionize(model, (1, 12, 12))
    names = [n for n, _ in fcn.features.named_children()]
    assert names == ["0_0", "0_1", "0_2", "1_0_0", "1_0_1", "1_0_2", "1_1", "2"]
    assert [n for n, _ in fcn.classifier.named_children()] == ["0", "1", "2", "3"]
    x = torch.randn(2, 1, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(fcn(x).flatten(1), model(x), rtol=1e-4, atol=1e-5)
        assert fcn(torch.randn(1, 1, 20, 16)).shape == (1, 3, 5, 3)


def test_names_that_meet_after_opening_stay_apart():
    # "a.b" opened becomes "a_b", which is taken: no layer may be dropped for it.
    model = nn.Sequential(
        OrderedDict(
            a_b=nn.Conv2d(1, 2, 3),
            a=nn.Sequential(OrderedDict(b=nn.ReLU())),
            flat=nn.Flatten(),
            out=nn.Linear(2 * 4 * 4, 3),
        )
    ).eval()
    fcn = cu.convolutionize(model, (1, 6, 6))
    assert len(fcn.features) == 2 and len(set(dict(fcn.features.named_children()))) == 2


# --- convolutionize: the messages of each step ------------------------------------------------


class _GlobalMean(nn.Module):
    """A layer that leaves no map: the mean of each channel (N × C)."""

    def forward(self, x):
        return x.mean((2, 3))


def test_each_step_of_the_conversion_names_the_layer_that_stops_it():
    with pytest.raises(ConvolutionizeError, match=r"layer '2' \(Linear.*2-dimensional tensor"):
        cu.convolutionize([nn.Conv2d(1, 2, 3), _GlobalMean(), nn.Linear(2, 3)], (1, 6, 6))
    with pytest.raises(ConvolutionizeError, match=r"Layer '2' \(ReLU\) left no map"):
        cu.convolutionize([nn.Conv2d(1, 2, 3), _GlobalMean(), nn.ReLU()], (1, 6, 6))
    too_small = [nn.Conv2d(1, 2, 5), nn.Flatten(), nn.Linear(2, 3)]
    with pytest.raises(ConvolutionizeError, match=r"At input_size \(1, 3, 3\), layer '0' .*3×3"):
        cu.convolutionize(too_small, (1, 3, 3))


@pytest.mark.parametrize(
    ("tensor", "shape", "message"),
    [
        ("weight", (4, 9), r"weight of shape 4×9.*call for 4×8"),
        ("bias", (5,), r"bias of shape 5.*call for 4\."),
    ],
    ids=["weight", "bias"],
)
def test_a_linear_whose_tensors_do_not_match_its_sizes_is_refused(tensor, shape, message):
    # nn.Linear accepts any tensor set by hand; cutting it into filters must not
    linear = nn.Linear(2 * 2 * 2, 4)
    setattr(linear, tensor, nn.Parameter(torch.randn(shape)))
    with pytest.raises(ConvolutionizeError, match=rf"layer '2' \(Linear.*{message}"):
        cu.convolutionize([nn.Conv2d(1, 2, 3), nn.Flatten(), linear], (1, 4, 4))
