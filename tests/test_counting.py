import pytest
import torch
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
    assert macs / 1e9 == pytest.approx(weights.meta["_ops"], rel=0.01)


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


def test_counting_leaves_training_mode_alone():
    model = cu.LeNet5().train()
    cu.count_macs(model, (1, 28, 28))
    assert model.training
    assert torch.is_grad_enabled()
