import dataclasses
import re

import pytest
import torch

import course_utils as cu
from course_utils import anatomy, fcn, lab, nets, race
from course_utils.nets import FAMILIES, GAP_FAMILIES

# --- parameter counts from the formulas, independently of the code that builds them -----------


def conv(k: int, c_in: int, c_out: int, *, bias: bool = True, groups: int = 1) -> int:
    return (k * k * c_in // groups + bias) * c_out


def linear(n_in: int, n_out: int) -> int:
    return (n_in + 1) * n_out


def inception(c_in, ch1, ch3red, ch3, ch5red, ch5, pool_proj) -> int:
    return (
        conv(1, c_in, ch1)
        + conv(1, c_in, ch3red)
        + conv(3, ch3red, ch3)
        + conv(1, c_in, ch5red)
        + conv(5, ch5red, ch5)
        + conv(1, c_in, pool_proj)
    )


def basic(c: int) -> int:
    return 2 * conv(3, c, c)


def bottleneck(c: int, width: int) -> int:
    return conv(1, c, width, bias=False) + conv(3, width, width) + conv(1, width, c, bias=False)


def resnext(c: int, cardinality: int, width: int) -> int:
    inner = cardinality * width
    return (
        conv(1, c, inner, bias=False)
        + conv(3, inner, inner, bias=False, groups=cardinality)
        + conv(1, inner, c, bias=False)
    )


def bn(c: int) -> int:
    return 2 * c  # a scale and a shift per channel (running statistics are buffers)


def dense_layer(c_in: int, k: int) -> int:
    return bn(c_in) + conv(3, c_in, k, bias=False)  # BN-ReLU-conv3×3 (Huang et al., §3)


def densenet(c: int) -> int:
    # stem 16; block 1: 4 layers of k = 12 (16 -> 64); transition to 32; block 2 (32 -> 80)
    block1 = sum(dense_layer(16 + 12 * i, 12) for i in range(4))
    block2 = sum(dense_layer(32 + 12 * i, 12) for i in range(4))
    transition = bn(64) + conv(1, 64, 32, bias=False)
    return conv(3, c, 16, bias=False) + block1 + transition + block2 + bn(80) + linear(80, 10)


def formula(name: str, c: int, size: int) -> int:
    side = 4 if size == 28 else 5  # LeNet5's last maps: ((size - 4) / 2 - 4) / 2
    return {
        "LeNet5": conv(5, c, 6)
        + conv(5, 6, 16)
        + linear(16 * side * side, 120)
        + linear(120, 84)
        + linear(84, 10),
        "AlexNet": conv(5, c, 24)
        + conv(3, 24, 32)
        + conv(3, 32, 32)
        + conv(3, 32, 24)
        + linear(24 * 3 * 3, 128)
        + linear(128, 128)
        + linear(128, 10),
        "VGG": conv(3, c, 8)
        + conv(3, 8, 16)
        + conv(3, 16, 16)
        + conv(3, 16, 32)
        + conv(3, 32, 32)
        + linear(32 * 3 * 3, 128)
        + linear(128, 10),
        "NiN": conv(5, c, 24)
        + 2 * conv(1, 24, 24)
        + conv(3, 24, 32)
        + 2 * conv(1, 32, 32)
        + conv(3, 32, 32)
        + conv(1, 32, 32)
        + conv(1, 32, 10),  # no linear layer
        "GoogLeNet": conv(3, c, 32)
        + inception(32, 16, 16, 24, 4, 8, 8)
        + inception(56, 24, 24, 32, 8, 16, 8)
        + inception(80, 32, 24, 48, 8, 16, 16)
        + linear(112, 10),
        "ResNet": conv(3, c, 16) + 2 * basic(16) + conv(1, 16, 32) + 2 * basic(32) + linear(32, 10),
        "ResNet-bottleneck": conv(3, c, 32)
        + 2 * bottleneck(32, 16)
        + conv(1, 32, 64)
        + 2 * bottleneck(64, 32)
        + linear(64, 10),
        "ResNeXt": conv(3, c, 32)
        + 2 * resnext(32, 8, 4)
        + conv(1, 32, 64)
        + 2 * resnext(64, 8, 8)
        + linear(64, 10),
        "DenseNet": densenet(c),
    }[name]


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize(("c", "size"), [(1, 28), (3, 32)])
def test_every_family_builds_runs_and_has_its_formulas_parameters(name, c, size):
    model = nets.build(name, in_channels=c, image_size=size)
    assert model.family == name
    assert model(torch.rand(3, c, size, size)).shape == (3, 10)
    assert cu.count_parameters(model) == formula(name, c, size)
    assert cu.count_macs(model, (c, size, size)) > cu.count_parameters(model)


def test_lenet5_is_the_slides_and_the_multiply_adds_are_the_hand_counts():
    assert cu.count_parameters(nets.build("LeNet5")) == 44_426
    lenet = 24 * 24 * 6 * 25 + 8 * 8 * 16 * 6 * 25 + 256 * 120 + 120 * 84 + 84 * 10
    assert cu.count_macs(nets.build("LeNet5"), (1, 28, 28)) == lenet == 281_640
    vgg = (
        28 * 28 * 8 * 9
        + 14 * 14 * (16 * 8 * 9 + 16 * 16 * 9)
        + 7 * 7 * (32 * 16 * 9 + 32 * 32 * 9)
        + 288 * 128
        + 128 * 10
    )
    assert cu.count_macs(nets.build("VGG"), (1, 28, 28)) == vgg


def test_lenet5_default_is_unchanged_and_takes_photos():
    assert cu.count_parameters(cu.LeNet5()) == 44_426
    assert cu.LeNet5(in_channels=3, image_size=32)(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    with pytest.raises(ValueError, match="16×16"):
        cu.LeNet5(image_size=12)


def test_unknown_family_names_the_value_and_lists_the_valid_ones():
    assert nets.build("resnext").family == "ResNeXt"  # any case
    with pytest.raises(ValueError, match=r"'MobileNet'.*LeNet5, AlexNet, .*ResNeXt, DenseNet"):
        nets.build("MobileNet")


def test_densenet_is_the_size_of_the_others_and_its_hand_count():
    assert densenet(1) == 40_250  # 144 + 14,960 + 2,176 + 22,000 + 160 + 810
    assert 20_000 < cu.count_parameters(nets.build("DenseNet")) < 70_000


def test_a_dense_layer_concatenates_its_input_and_k_new_maps():
    layer = nets.DenseLayer(20, 12)
    x = torch.rand(2, 20, 9, 9)
    out = layer(x)
    assert out.shape == (2, 20 + 12, 9, 9)
    torch.testing.assert_close(out[:, :20], x)  # the input passes through unchanged
    bottleneck = nets.DenseLayer(20, 12, bottleneck=4)
    assert bottleneck(x).shape == (2, 32, 9, 9)
    assert bottleneck.layers[2].out_channels == 48  # the 1×1 conv to 4k maps (DenseNet-B)
    assert cu.count_parameters(bottleneck) == (
        bn(20) + conv(1, 20, 48, bias=False) + bn(48) + conv(3, 48, 12, bias=False)
    )


def test_a_dense_block_of_l_layers_outputs_c0_plus_l_k_and_each_layer_sees_all_before():
    block = nets.dense_block(16, 5, 12)
    assert block(torch.rand(1, 16, 7, 7)).shape == (1, 16 + 5 * 12, 7, 7)
    # layer i reads the block's input and the i earlier layers' maps: 16 + 12 i channels
    assert [layer.layers[0].num_features for layer in block] == [16, 28, 40, 52, 64]
    # Changing the maps of the first layer changes what the last layer reads.
    x = torch.rand(1, 16, 7, 7)
    with torch.no_grad():
        before = block(x)
        block[0].layers[2].weight.add_(1.0)
        after = block(x)
    assert torch.equal(before[:, :16], after[:, :16]) and not torch.equal(before, after)
    t = nets.transition(76, 38)
    assert t(torch.rand(1, 76, 8, 8)).shape == (1, 38, 4, 4)
    assert isinstance(t[-1], torch.nn.AvgPool2d)


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_takes_a_larger_canvas(name):
    model = nets.build(name, image_size=40)
    assert model(torch.rand(2, 1, 40, 40)).shape == (2, 10)


def test_the_gap_heads():
    assert [n for n in FAMILIES if fcn.has_gap_head(nets.build(n))] == list(GAP_FAMILIES)


# --- training --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_learns_in_one_epoch(name, digits):
    train, test = digits
    cu.seed_everything(0)
    model = nets.build(name)
    history = cu.fit(model, train, test, epochs=1, quiet=True, device="cpu")
    # Chance is 10%; seeded, the weakest family (NiN) reaches 65% here.
    assert history.test_accuracy[-1] >= 0.3, history


# --- class activation maps --------------------------------------------------------------------


def logits_of(model, images):
    with cu.evaluating(model):
        return model(images)


def check_cam_identity(model, images):
    cams = fcn.class_activation_maps(model, images)
    assert cams.device.type == "cpu"
    assert cams.shape[:2] == (len(images), 10)
    bias = fcn.cam_bias(model)
    torch.testing.assert_close(
        cams.mean((2, 3)) + bias, logits_of(model, images), rtol=1e-4, atol=1e-5
    )
    return cams


@pytest.mark.parametrize("name", GAP_FAMILIES)
def test_cam_mean_plus_bias_is_the_logit(name, digits):
    images = digits[1].images[:6]
    cu.seed_everything(0)
    model = nets.build(name)
    cams = check_cam_identity(model, images)
    assert cams.shape == (6, 10, 7, 7)  # the maps that enter the pooling: 28 / 4
    assert cams.abs().sum() > 0
    if name == "NiN":
        assert not fcn.cam_bias(model).any()
    else:
        torch.testing.assert_close(fcn.cam_bias(model), model.fc.bias.detach())
    # Trained a little (weights away from their initialisation, biases no longer zero).
    train = cu.data.subset(digits[0], 256, seed=1)
    cu.fit(model, train, digits[1], epochs=1, quiet=True, device="cpu")
    assert name == "NiN" or fcn.cam_bias(model).abs().sum() > 0
    check_cam_identity(model, images)
    # Resized for an overlay, on a 3 x 32 x 32 model too.
    big = fcn.class_activation_maps(model, images[:2], size=28)
    assert big.shape == (2, 10, 28, 28)
    photo = nets.build(name, in_channels=3, image_size=32)
    check_cam_identity(photo, torch.rand(2, 3, 32, 32))


def test_cam_follows_the_pooling_of_a_torchvision_resnet():
    import torchvision

    model = torchvision.models.resnet18(num_classes=10)
    cams = check_cam_identity(model, torch.rand(2, 3, 64, 64))
    assert cams.shape == (2, 10, 2, 2)


@pytest.mark.parametrize("name", [n for n in FAMILIES if n not in GAP_FAMILIES])
def test_cam_without_a_gap_head_says_which_families_have_one(name):
    model = nets.build(name)
    assert not fcn.has_gap_head(model)
    with pytest.raises(ValueError, match=rf"{name} has none.*NiN, GoogLeNet, ResNet"):
        fcn.class_activation_maps(model, torch.rand(1, 1, 28, 28))
    with pytest.raises(ValueError, match="global-average-pooling"):
        fcn.cam_bias(model)


# --- the cache and the race ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(digits):
    train, test = digits
    return cu.data.subset(train, 256, seed=0), cu.data.subset(test, 128, seed=0)


def test_a_second_call_loads_the_first_run(cache, tiny):
    train, test = tiny
    first = race.train_family("ResNet", train, test, epochs=1, device="cpu")
    assert not first.loaded and first.path.is_file() and str(cache) in str(first.path)
    assert re.fullmatch(r"family-resnet-digits-1x28-e1-s0-[0-9a-f]{12}\.pt", first.path.name)
    assert not first.model.training
    again = race.train_family("ResNet", train, test, epochs=1, device="cpu")
    assert again.loaded
    assert again.test_accuracy == first.test_accuracy
    assert again.history.test_accuracy == first.history.test_accuracy
    assert again.history.batch_loss == first.history.batch_loss
    assert again.train_seconds == first.train_seconds > 0
    assert (again.params, again.macs, again.device) == (first.params, first.macs, "cpu")
    torch.testing.assert_close(again.model.state_dict(), first.model.state_dict())
    assert cu.evaluate(again.model, test) == first.test_accuracy
    fresh = race.train_family("ResNet", train, test, epochs=1, device="cpu", retrain=True)
    assert not fresh.loaded
    assert fresh.history.test_accuracy == first.history.test_accuracy  # seeded: the same run


def test_a_damaged_cache_file_is_kept_named_and_trained_again(cache, tiny):
    train, test = tiny
    path = cu.weights.checkpoint_path(race.run_name("LeNet5", train, epochs=1, seed=0))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00truncated")
    with pytest.warns(cu.show.CourseWarning, match=re.escape(str(path))) as caught:
        result = race.train_family("LeNet5", train, test, epochs=1, device="cpu")
    assert "trained again" in str(caught[0].message)
    assert not result.loaded
    assert path.with_name(path.name + ".damaged").read_bytes() == b"\x00truncated"
    assert race.train_family("LeNet5", train, test, epochs=1, device="cpu").loaded


def test_a_run_on_other_data_is_not_reused(cache, tiny):
    train, test = tiny
    race.train_family("LeNet5", train, test, epochs=1, device="cpu")
    other = race.train_family("LeNet5", cu.data.subset(train, 200), test, epochs=1)
    assert not other.loaded


def test_noise_of_the_same_name_and_size_never_loads_the_digits_run(cache, tiny):
    # Issue 21: the key held only the name, shape, epochs and seed, and loading checked only
    # the sizes: noise loaded the digits run and was reported at the digits' accuracy.
    train, test = tiny
    digits_run = race.train_family("LeNet5", train, test, epochs=1, device="cpu")
    generator = torch.Generator().manual_seed(0)
    noise = cu.data.TensorImageDataset(
        torch.rand(train.images.shape, generator=generator),
        torch.randint(0, 10, (len(train),), generator=generator),
        name=train.name,
    )
    assert race.dataset_label(noise) == race.dataset_label(train)
    run = race.train_family("LeNet5", noise, test, epochs=1, device="cpu")
    assert not run.loaded and run.path != digits_run.path
    other_recipe = race.run_name("LeNet5", train, epochs=2, seed=0)
    assert other_recipe != race.run_name("LeNet5", train, epochs=1, seed=0)


def test_a_loaded_run_is_evaluated_on_the_test_set_given_now(cache, tiny, capsys):
    train, test = tiny
    first = race.train_family("LeNet5", train, test, epochs=1, device="cpu")
    flipped = cu.data.TensorImageDataset(test.images, (test.labels + 1) % 10, name=test.name)
    again = race.train_family("LeNet5", train, flipped, epochs=1, device="cpu")
    assert again.loaded
    assert again.test_accuracy == cu.evaluate(again.model, flipped) < first.test_accuracy
    out = capsys.readouterr().out
    assert f"scores {100 * again.test_accuracy:.1f}% on the 128 test images given now" in out


@pytest.mark.parametrize("how", ["a file in place of the folder", "a read-only folder"])
def test_an_unwritable_cache_keeps_the_run_in_memory_and_says_so_once(
    cache, tiny, monkeypatch, make_read_only, how
):
    # Issue 21: train_family trained, then died in torch.save; a race lost every result.
    train, test = tiny
    folder = cache / "cache" / "models"
    if how == "a read-only folder":
        folder.mkdir(parents=True)
        make_read_only(folder)
    else:
        (cache / "cache").write_text("not a folder", encoding="utf-8")
    with pytest.warns(cu.show.CourseWarning, match="COURSE_CACHE_DIR") as caught:
        results = race.race(train, test, names=("LeNet5", "ResNet"), epochs=1)
    assert len(caught) == 1 and str(folder) in str(caught[0].message)
    assert all(r.path is None and not r.loaded for r in results.values())
    assert results["LeNet5"].test_accuracy == cu.evaluate(results["LeNet5"].model, test)
    if how == "a read-only folder":
        assert list(folder.iterdir()) == []


def test_a_damaged_run_in_a_read_only_cache_is_named_and_trained_again(cache, tiny, make_read_only):
    train, test = tiny
    path = cu.weights.checkpoint_path(race.run_name("LeNet5", train, epochs=1, seed=0))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00truncated")
    make_read_only(path.parent)
    with pytest.warns(cu.show.CourseWarning) as caught:
        result = race.train_family("LeNet5", train, test, epochs=1, device="cpu")
    said = " ".join(str(w.message) for w in caught)
    assert str(path) in said and "could not be moved aside" in said and "COURSE_CACHE_DIR" in said
    assert not result.loaded and result.path is None and result.test_accuracy > 0
    assert path.read_bytes() == b"\x00truncated"


def test_race_table_and_rows(cache, tiny, capsys):
    train, test = tiny
    names = ("LeNet5", "googlenet")
    results = race.race(train, test, names=names, epochs=1, device="cpu")
    assert list(results) == ["LeNet5", "GoogLeNet"]
    out = capsys.readouterr().out
    assert "LeNet5: trained in" in out and "GoogLeNet: trained in" in out
    again = race.race(train, test, names=names, epochs=1, device="cpu")
    out = capsys.readouterr().out
    assert all(r.loaded for r in again.values())
    assert f"LeNet5: loaded from {results['LeNet5'].path} (trained earlier" in out
    table = race.race_table(again)
    assert table.markdown.splitlines()[0] == (
        "| family | parameters | multiply-adds | training time (s) | images/s "
        "| test accuracy (%) | loaded |"
    )
    assert table.rows["LeNet5"][:2] == [44_426, 281_640]
    assert table.rows["GoogLeNet"][-1] == "yes"
    rows = race.race_rows(again)
    assert [r["name"] for r in rows] == ["LeNet5", "GoogLeNet"]
    lenet = rows[0]
    assert lenet["macs"] == pytest.approx(0.28164) and lenet["params"] == pytest.approx(44.426)
    assert lenet["top1"] == pytest.approx(100 * results["LeNet5"].test_accuracy)
    assert {"family", "recipe", "size"} <= lenet.keys() and lenet["size"] == 28


def test_runs_are_cached_under_the_data_they_really_saw(digits):
    train, _ = digits
    assert race.dataset_label(train) == "digits"  # the shipped digits, whatever was asked
    fashion = cu.data.TensorImageDataset(train.images[:4], train.labels[:4], name="Fashion-MNIST")
    assert race.dataset_label(fashion) == "fashion-mnist"
    assert (
        race.dataset_label(cu.data.TensorImageDataset(train.images[:4], train.labels[:4]))
        == "digits"
    )


def test_start_similarity_is_one_before_training_and_drops_with_it(cache, digits):
    train = cu.data.subset(digits[0], 512, seed=0)
    test = cu.data.subset(digits[1], 128, seed=0)
    cu.seed_everything(0)
    untouched = race.RaceResult(
        name="LeNet5", model=nets.build("LeNet5"), params=0, macs=0, train_seconds=0,
        images_per_second=0, test_accuracy=0, history=cu.History(), loaded=False, device="cpu",
    )  # fmt: skip
    torch.testing.assert_close(race.start_similarity(untouched), torch.ones(6))
    trained = race.train_family("LeNet5", train, test, epochs=1, device="cpu")
    similarity = race.start_similarity(trained)
    assert similarity.shape == (6,) and (similarity < 0.9999).all()  # each moved, a little


def test_first_filters_is_a_snapshot_not_a_view():
    model = nets.build("VGG")
    before = anatomy.first_filters(model)
    with torch.no_grad():
        next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d)).weight.add_(1.0)
    after = anatomy.first_filters(model)
    torch.testing.assert_close(after, before + 1)  # the snapshot kept the old values


def test_start_similarity_of_any_layer(cache, digits):
    train = cu.data.subset(digits[0], 256, seed=0)
    test = cu.data.subset(digits[1], 128, seed=0)
    trained = race.train_family("VGG", train, test, epochs=1, device="cpu")
    layers = anatomy.weight_layers(trained.model)
    assert [n for n, _ in layers] == [
        "features.0", "features.3", "features.5", "features.8", "features.10",
        "classifier.0", "classifier.3",
    ]  # fmt: skip
    assert anatomy.last_conv(trained.model) == "features.10"
    first = race.start_similarity(trained)
    torch.testing.assert_close(first, race.start_similarity(trained, layer="features.0"))
    last = race.start_similarity(trained, layer=-1)
    assert last.shape == (10,) and (last < 0.9999).all()  # the classifier's ten rows moved
    conv = race.start_similarity(trained, layer=anatomy.last_conv(trained.model))
    assert conv.shape == (32,)
    # Before training: exactly 1 for every layer.
    cu.seed_everything(0)
    untouched = dataclasses.replace(trained, model=nets.build("VGG"))
    for k in range(len(layers)):
        torch.testing.assert_close(
            race.start_similarity(untouched, layer=k), torch.ones(layers[k][1].weight.shape[0])
        )
    with pytest.raises(ValueError, match="no layer 'fc'.*features.0"):
        race.start_similarity(trained, layer="fc")


def test_real_differences_are_the_pairs_whose_seed_ranges_do_not_overlap():
    spread = {"A": [0.80, 0.84, 0.82], "B": [0.70, 0.79, 0.75], "C": [0.78, 0.81, 0.76]}
    # A's worst (0.80) beats B's best (0.79); A and C overlap (0.80 < 0.81); B and C overlap.
    assert race.real_differences(spread) == [("A", "B")]
    assert race.real_differences({"A": [0.5], "B": [0.5]}) == []


def test_the_cluttered_task_is_cached_apart_from_the_digits(cache, digits):
    ctrain, ctest = race.cluttered_task(digits[0], digits[1], train_size=64, test_size=32)
    assert ctrain.images.shape == (64, 1, 32, 32) and ctest.images.shape == (32, 1, 32, 32)
    assert race.CLUTTER["size"] > 28 and race.CLUTTER_EPOCHS >= 1
    # test canvases are made of test digits, training canvases of training digits
    torch.testing.assert_close(ctest.labels, digits[1].labels[ctest.indices])
    run = race.train_family("LeNet5", ctrain, ctest, epochs=1, device="cpu")
    assert run.path.name.startswith(
        "family-lenet5-cluttered-digits-32-32-2-pieces-of-8-8-seed-0-1x32-e1-s0-"
    )
    small = cu.data.subset(digits[0], 64), cu.data.subset(digits[1], 32)
    plain = race.train_family("LeNet5", *small, epochs=1, device="cpu")
    assert plain.path != run.path  # the same sizes of sets, but never the same cache file
    spread = race.seed_spread({"LeNet5": run}, ctrain, ctest, seeds=(1,), device="cpu")
    assert list(spread) == ["LeNet5"] and spread["LeNet5"][0] == run.test_accuracy
    assert len(spread["LeNet5"]) == 2
    again = race.train_family("LeNet5", ctrain, ctest, epochs=1, seed=1, device="cpu")
    assert again.loaded and again.test_accuracy == spread["LeNet5"][1]  # seed 1 was cached


# --- inception branch shares (notebook 05) ----------------------------------------------------


def test_branch_shares_are_the_slices_of_the_concatenated_output():
    cu.seed_everything(0)
    module = cu.blocks.Inception(8, 4, 2, 6, 2, 3, 5)  # branches of 4, 6, 3 and 5 channels
    nets.he_init(module)
    with torch.no_grad():  # the 5×5 branch's last convolution outputs zeros, so ReLU(0) = 0
        module.branch3[1][0].weight.zero_()
        module.branch3[1][0].bias.zero_()
    x = torch.randn(3, 8, 9, 9)
    shares = lab.branch_shares(module, x)[""]
    out = module(x).double()  # the reference: the module's own output, cut at the branches
    energy = torch.stack([s.pow(2).sum() for s in out.split([4, 6, 3, 5], dim=1)])
    torch.testing.assert_close(shares, (energy / energy.sum()).float())
    assert shares[2] == 0 and shares[[0, 1, 3]].min() > 0
    assert abs(float(shares.sum()) - 1) < 1e-6


def test_branch_shares_cover_every_module_of_the_compact_googlenet(digits):
    cu.seed_everything(0)
    model = nets.build("GoogLeNet").train()
    shares = lab.branch_shares(model, digits[1].images[:8])
    assert list(shares) == ["inception3a", "inception3b", "inception4a"]
    for s in shares.values():
        assert s.shape == (4,) and abs(float(s.sum()) - 1) < 1e-6 and (s >= 0).all()
    assert model.training  # the model's mode is given back
    with pytest.raises(ValueError, match="LeNet5 has no inception module"):
        lab.branch_shares(nets.build("LeNet5"), digits[1].images[:2])


def test_saved_or_short_run_reuses_the_race_and_else_trains_briefly(cache, tiny, monkeypatch):
    train, test = tiny
    monkeypatch.setattr(race, "RACE_EPOCHS", 2)
    short = race.saved_or_short_run("LeNet5", train, test, short_epochs=1, device="cpu")
    assert not short.loaded and short.history.epochs == 1 and "-e1-s0-" in short.path.name
    full = race.train_family("LeNet5", train, test, epochs=2, device="cpu")
    again = race.saved_or_short_run("LeNet5", train, test, short_epochs=1, device="cpu")
    assert again.loaded and again.history.epochs == 2
    assert again.history.test_accuracy == full.history.test_accuracy


def test_start_similarity_rebuilds_from_the_seed_the_run_used(cache, tiny):
    # Issue 21: RaceResult did not carry the seed, so a seed=1 run was compared with seed 0's
    # start (a similarity near 0 where the filters had barely moved).
    train, test = tiny
    run = race.race(train, test, names=("LeNet5",), epochs=1, seed=1, device="cpu")["LeNet5"]
    assert run.seed == 1
    similarity = race.start_similarity(run)
    torch.testing.assert_close(similarity, race.start_similarity(run, seed=1))
    assert similarity.median() > 0.5  # one short epoch leaves the filters near their start
    assert race.start_similarity(run, seed=0).abs().median() < 0.5  # another start
