import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.augment import RandomShift


@settings(max_examples=25, deadline=None)
@given(pixels=st.integers(0, 4), n=st.integers(1, 5), seed=st.integers(0, 1000))
def test_random_shift_is_a_crop_of_the_padded_image(pixels, n, seed):
    torch.manual_seed(seed)
    x = torch.rand(n, 2, 12, 10)
    out = RandomShift(pixels)(x)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (pixels,) * 4)
    for k in range(n):
        found = any(
            torch.equal(out[k], padded[k, :, dy : dy + 12, dx : dx + 10])
            for dy in range(2 * pixels + 1)
            for dx in range(2 * pixels + 1)
        )
        assert found


def test_random_shift_zero_is_identity_and_single_images_work():
    x = torch.rand(1, 28, 28)
    assert torch.equal(RandomShift(0)(x), x)
    assert RandomShift(2)(x).shape == (1, 28, 28)
