import re

import torch

import course_utils as cu


def test_digit_explorer_follows_the_picker(digits):
    _, test = digits
    cu.seed_everything(0)
    model = cu.LeNet5().eval()
    explorer = cu.widgets.digit_explorer(model, test)
    assert "digit 0" in explorer.summary.value
    explorer.picker.value = 17
    label = int(test.labels[17])
    assert f"digit 17</b>: true label <b>{label}</b>" in explorer.summary.value
    expected = torch.softmax(model(test.images[17:18]), 1)[0].detach()
    torch.testing.assert_close(explorer.probabilities, expected)
    assert explorer.feature_maps["features.0"].shape == (6, 24, 24)
    assert explorer.feature_maps["features.3"].shape == (16, 8, 8)
    assert explorer.slider.max == len(test) - 1


def test_next_steps_through_mistakes_only(digits):
    _, test = digits
    cu.seed_everything(0)
    model = cu.LeNet5().eval()  # untrained: most digits are mistakes, some are not
    explorer = cu.widgets.DigitExplorer(model, test)
    explorer.mistakes_only.value = True
    for _ in range(3):
        explorer.next_button.click()
        i = explorer.picker.value
        assert int(explorer.probabilities.argmax()) != int(test.labels[i])
        assert "wrong" in explorer.summary.value
    explorer.mistakes_only.value = False
    before = explorer.picker.value
    explorer.next_button.click()
    assert explorer.picker.value == before + 1


def test_augmentation_explorer_follows_its_controls():
    explorer = cu.widgets.augmentation_explorer("cat")
    assert explorer.result.shape == (3, 224, 224)
    first = explorer.result.clone()
    explorer.flip.value = True
    torch.testing.assert_close(explorer.result, first.flip(-1))
    explorer.alphas[0].value = 0.5
    offset = (explorer.result - first.flip(-1)).flatten(1)
    expected = cu.PCAColorAugmentation().offset(torch.tensor([0.5, 0.0, 0.0]))
    torch.testing.assert_close(offset[:, 0], expected)
    # The summary reports the very offset applied (not just some sign).
    shown = ", ".join(f"{v:+.3f}" for v in expected.tolist())
    assert f"RGB offset ({shown})" in explorer.summary.value, explorer.summary.value
    explorer.picker.dropdown.value = "coffee"
    assert explorer.picker.name == "coffee"
    # the cat is 451 x 300: short side to 256, the central 256 x 256, so 32 x 32 crop offsets
    explorer.picker.dropdown.value = "cat"
    assert (explorer.top.max, explorer.left.max) == (32, 32)


def test_a_bad_upload_leaves_the_explorer_working():
    explorer = cu.widgets.AugmentationExplorer()
    before = explorer.result.clone()
    explorer.picker.load(b"this is not an image", name="notes.txt")
    assert "notes.txt" in explorer.picker.status.value
    assert "not an image" in explorer.picker.status.value
    torch.testing.assert_close(explorer.result, before)
    explorer.flip.value = True  # still responds
    torch.testing.assert_close(explorer.result, before.flip(-1))


def test_classifier_explorer_changes_with_image_and_model(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    explorer = cu.widgets.classifier_explorer("alexnet", "cat")
    assert "untrained weights" in explorer.status.value
    assert "untrained weights" in explorer.table.value
    first = explorer.prediction
    assert len(first.top) == 15 and first.model_name == "alexnet"
    explorer.picker.dropdown.value = "rocket"
    assert explorer.prediction.probabilities is not first.probabilities
    assert not torch.equal(explorer.prediction.probabilities, first.probabilities)
    assert "rocket through alexnet" in explorer.status.value
    explorer.model_picker.value = "resnet18"
    assert explorer.prediction.model_name == "resnet18"
    assert set(explorer.loaded) == {"alexnet", "resnet18"}
    alexnet = explorer.loaded["alexnet"]
    explorer.model_picker.value = "alexnet"
    assert explorer.loaded["alexnet"] is alexnet  # kept, not loaded again
    top_name = explorer.prediction.top[0][0]
    assert top_name in explorer.table.value
    labels = dict(explorer.model_picker.options)
    assert "resnet50 (98 MB)" in labels


def test_classifier_explorer_survives_every_bad_upload(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    explorer = cu.widgets.ClassifierExplorer("resnet18", "cat")
    good = explorer.prediction.probabilities
    for data, name in [
        (b"", "empty.png"),
        (b"%PDF-1.4", "paper.pdf"),
        (cu.sample_images()["coffee"].read_bytes()[:5000], "cut.png"),
    ]:
        explorer.picker.load(data, name=name)
        assert name in explorer.picker.status.value
        torch.testing.assert_close(explorer.prediction.probabilities, good)
    explorer.picker.load(cu.sample_images()["rocket"].read_bytes(), name="my_rocket.jpg")
    assert explorer.picker.name == "my_rocket.jpg"
    assert "my_rocket.jpg through resnet18" in explorer.status.value
    assert not torch.equal(explorer.prediction.probabilities, good)


def test_drawing_pad_classifies_what_is_drawn(digits):
    train, test = digits
    cu.seed_everything(0)
    model = cu.LeNet5()
    cu.fit(model, train, test, epochs=3, lr=3e-3, quiet=True)
    pad = cu.widgets.drawing_pad(model)
    assert "Draw a digit" in pad.summary.value
    pad.draw([(140, 40), (140, 140), (141, 240)])  # a vertical stroke
    digit = pad.digit[0]
    assert digit.shape == (28, 28) and float(digit.max()) > 0.9
    cols = digit.sum(0).nonzero().flatten()
    assert 10 <= int(cols.float().mean()) <= 17  # centred, as MNIST's digits are
    assert int(pad.probabilities.argmax()) == 1
    assert "says <b>1</b>" in pad.summary.value
    torch.testing.assert_close(pad.probabilities.sum(), torch.tensor(1.0))
    pad.clear()
    assert float(pad.ink.sum()) == 0 and "Draw a digit" in pad.summary.value


def test_mnist_style_centres_by_mass():
    ink = torch.zeros(280, 280)
    ink[20:60, 200:220] = 1.0  # a small blob in a corner
    digit = cu.widgets.mnist_style(ink)[0]
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    total = digit.sum()
    assert abs(float((ys * digit).sum() / total) - 13.5) <= 1.0
    assert abs(float((xs * digit).sum() / total) - 13.5) <= 1.0
    assert digit.nonzero()[:, 0].max() - digit.nonzero()[:, 0].min() + 1 == 20  # fits 20 rows
    assert float(cu.widgets.mnist_style(torch.zeros(10, 10)).sum()) == 0


def test_uploaded_files_reads_both_ipywidgets_formats():
    """Colab ships ipywidgets 7.7.1, whose FileUpload.value is not ipywidgets 8's."""
    data = cu.sample_images()["coffee"].read_bytes()
    v8 = (
        {"name": "mine.png", "type": "image/png", "size": len(data), "content": memoryview(data)},
    )
    v7 = {"mine.png": {"metadata": {"name": "mine.png", "size": len(data)}, "content": data}}
    assert cu.widgets.uploaded_files(v8) == [("mine.png", data)]
    assert cu.widgets.uploaded_files(v7) == [("mine.png", data)]
    assert cu.widgets.uploaded_files(()) == cu.widgets.uploaded_files({}) == []


def test_an_upload_goes_through_the_installed_ipywidgets_file_upload():
    import ipywidgets

    assert cu.widgets.IPYWIDGETS_MAJOR in (7, 8), ipywidgets.__version__
    picker = cu.widgets.ImagePicker("cat")
    seen = []
    picker.on_change(seen.append)
    cu.widgets.send_upload(picker.upload, cu.sample_images()["rocket"].read_bytes(), "mine.jpg")
    assert picker.name == "mine.jpg" and picker.dropdown.value is None
    assert len(seen) == 1 and seen[0].size == (640, 427)  # the rocket, as uploaded
    assert "mine.jpg" in picker.status.value
    picker.dropdown.value = "coffee"  # the samples still work after an upload
    assert picker.name == "coffee"


def test_widgets_leave_the_models_own_mode_alone(digits):
    _, test = digits
    model = cu.LeNet5().train()
    cu.widgets.DigitExplorer(model, test).picker.value = 3
    cu.widgets.DrawingPad(model).draw([(140, 40), (140, 240)])
    assert model.training  # each prediction ran in eval mode, then gave the mode back


def _thin_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (60000, 1), (10, 20, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_tiny_thin_upload_is_refused_and_the_explorers_stay_usable(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    data = _thin_png()
    assert len(data) < 1000
    for explorer in (
        cu.widgets.AugmentationExplorer(),
        cu.widgets.ClassifierExplorer("resnet18", "cat", k=5),
    ):
        before = explorer.picker.image
        explorer.picker.load(data, name="strip.png")
        assert (
            "strip.png" in explorer.picker.status.value
            and "Crop it" in explorer.picker.status.value
        )
        assert explorer.picker.image is before and explorer.picker.name == "cat"
        explorer.picker.dropdown.value = "coffee"  # still responds
        assert explorer.picker.name == "coffee"


def test_an_error_while_showing_a_new_image_brings_the_last_one_back(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    explorer = cu.widgets.ClassifierExplorer("resnet18", "cat", k=5)
    good = explorer.prediction.probabilities
    real = cu.weights.classify

    def failing(model, image, **kw):
        if image.size == cu.load_image(cu.sample_images()["rocket"]).size:
            raise RuntimeError("out of memory (simulated)")
        return real(model, image, **kw)

    monkeypatch.setattr(cu.widgets, "classify", failing)
    explorer.picker.dropdown.value = "rocket"
    assert "out of memory" in explorer.picker.status.value
    assert explorer.picker.name == "cat" and explorer.picker.dropdown.value == "cat"
    torch.testing.assert_close(explorer.prediction.probabilities, good)
    explorer.picker.dropdown.value = "coffee"
    assert explorer.picker.name == "coffee" and "coffee through resnet18" in explorer.status.value


def _damaged_weights(tmp_path, monkeypatch, *names: str) -> None:
    """An offline weights cache in `tmp_path` where the files of `names` are damaged."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    for name in names:
        path = cu.weights.weights_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not a checkpoint")  # a damaged cached file


def test_damaged_weights_leave_every_explorer_on_its_last_good_model(tmp_path, monkeypatch):
    _damaged_weights(tmp_path, monkeypatch, "vgg16", "resnet50")
    heat = cu.widgets.HeatmapExplorer("alexnet", "cat")
    before = heat.probabilities
    heat.model_picker.value = "vgg16"
    assert str(cu.weights.weights_file("vgg16")) in heat.status.value
    assert heat.model_picker.value == "alexnet"
    torch.testing.assert_close(heat.probabilities, before)  # alexnet's map, shown again
    assert "Back to the last choice that worked (alexnet, 352)" in heat.status.value
    heat.scale.value = 288  # still works
    assert "at 288×" in heat.status.value
    classifier = cu.widgets.ClassifierExplorer("resnet18", "cat", k=5)
    classifier.model_picker.value = "resnet50"
    assert str(cu.weights.weights_file("resnet50")) in classifier.status.value
    assert classifier.model_picker.value == "resnet18"
    assert classifier.prediction.model_name == "resnet18"


def test_an_explorer_whose_first_view_fails_says_so_and_keeps_working(tmp_path, monkeypatch):
    # Issue 21: it got stuck, and each later change raised into the log.
    _damaged_weights(tmp_path, monkeypatch, "vgg16", "vgg19")
    heat = cu.widgets.HeatmapExplorer("vgg16", "cat")  # its first view fails
    assert str(cu.weights.weights_file("vgg16")) in heat.status.value
    heat.model_picker.value = "vgg19"  # fails too: said, not raised
    assert str(cu.weights.weights_file("vgg19")) in heat.status.value
    heat.model_picker.value = "alexnet"  # works
    # its own view, not an error that names its file: one pass over the cat, a map per class
    shown = r"cat at \d+×\d+: \d+×\d+ positions from one pass of alexnet\."
    assert re.match(shown, heat.status.value), heat.status.value
    assert heat.probabilities.dim() == 3 and heat.probabilities.shape[0] == 1000
    assert heat.model_picker.value == "alexnet"
    heat.model_picker.value = "vgg16"  # and now a failure goes back to alexnet
    assert heat.model_picker.value == "alexnet" and "Back to the last choice" in heat.status.value


def _trained_pair(digits):
    """ResNet (a GAP head) and VGG (none) after one short epoch: right on some digits, wrong
    on others."""
    train, test = digits
    nets = {}
    for name in ("ResNet", "VGG"):
        cu.seed_everything(0)
        nets[name] = cu.nets.build(name)
        cu.fit(nets[name], cu.data.subset(train, 1000), test, epochs=1, quiet=True, device="cpu")
    return nets


def test_family_explorer_shows_prediction_cam_and_maps_and_steps_to_mistakes(digits):
    _, test = digits
    nets = _trained_pair(digits)
    explorer = cu.widgets.family_explorer(nets, test, family="ResNet", index=7)
    model = nets["ResNet"]
    with torch.no_grad():
        expected = torch.softmax(model(test.images[7:8]), 1)[0]
    torch.testing.assert_close(explorer.probabilities, expected)
    guess = int(expected.argmax())
    cams = cu.fcn.class_activation_maps(model, test.images[7:8], size=(28, 28))
    torch.testing.assert_close(explorer.cam, cams[0, guess])
    assert explorer.maps.shape == (32, 7, 7)  # layer2's last convolution
    assert "on test image 7: says" in explorer.summary.value
    explorer.next_mistake.click()
    i = explorer.index.value
    assert i > 7 and int(explorer.probabilities.argmax()) != int(test.labels[i])
    explorer.family.value = "VGG"  # no GAP head: no map, and it says so
    assert explorer.cam is None and "no GAP head" in explorer.summary.value


def test_family_explorer_keeps_working_after_an_error(digits, monkeypatch):
    _, test = digits
    nets = {"ResNet": cu.nets.build("ResNet"), "NiN": cu.nets.build("NiN")}
    explorer = cu.widgets.FamilyExplorer(nets, test)

    working = cu.fcn.class_activation_maps

    def broken(model, images, **kwargs):
        if model is nets["NiN"]:
            raise RuntimeError("the maps could not be computed")
        return working(model, images, **kwargs)

    monkeypatch.setattr(cu.fcn, "class_activation_maps", broken)
    explorer.family.value = "NiN"
    assert explorer.family.value == "ResNet"  # back to the last choice that worked
    assert "could not be computed" in explorer.status.value
    monkeypatch.undo()
    explorer.index.value = 4
    assert explorer.status.value == ""
    # the view follows the new image (the index is only what this test set)
    assert "<b>ResNet</b> on test image 4: says" in explorer.summary.value
    torch.testing.assert_close(
        explorer.probabilities, cu.predict(nets["ResNet"], test.images[4:5])[0]
    )


def _shown_text(widget) -> str:
    """What a front end without the widget manager shows: the display's text/plain."""
    bundle = getattr(widget, "_repr_mimebundle_", None)  # ipywidgets 8; 7 displays repr()
    return bundle()["text/plain"] if callable(bundle) else repr(widget)


def test_every_explorer_shows_a_friendly_sentence_where_widgets_cannot_render(
    digits, tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    _, test = digits
    lenet = cu.LeNet5().eval()
    widgets = [
        cu.widgets.digit_explorer(lenet, test),
        cu.widgets.ImagePicker("cat"),
        cu.widgets.augmentation_explorer("cat"),
        cu.widgets.ClassifierExplorer("resnet18", "cat", k=5),
        cu.widgets.HeatmapExplorer("alexnet", "cat"),
        cu.widgets.drawing_pad(lenet),
        cu.widgets.family_explorer({"LeNet5": cu.nets.build("LeNet5")}, test),
    ]
    for widget in widgets:
        text = _shown_text(widget)
        name = type(widget).__name__
        assert "children=(" not in text and name not in text, text
        assert text.endswith("run this notebook in JupyterLab or Colab to use it."), text
        assert len(text) <= 110, text  # ipywidgets cuts text/plain at 110 characters
    import ipywidgets  # a plain widget keeps its own repr: only the course's explorers change

    assert "Dropdown(" in repr(ipywidgets.Dropdown(options=["a"]))


def test_the_classifier_explorer_shows_the_photo_beside_the_same_top_k(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    explorer = cu.widgets.ClassifierExplorer("resnet18", "cat", k=15)
    photo, bars = explorer.figure.axes
    shown = photo.images[0].get_array()
    assert shown.shape[:2] == (explorer.picker.image.height, explorer.picker.image.width)
    assert len(bars.patches) == explorer.table.value.count("<tr>") == 15
    assert [t.get_text() for t in bars.get_yticklabels()][::-1] == [
        c for c, _ in explorer.prediction.top
    ]
    explorer.picker.dropdown.value = "rocket"  # a new photo is shown, not only named
    photo, _ = explorer.figure.axes
    assert photo.images[0].get_array().shape[:2] == (427, 640)


def test_the_explorers_predict_through_train_predict(digits, monkeypatch):
    # one way from images to probabilities: the explorers call it rather than write it again
    _, test = digits
    calls = []

    def spy(model, images, **kwargs):
        calls.append(tuple(images.shape))
        return cu.train.predict(model, images, **kwargs)

    monkeypatch.setattr(cu.widgets, "predict", spy)
    cu.seed_everything(0)
    model = cu.LeNet5().eval()
    explorer = cu.widgets.digit_explorer(model, test)
    explorer.picker.value = 3
    assert calls == [(1, 1, 28, 28)] * 2
    expected = cu.train.predict(model, test.images[3:4])[0]
    torch.testing.assert_close(explorer.probabilities, expected, rtol=0, atol=0)
    calls.clear()
    pad = cu.widgets.drawing_pad(model)
    pad.draw([(140, 40), (140, 240)])
    assert calls == [(1, 1, 28, 28)]
    torch.testing.assert_close(pad.probabilities, cu.train.predict(model, pad.digit[None])[0])
    calls.clear()
    cu.widgets.family_explorer({"LeNet5": model}, test, index=5)
    assert calls == [(1, 1, 28, 28)]
