import pytest
import torch
import torchvision
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

import course_utils as cu
from course_utils.receptive import receptive_fields, stacked_3x3

layer = st.tuples(
    st.sampled_from(["conv", "avgpool"]),
    st.sampled_from([1, 2, 3, 5]),  # kernel
    st.sampled_from([1, 2]),  # stride
    st.integers(0, 2),  # padding
    st.sampled_from([1, 2]),  # dilation (convolutions only)
)


def _build(spec) -> nn.Sequential:
    layers = []
    for kind, k, s, p, d in spec:
        p = min(p, k // 2)
        if kind == "conv":
            conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
            nn.init.ones_(conv.weight)
            layers += [conv, nn.ReLU()]
        else:
            layers.append(nn.AvgPool2d(k, stride=s, padding=p, count_include_pad=True))
    return nn.Sequential(*layers)


@settings(max_examples=60, deadline=None)
@given(st.lists(layer, min_size=1, max_size=4))
def test_the_field_is_where_the_gradient_reaches(spec):
    """Against the truth: the input pixels whose change moves one output (positive weights)."""
    net = _build(spec)
    x = torch.ones(1, 1, 97, 97, requires_grad=True)
    out = net(x)
    field = receptive_fields(net)[-1]
    i = out.shape[-1] // 2
    first, last = field.span(i)
    assume(0 <= first and last <= 96)  # the whole field inside the image: no padding seen
    out[0, 0, i, i].backward()
    touched = x.grad[0, 0].abs().sum(0).nonzero().flatten()
    assert (touched.min().item(), touched.max().item()) == (first, last)
    assert field.size == last - first + 1


def test_alexnet_pool5_sees_195_pixels_every_32():
    fields = receptive_fields(torchvision.models.alexnet())
    assert [(f.name, f.size, f.jump) for f in fields if f.layer != "ReLU"] == [
        ("features.0", 11, 4),
        ("features.2", 19, 8),
        ("features.3", 51, 8),
        ("features.5", 67, 16),
        ("features.6", 99, 16),
        ("features.8", 131, 16),
        ("features.10", 163, 16),
        ("features.12", 195, 32),
    ]
    # On a 224 crop, even the centre positions' fields reach just past the crop's edge.
    assert fields[-1].span(0) == (-66, 128) and fields[-1].span(3) == (30, 224)


def test_vgg_stacks_of_3x3():
    assert [stacked_3x3(n) for n in (1, 2, 3)] == [3, 5, 7]
    assert receptive_fields(cu.LeNet5())[-1].size == 16  # conv5, pool2, conv5, pool2


def test_a_model_without_a_chain_is_refused_by_name():
    with pytest.raises(ValueError, match="BasicBlock"):
        receptive_fields(cu.blocks.BasicBlock(4))
