import pytest
import torch

import course_utils as cu
from course_utils import nets, weights


def test_lenet5_matches_the_slide():
    model = cu.LeNet5()
    assert cu.count_parameters(model) == 44_426
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 6, (5, 5)),
        (6, 16, (5, 5)),
    ]
    linears = [m for m in model.classifier if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(256, 120), (120, 84), (84, 10)]
    assert model(torch.zeros(7, 1, 28, 28)).shape == (7, 10)


def test_activations_are_the_layer_outputs():
    model = cu.LeNet5().eval()
    x = torch.rand(2, 1, 28, 28)
    maps = cu.activations(model, x, ["features.0", "features.3"])
    torch.testing.assert_close(maps["features.0"], model.features[0](x))
    assert maps["features.3"].shape == (2, 16, 8, 8)
    with pytest.raises(KeyError, match="features.9"):
        cu.activations(model, x, ["features.9"])


def test_save_and_load_trained(cache):
    model = cu.LeNet5()
    path = weights.save_trained(model, "lenet")
    assert path.is_file() and str(cache) in str(path)
    other = cu.LeNet5()
    assert weights.load_trained(other, "lenet")
    torch.testing.assert_close(other.state_dict(), model.state_dict())
    assert not weights.load_trained(cu.LeNet5(), "never_saved")


def test_corrupt_saved_weights_name_the_file(cache):
    path = weights.checkpoint_path("lenet")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00truncated")
    with pytest.raises(RuntimeError, match="Delete .*lenet.pt"):
        weights.load_trained(cu.LeNet5(), "lenet")


def test_alexnet2012_has_the_papers_shapes_and_parameters():
    model = nets.AlexNet2012().eval()
    assert cu.count_parameters(model) == 60_965_224  # the paper's "60 million parameters"
    assert model.features[:2](torch.zeros(1, 3, 227, 227)).shape == (1, 96, 55, 55)  # Fig. 2
    assert model(torch.zeros(2, 3, 227, 227)).shape == (2, 1000)
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]  # conv3 sees both GPUs' maps (§3.2)


def test_alexnet2012_response_normalisation_is_the_papers_formula():
    # Krizhevsky et al. 2012, §3.3: b_i = a_i / (k + α Σ_j a_j²)^β, the sum over the n = 5
    # maps j from max(0, i − 2) to min(N − 1, i + 2), with k = 2, α = 1e-4, β = 0.75.
    torch.manual_seed(0)
    a = torch.randn(2, 12, 3, 4) * 30  # large activations, so that α matters
    channels = a.shape[1]
    by_hand = torch.empty_like(a)
    for i in range(channels):
        window = a[:, max(0, i - 2) : min(channels - 1, i + 2) + 1]
        by_hand[:, i] = a[:, i] / (2 + 1e-4 * (window**2).sum(1)) ** 0.75
    lrns = [m for m in nets.AlexNet2012().features if isinstance(m, torch.nn.LocalResponseNorm)]
    assert len(lrns) == 2
    for lrn in lrns:
        torch.testing.assert_close(lrn(a), by_hand)
    # PyTorch averages the squares: alpha=1e-4 would be α = 2e-5 in the paper's formula.
    wrong = torch.nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)(a)
    assert not torch.allclose(wrong, by_hand)


def test_alexnet2012_drops_the_outputs_of_the_first_two_linear_layers():
    # §4.2: "We use dropout in the first two fully-connected layers": each Dropout follows the
    # ReLU of fc6 and fc7; torchvision's alexnet() puts one before fc6 and one before fc7.
    kinds = [type(m).__name__ for m in nets.AlexNet2012().classifier]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    import torchvision

    tv = [type(m).__name__ for m in torchvision.models.alexnet().classifier]
    assert tv == ["Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Linear"]
