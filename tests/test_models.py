import pytest
import torch

import course_utils as cu
from course_utils import models


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
    path = models.save_trained(model, "lenet")
    assert path.is_file() and str(cache) in str(path)
    other = cu.LeNet5()
    assert models.load_trained(other, "lenet")
    torch.testing.assert_close(other.state_dict(), model.state_dict())
    assert not models.load_trained(cu.LeNet5(), "never_saved")


def test_corrupt_saved_weights_name_the_file(cache):
    path = models.checkpoint_path("lenet")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00truncated")
    with pytest.raises(RuntimeError, match="Delete .*lenet.pt"):
        models.load_trained(cu.LeNet5(), "lenet")
