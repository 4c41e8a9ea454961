"""Every public function that takes a model, as one case: run it with the model on a device.

tests/test_gpu.py runs each case on CUDA and tests/test_devices.py on PyTorch's "lazy" device,
a second device that a CPU-only machine has too, and both compare the results with the CPU's.
A function that feeds a CPU tensor to a model elsewhere fails there, as notebook 01's feature
maps did on a GPU. Each case returns plain values or tensors, which must all be on the CPU.
"""

from __future__ import annotations

import contextlib
import functools
import io

import torch
from torch import nn

import course_utils as cu

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


@functools.cache
def digits():
    with contextlib.redirect_stdout(io.StringIO()):
        train, test = cu.data.mnist_fallback()
    return cu.data.subset(train, 512, seed=0), cu.data.subset(test, 128, seed=0)


def lenet(device: str) -> nn.Module:
    cu.seed_everything(0)
    return cu.LeNet5().to(device)


class TinyPhotoNet(nn.Module):
    """A small classifier of 3×32×32 photos with .features and .classifier, as AlexNet has."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 5, padding=2),  # 8 x 32 x 32
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 8 x 16 x 16
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 8 x 8 x 8
        )
        self.classifier = nn.Sequential(nn.Linear(8 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def photo_net(device: str) -> nn.Module:
    cu.seed_everything(0)
    return TinyPhotoNet().to(device)


def cat():
    return cu.load_image(cu.sample_images()["cat"])


# --- train ---------------------------------------------------------------------------------


@case
def predict(device):
    return cu.predict(lenet(device), digits()[1])


@case
def evaluate(device):
    return cu.evaluate(lenet(device), digits()[1])


@case
def fit(device):
    train, test = digits()
    cu.seed_everything(0)
    model = cu.LeNet5()
    # Few steps: the lazy device re-traces every step. 128 digits learn beyond chance in 4 epochs.
    history = cu.fit(model, cu.data.subset(train, 128), test, epochs=4, device=device, quiet=True)
    # Random batches differ between devices, so compare what must hold on every one.
    return {
        "trained where asked": torch.device(history.device).type == torch.device(device).type,
        "model stays there": cu.model_device(model).type == torch.device(device).type,
        "eval mode after": not model.training,
        "learned": history.test_accuracy[-1] > 0.3,
        "a loss per batch": len(history.batch_loss) == 4 * 4,
    }


# --- models --------------------------------------------------------------------------------


@case
def activations(device):
    x = digits()[1].images[:2]
    return cu.activations(lenet(device), x, ["features.0", "features.3", "classifier.4"])


@case
def classify(device):
    from torchvision.transforms.v2 import functional as F

    model = photo_net(device)
    model.weights = None

    def preprocess(image):
        return F.resize(F.to_dtype(F.to_image(image), torch.float32, scale=True), [32, 32])

    p = cu.classify(model, cat(), k=3, preprocess=preprocess)
    return {"probabilities": p.probabilities[:5], "top": [name for name, _ in p.top]}


@case
def save_and_load_trained(device, tmp_path=None):
    model = lenet(device)
    cu.weights.save_trained(model, "device-case")
    fresh = cu.LeNet5()  # on the CPU: the file loads wherever it was saved from
    assert cu.weights.load_trained(fresh, "device-case")
    return fresh.state_dict()


# --- counting ------------------------------------------------------------------------------


@case
def count_macs(device):
    return cu.count_macs(photo_net(device), (3, 32, 32))


@case
def layer_table(device):
    table = cu.layer_table(photo_net(device), (3, 32, 32))
    return [(r.name, r.output_shape, r.parameters, r.macs) for r in table]


# --- augment -------------------------------------------------------------------------------


@case
def ten_crop_predict(device):
    padded = nn.functional.pad(digits()[1].images[:4], (2, 2, 2, 2))  # 4 x 1 x 32 x 32
    return cu.ten_crop_predict(lenet(device), padded, size=28, flips=False)


@case
def overfitting_table(device):
    train, test = digits()
    report = cu.lab.overfitting_table({"a": lenet(device)}, train, test)
    return report.rows


@case
def crop_averaging_table(device):
    return cu.lab.crop_averaging_table({"a": lenet(device)}, digits()[1]).rows


# --- fcn -----------------------------------------------------------------------------------


@case
def convolutionize(device):
    fcn = cu.convolutionize(lenet(device), (1, 28, 28))
    assert cu.model_device(fcn).type == torch.device(device).type
    with torch.no_grad():
        x = torch.rand(1, 1, 60, 60, generator=torch.Generator().manual_seed(0))
        return fcn(x.to(device)).cpu()


@case
def heatmaps(device):
    fcn = cu.convolutionize(lenet(device), (1, 28, 28))
    canvas, _ = cu.lab.digit_canvas(digits()[1].images, digits()[1].labels, n=3, size=(64, 96))
    probabilities, whole = cu.lab.digit_heatmaps(fcn, canvas)
    return {
        "heatmap": cu.fcn.heatmap(fcn, canvas),
        "digit_heatmaps": probabilities,
        "mask": whole,
        "dense_heatmap": cu.fcn.dense_heatmap(fcn, canvas),
        "total_stride": cu.fcn.total_stride(fcn, (1, 28, 28)),
        "sliding_window": cu.fcn.sliding_window(lenet(device), canvas[:, :40, :40], 28, 4),
    }


@case
def photo_heatmaps(device):
    net = photo_net(device)
    fcn = cu.convolutionize(net, (3, 32, 32))
    maps = cu.fcn.multiscale_heatmaps(fcn, cat(), [32, 48])
    return maps


# --- blocks --------------------------------------------------------------------------------


@case
def gradient_norms(device):
    cu.seed_everything(0)
    net = cu.blocks.deep_stack(4, channels=4, shortcuts=True).to(device)
    test = digits()[1]
    return cu.blocks.gradient_norms(net, test.images[:8], test.labels[:8])


@case
def to_paths(device):
    cu.seed_everything(0)
    block = cu.blocks.ResNeXtBlock(16, cardinality=4, width=2).to(device)
    paths = cu.blocks.to_paths(block)
    x = torch.randn(1, 16, 5, 5, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        return paths(x).cpu()


# --- families ------------------------------------------------------------------------------


@case
def class_activation_maps(device):
    images = digits()[1].images[:2]
    found = {}
    for name in ("NiN", "GoogLeNet", "ResNeXt"):
        cu.seed_everything(0)
        model = cu.nets.build(name).to(device)
        found[name] = cu.fcn.class_activation_maps(model, images)
        found[f"{name} resized"] = cu.fcn.class_activation_maps(model, images, size=28)
        found[f"{name} bias"] = cu.fcn.cam_bias(model)
        found[f"{name} has a GAP head"] = cu.fcn.has_gap_head(model)
    return found


@case
def branch_shares(device):
    cu.seed_everything(0)
    model = cu.nets.build("GoogLeNet").to(device)
    return cu.lab.branch_shares(model, digits()[1].images[:4])


# --- widgets -------------------------------------------------------------------------------


@case
def digit_explorer(device):
    explorer = cu.widgets.DigitExplorer(lenet(device), digits()[1])
    explorer.picker.value = 5
    explorer.mistakes_only.value = True
    explorer.next_button.click()
    return {
        "probabilities": explorer.probabilities,
        "maps": explorer.feature_maps,
        "stepped to": explorer.picker.value,
    }


@case
def family_explorer(device):
    nets = {}
    for name in ("ResNeXt", "VGG"):  # one with a GAP head, one without
        cu.seed_everything(0)
        nets[name] = cu.nets.build(name).to(device)
    explorer = cu.widgets.FamilyExplorer(nets, digits()[1], index=3)
    found = {"ResNeXt cam": explorer.cam, "ResNeXt maps": explorer.maps}
    explorer.next_mistake.click()
    explorer.family.value = "VGG"
    found.update(probabilities=explorer.probabilities, maps=explorer.maps, at=explorer.index.value)
    return found


@case
def drawing_pad(device):
    pad = cu.widgets.DrawingPad(lenet(device))
    pad.draw([(140, 40), (140, 140), (141, 240)])
    return pad.probabilities


@case
def classifier_explorer(device):
    # It loads its own model onto cu.device(): offline, torchvision's seeded random weights.
    cu.seed_everything(0)
    explorer = cu.widgets.ClassifierExplorer("resnet18", "cat", k=5)
    assert cu.model_device(explorer.loaded["resnet18"]).type == torch.device(device).type
    return explorer.prediction.probabilities[:10]


@case
def heatmap_explorer(device):
    cu.seed_everything(0)
    explorer = cu.widgets.HeatmapExplorer("alexnet", "cat")
    explorer.scale.value = 288
    return explorer.probabilities[:5]


def run(name: str, device: str, monkeypatch, tmp_path):
    """Run case `name` on `device`, with the course's folders and device pointed at a test's own."""
    monkeypatch.setenv("COURSE_DEVICE", device)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with monkeypatch.context() as m:
        m.setattr(cu.show, "warn", lambda *a, **k: None)  # untrained weights: known here
        return CASES[name](device)


def assert_on_cpu(value, where: str = "result") -> None:
    """Every tensor in a case's result is on the CPU, as the course promises."""
    if torch.is_tensor(value):
        assert value.device.type == "cpu", f"{where} is on {value.device}, not the CPU"
    elif isinstance(value, dict):
        for k, v in value.items():
            assert_on_cpu(v, f"{where}[{k!r}]")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            assert_on_cpu(v, f"{where}[{i}]")


def assert_same(a, b, *, rtol: float, atol: float, where: str = "result") -> None:
    """Tensors and floats equal within tolerance, everything else exactly, at every depth."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], rtol=rtol, atol=atol, where=f"{where}[{k!r}]")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, rtol=rtol, atol=atol, where=f"{where}[{i}]")
    elif torch.is_tensor(a) or isinstance(a, float):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol, msg=lambda m: f"{where}: {m}")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def compare(name: str, device: str, monkeypatch, tmp_path, *, rtol: float, atol: float) -> None:
    """The case on `device` gives, on the CPU, what it gives with the model on the CPU."""
    on_device = run(name, device, monkeypatch, tmp_path / device)
    on_cpu = run(name, "cpu", monkeypatch, tmp_path / "cpu")
    assert_on_cpu(on_device)
    assert_same(on_device, on_cpu, rtol=rtol, atol=atol)
