import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

import course_utils as cu
from course_utils.augment import RandomShift, crop, krizhevsky_crops, pca_colors


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


def test_pca_adds_one_offset_to_the_whole_image():
    torch.manual_seed(0)
    x = torch.rand(3, 40, 30)
    diff = (cu.PCAColorAugmentation()(x) - x).flatten(1)  # 3 x pixels
    torch.testing.assert_close(diff, diff[:, :1].expand_as(diff))
    assert diff[:, 0].abs().max() > 0


def test_pca_batch_gets_one_offset_per_image():
    torch.manual_seed(0)
    x = torch.rand(5, 3, 8, 8)
    diff = (cu.PCAColorAugmentation()(x) - x).flatten(2)  # 5 x 3 x pixels
    torch.testing.assert_close(diff, diff[:, :, :1].expand_as(diff))
    assert len({tuple(d[:, 0].tolist()) for d in diff}) == 5


def test_pca_alpha_zero_is_the_identity():
    x = torch.rand(3, 16, 16)
    torch.testing.assert_close(cu.PCAColorAugmentation(alpha_std=0.0)(x), x)
    torch.testing.assert_close(cu.PCAColorAugmentation().apply(x, torch.zeros(3)), x)


def test_pca_offsets_have_the_eigen_decomposition_as_covariance():
    torch.manual_seed(0)
    sigma = 0.1
    pca = cu.PCAColorAugmentation(alpha_std=sigma)
    x = torch.zeros(20000, 3, 1, 1)
    offsets = pca(x).flatten(1)  # 20000 x 3
    values, vectors = cu.IMAGENET_PCA_EIGENVALUES, cu.IMAGENET_PCA_EIGENVECTORS
    expected = vectors @ torch.diag((sigma * values) ** 2) @ vectors.T
    torch.testing.assert_close(torch.cov(offsets.T), expected, atol=2e-5, rtol=0.05)


def test_pca_works_inside_a_v2_pipeline_on_pil_images():
    cat = cu.load_image(cu.sample_images()["cat"])
    pipeline = v2.Compose(
        [
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            krizhevsky_crops(),
            cu.PCAColorAugmentation(),
        ]
    )
    out = pipeline(cat)
    assert out.shape == (3, 224, 224) and out.dtype == torch.float32
    assert cu.PCAColorAugmentation()(cat).shape == (3, cat.height, cat.width)


def test_pca_colors_recovers_a_known_covariance():
    torch.manual_seed(0)
    vectors = torch.linalg.qr(torch.randn(3, 3))[0]
    values = torch.tensor([0.04, 0.01, 0.002])
    pixels = torch.randn(200_000, 3) * values.sqrt() @ vectors.T + 0.5
    image = pixels.T.reshape(3, 400, 500)
    got_values, got_vectors = pca_colors(image)
    torch.testing.assert_close(got_values, values, rtol=0.03, atol=1e-4)
    cosines = (got_vectors * vectors).sum(0).abs()
    assert bool((cosines > 0.999).all())


def test_random_crop_and_flip_keep_the_shape_and_come_from_the_resized_image():
    torch.manual_seed(0)
    image = torch.rand(3, 300, 400)
    resized = F.resize(image, 256)
    assert resized.shape == (3, 256, 341)
    for _ in range(5):
        out = v2.RandomCrop(224)(resized)
        assert out.shape == (3, 224, 224)
        found = [
            (t, left)
            for t in range(256 - 224 + 1)
            for left in range(341 - 224 + 1)
            if torch.equal(resized[:, t : t + 224, left : left + 224], out)
        ]
        assert len(found) == 1
        flipped = v2.RandomHorizontalFlip(p=1.0)(out)
        assert torch.equal(flipped, out.flip(-1))
    assert krizhevsky_crops()(image).shape == (3, 224, 224)
    assert torch.equal(crop(resized, 3, 5, 224, flip=True), resized[:, 3:227, 5:229].flip(-1))


def test_ten_crop_predict_is_the_mean_softmax_over_torchvision_ten_crop():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 6),
    )
    image = torch.rand(3, 40, 48)
    crops = F.ten_crop(image, [32, 32])
    expected = torch.stack([torch.softmax(model(c[None]), 1)[0] for c in crops]).mean(0)
    got = cu.ten_crop_predict(model, image, size=32)
    torch.testing.assert_close(got, expected.detach())
    # the same ten crops, cut by hand: corners, centre, then their mirrors
    by_hand = [
        image[:, :32, :32],
        image[:, :32, -32:],
        image[:, -32:, :32],
        image[:, -32:, -32:],
        image[:, 4:36, 8:40],
    ]
    by_hand += [c.flip(-1) for c in by_hand]
    manual = torch.stack([torch.softmax(model(c[None]), 1)[0] for c in by_hand]).mean(0)
    torch.testing.assert_close(got, manual.detach())
    five = cu.ten_crop_predict(model, image, size=32, flips=False)
    torch.testing.assert_close(
        five,
        torch.stack([torch.softmax(model(c[None]), 1)[0] for c in by_hand[:5]]).mean(0).detach(),
    )
    batch = cu.ten_crop_predict(model, torch.stack([image, image]), size=32)
    torch.testing.assert_close(batch[1], got)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="alpha_std"):
        cu.PCAColorAugmentation(alpha_std=-1)
    with pytest.raises(ValueError, match="pixels"):
        RandomShift(-1)


def test_the_experiments_tables_hold_the_measured_numbers_and_no_prose(digits):
    train, test = digits
    cu.seed_everything(0)
    model = cu.LeNet5()
    report = cu.lab.overfitting_table({"a": model, "b": model}, train, test)
    train_acc, test_acc = cu.evaluate(model, train), cu.evaluate(model, test)
    assert report.rows["a"] == pytest.approx(
        {"train": train_acc, "test": test_acc, "gap": train_acc - test_acc}
    )
    table = cu.lab.crop_averaging_table({"a": model}, test)
    assert list(table.rows["a"]) == ["centre", "five crops", "ten crops (with mirrors)"]
    assert table.rows["a"]["centre"] == pytest.approx(test_acc)
    five = cu.ten_crop_predict(
        model, torch.nn.functional.pad(test.images, (2,) * 4), size=28, flips=False
    )
    assert table.rows["a"]["five crops"] == pytest.approx(
        (five.argmax(1) == test.labels).float().mean().item()
    )
    for got in (report, table):  # a table, one row per model, and no sentence: the notebook says it
        lines = got._repr_markdown_().splitlines()
        assert len(lines) == 2 + len(got.rows) and all(line.startswith("|") for line in lines)
    assert (
        f"| a | {train_acc:.1%} | {test_acc:.1%} | {(train_acc - test_acc) * 100:.1f} points |"
        in report.markdown
    )


def test_krizhevsky_crops_come_from_the_central_256_square():
    """§2 and §4.1: short side to 256, the central 256 x 256, then random 224 crops in it."""
    h, w = 256, 341
    rows = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    cols = torch.arange(w, dtype=torch.float32)[None, :].expand(h, w)
    image = torch.stack([rows, cols, torch.zeros(h, w)])  # each pixel holds its own position
    left_of_square = (w - 256) // 2  # 42
    torch.manual_seed(0)
    seen = set()
    for _ in range(300):
        out = krizhevsky_crops()(image)
        first_col, last_col = out[1, 0, 0].item(), out[1, 0, -1].item()
        left = int(min(first_col, last_col))  # mirrored crops run right to left
        top = int(out[0, 0, 0].item())
        assert left_of_square <= left <= left_of_square + 32 and 0 <= top <= 32
        seen.add((top, left - left_of_square))
    assert len(seen) > 200  # many of the 33 x 33 positions, none outside the square
    square = cu.augment.krizhevsky_square(image)
    assert square.shape == (3, 256, 256) and square[1, 0, 0].item() == left_of_square


def test_pca_takes_any_pil_image_as_the_rgb_image_it_shows():
    # images.to_tensor's conversion: a transparent PNG is white, a greyscale one three channels
    rgba = Image.new("RGBA", (8, 6), (255, 0, 0, 0))
    torch.testing.assert_close(
        cu.PCAColorAugmentation().apply(rgba, [0, 0, 0]), torch.ones(3, 6, 8)
    )
    grey = cu.load_image(cu.sample_images()["cameraman"]).convert("L")
    assert cu.PCAColorAugmentation()(grey).shape == (3, grey.height, grey.width)
    values, _ = pca_colors(grey)  # three equal channels: all the variance on one axis
    assert values[1:].abs().max() < 1e-4 * values[0]
