"""pretrained() with weights placed in a temporary TORCH_HOME, an empty cache and a bad file."""

import pytest
import torch
from torchvision import models as tvm

import course_utils as cu
from course_utils import models
from course_utils.models import UnknownModelError, WeightsError


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def _place(name: str, model: torch.nn.Module) -> None:
    path = models.weights_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)


def test_weights_file_follows_torch_home(torch_home):
    path = models.weights_file("resnet18")
    assert path == torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert tvm.ResNet18_Weights.IMAGENET1K_V1.url.endswith(path.name)


def test_cached_weights_are_loaded(torch_home):
    torch.manual_seed(0)
    reference = tvm.resnet18()
    _place("resnet18", reference)
    model = cu.pretrained("resnet18", strict=True)
    assert model.is_pretrained and not model.training
    torch.testing.assert_close(model.state_dict(), reference.state_dict())
    assert model.weights is tvm.ResNet18_Weights.IMAGENET1K_V1


def test_googlenet_is_built_as_torchvision_builds_it(torch_home):
    torch.manual_seed(0)
    reference = tvm.googlenet(aux_logits=True, init_weights=True)  # the file keeps aux heads
    _place("googlenet", reference)
    model = cu.pretrained("googlenet")
    assert model.is_pretrained and model.aux1 is None and model.transform_input
    assert cu.count_parameters(model) == 6_624_904
    assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


def test_empty_cache_offline_gives_untrained_weights_loudly(torch_home, monkeypatch, capfd):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.warns(cu.config.CourseWarning) as caught:
        model = cu.pretrained("alexnet")
    assert len(caught) == 1  # reported once, as one clear message
    assert "UNTRAINED" in str(caught[0].message) and "prefetch" in str(caught[0].message)
    assert capfd.readouterr() == ("", "")  # nothing else said it again
    assert model.is_pretrained is False
    assert cu.count_parameters(model) == 61_100_840
    prediction = cu.models.classify(model, cu.load_image(cu.sample_images()["cat"]))
    assert "UNTRAINED" in repr(prediction)


def test_in_a_notebook_missing_weights_are_one_note(torch_home, monkeypatch, recwarn):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(cu.config, "in_notebook", lambda: True)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    assert cu.pretrained("resnet18").is_pretrained is False
    assert len(shown) == 1 and "UNTRAINED" in shown[0].data and "prefetch" in shown[0].data
    assert len(recwarn) == 0  # the note is the report; no warning repeats it


def test_failed_download_falls_back_or_raises_when_strict(torch_home, monkeypatch, capfd):
    # An unreachable address: the connection is refused at once.
    weights = tvm.ResNet18_Weights.IMAGENET1K_V1
    monkeypatch.setattr(weights.value, "url", "http://127.0.0.1:9/resnet18-f37072fd.pth")
    with pytest.warns(cu.config.CourseWarning, match="download failed: 127.0.0.1 cannot be"):
        assert cu.pretrained("resnet18").is_pretrained is False
    # Unreachable, so no download was started: torch.hub never said "Downloading: ...".
    assert "Downloading" not in capfd.readouterr().err
    with pytest.raises(WeightsError, match="resnet18-f37072fd.pth is not cached.*prefetch"):
        cu.pretrained("resnet18", strict=True)


def test_truncated_cache_file_names_the_file(torch_home):
    torch.manual_seed(0)
    _place("resnet18", tvm.resnet18())
    path = models.weights_file("resnet18")
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(WeightsError) as err:
        cu.pretrained("resnet18")
    assert str(path) in str(err.value) and "Delete it" in str(err.value)
    assert path.exists()  # the user's file is left for them to inspect


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(UnknownModelError) as err:
        cu.pretrained("resnet5O")
    for name in (
        "alexnet",
        "vgg16",
        "vgg19",
        "googlenet",
        "resnet18",
        "resnet50",
        "resnext50_32x4d",
    ):
        assert name in str(err.value)
    assert isinstance(err.value, ValueError)


def test_classify_top15_with_the_weights_transforms(torch_home):
    torch.manual_seed(0)
    _place("resnet18", tvm.resnet18())
    model = cu.pretrained("resnet18")
    cat = cu.load_image(cu.sample_images()["cat"])
    prediction = cu.models.classify(model, cat)
    x = tvm.ResNet18_Weights.IMAGENET1K_V1.transforms()(cat)
    expected = torch.softmax(model(x[None]), 1)[0].detach()
    torch.testing.assert_close(prediction.probabilities, expected)
    assert len(prediction.top) == 15
    assert prediction.top[0][1] == pytest.approx(float(expected.max()))
    assert prediction.top[0][0] == cu.imagenet_classes()[int(expected.argmax())]


def test_slide_normalisation():
    cat = cu.load_image(cu.sample_images()["cat"])
    x = cu.models.slide_normalize(cat)
    assert x.shape == (3, 224, 224)
    assert float(x.mean()) == pytest.approx(0.5, abs=1e-4)
    assert float(x.std()) == pytest.approx(0.5, abs=1e-3)
