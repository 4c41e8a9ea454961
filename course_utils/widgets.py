"""Pickers and explorers. The only module that imports ipywidgets.

A face (imports anything below it); nothing imports it but `cu.widgets`, loaded on first use.
Serves notebooks 01-04 and 09, and the predict-then-run questions of 01-09 (`prediction`).

They work with ipywidgets 7.7 (Colab's) and 8.x, and with models on any device: the model stays
where it is, inputs go to it, and what is shown comes back to the CPU.
"""

from __future__ import annotations

import contextlib
import html
from datetime import datetime, timezone

import ipywidgets as W
import torch
from IPython.display import display
from PIL import Image
from torch import nn

from . import anatomy, env, fcn, plots, show
from . import download as dl
from .anatomy import activations
from .augment import PCAColorAugmentation, crop, krizhevsky_square
from .fcn import convolutionize, heatmap
from .images import (
    ImageLoadError,
    check_proportions,
    load_image,
    photo_input,
    sample_images,
    to_tensor,
)
from .train import as_tensors, predict
from .weights import PRETRAINED, classify, pretrained, weights_for

# ipywidgets 7 (Colab ships 7.7.1) and 8 differ in FileUpload's value; see uploaded_files().
IPYWIDGETS_MAJOR = int(W.__version__.split(".")[0])


class _Friendly:
    """Where widgets can't render (a RISE slide, a static copy, a kernel without the widget
    manager), the front end shows the widget's text form: a sentence, never a repr of children.

    ipywidgets 7 and 8 both put `repr(widget)` in the display's text/plain (cut at 110
    characters), so `__repr__` is the one place that works everywhere.
    """

    what = "Interactive explorer"

    def __repr__(self) -> str:
        return f"{self.what}: run this notebook in JupyterLab or Colab to use it."


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """(name, content) of each file in a FileUpload's value, in either ipywidgets' format.

    ipywidgets 8: a tuple of dicts with "name" and "content" (a memoryview).
    ipywidgets 7: a dict from file name to {"metadata": {"name": ...}, "content": bytes}.
    """
    if isinstance(value, dict):
        return [
            (item.get("metadata", {}).get("name", name), bytes(item["content"]))
            for name, item in value.items()
        ]
    return [(item.get("name", "upload"), bytes(item["content"])) for item in value or ()]


def send_upload(upload: W.FileUpload, data: bytes, name: str) -> None:
    """Do to `upload` what the browser does when a file is chosen (for tests and scripts)."""
    if IPYWIDGETS_MAJOR < 8:  # the front end sets metadata and data, then bumps the counter
        upload.metadata = [{"name": name, "type": "", "size": len(data), "lastModified": 0}]
        upload.data = [data]
        upload._counter += 1
    else:
        upload.value = (
            {
                "name": name,
                "type": "",
                "size": len(data),
                "content": memoryview(data),
                "last_modified": datetime.now(timezone.utc),
            },
        )


def _replace(output: W.Output, *figures) -> None:
    """Show `figures` in `output` in place of what it showed (no flicker: wait=True)."""
    output.clear_output(wait=True)
    with output:
        for figure in figures:
            display(figure)


class DigitExplorer(_Friendly, W.VBox):
    """Pick a test digit; see it, the network's ten probabilities and its feature maps.

    Tests drive it from Python: set `.picker.value`, then read `.summary.value`,
    `.probabilities` and `.feature_maps`.
    """

    what = "Digit explorer"

    def __init__(
        self,
        model: nn.Module,
        dataset,
        *,
        layers: tuple[str, ...] = ("features.0", "features.3"),
        index: int = 0,
    ) -> None:
        self.model = model
        self.images, self.labels = as_tensors(dataset, "digit set")
        self.layers = layers
        n = len(self.labels)
        self.picker = W.BoundedIntText(
            value=index, min=0, max=n - 1, description="test digit", layout=W.Layout(width="180px")
        )
        self.slider = W.IntSlider(
            value=index, min=0, max=n - 1, readout=False, layout=W.Layout(width="360px")
        )
        W.jslink((self.picker, "value"), (self.slider, "value"))
        self.mistakes_only = W.Checkbox(
            value=False, description="step through mistakes only", indent=False
        )
        self.next_button = W.Button(
            description="next", icon="forward", layout=W.Layout(width="90px")
        )
        self.summary = W.HTML()
        self.output = W.Output()
        self.probabilities = torch.empty(0)
        self.feature_maps: dict[str, torch.Tensor] = {}
        self.picker.observe(self._on_change, names="value")
        self.next_button.on_click(self._next)
        controls = W.HBox([self.picker, self.slider, self.next_button, self.mistakes_only])
        super().__init__([controls, self.summary, self.output])
        self.show(index)

    def _on_change(self, change) -> None:
        self.show(change["new"])

    def _next(self, _button=None) -> None:
        i = self.picker.value
        n = len(self.labels)
        for step in range(1, n + 1):
            j = (i + step) % n
            if not self.mistakes_only.value or self._predict(j).argmax().item() != self.labels[j]:
                self.picker.value = j
                return

    def _predict(self, i: int) -> torch.Tensor:
        return predict(self.model, self.images[i : i + 1])[0]

    def show(self, i: int) -> None:
        """Show test digit `i`."""
        maps = activations(self.model, self.images[i : i + 1], list(self.layers))
        self.feature_maps = {name: m[0] for name, m in maps.items()}
        self.probabilities = self._predict(i)
        label = int(self.labels[i])
        guess = int(self.probabilities.argmax())
        verdict = "right" if guess == label else "wrong"
        color = "#007a4d" if guess == label else "#c00000"
        self.summary.value = (
            f"<b>digit {i}</b>: true label <b>{label}</b>, network says <b>{guess}</b> "
            f"with {self.probabilities[guess]:.1%} "
            f"(<span style='color:{color}'>{verdict}</span>)"
        )
        _replace(
            self.output,
            plots.plot_digit_prediction(self.images[i], self.probabilities, label=label),
            *(
                plots.plot_feature_maps(maps, title=f"{name} (after the convolution)")
                for name, maps in self.feature_maps.items()
            ),
        )


def digit_explorer(model: nn.Module, dataset, **kwargs) -> DigitExplorer:
    """A DigitExplorer over `dataset` (see DigitExplorer)."""
    return DigitExplorer(model, dataset, **kwargs)


def _error(err: BaseException | str) -> str:
    """An error as the red line a widget shows in its status."""
    return f"<span style='color:#c00000'>{html.escape(str(err))}</span>"


def _hint(model: str) -> str:
    """dl.prefetch_hint for `model`, for a widget's HTML."""
    return html.escape(dl.prefetch_hint(model)).replace("`", "")


@contextlib.contextmanager
def _quietly(widget: W.Widget, handler, name: str = "value"):
    """Set a control from code without running its handler."""
    widget.unobserve(handler, names=name)
    try:
        yield
    finally:
        widget.observe(handler, names=name)


class _Watched:
    """An explorer's controls: when one changes, `action` runs; on an error the controls go back
    to their last working values, the last good result is shown again, and the status says why."""

    status: W.HTML

    def _watch(self, controls: list, action) -> None:
        self._controls, self._action = controls, action
        for control in controls:
            control.observe(self._changed, names="value")
        self._good: list | None = None  # the last choice that worked; None: none has yet
        try:
            action()
        except Exception as err:  # noqa: BLE001 - e.g. a damaged weights file: say so
            self.status.value = _error(f"{err} Pick another choice above.")
            return
        self._good = [c.value for c in controls]

    def _changed(self, _change=None) -> None:
        try:
            self._action()
        except Exception as err:  # noqa: BLE001 - shown in the widget, which stays usable
            if self._good is None:  # nothing has worked yet: nothing to go back to
                self.status.value = _error(f"{err} Pick another choice above.")
                return
            for control, value in zip(self._controls, self._good, strict=True):
                with _quietly(control, self._changed):
                    control.value = value
            back = ", ".join(str(v) for v in self._good)
            try:
                self._action()  # the last good result again
            except Exception as again:  # noqa: BLE001 - it worked before; say both
                self.status.value = _error(
                    f"{err} The last choice that worked ({back}) now fails too: {again}"
                )
            else:
                self.status.value = _error(f"{err} Back to the last choice that worked ({back}).")
            return
        self._good = [c.value for c in self._controls]


class ImagePicker(_Friendly, W.VBox):
    """The sample photos in a dropdown, plus a file upload; `.image` is the chosen RGB image.

    A file that can't be read, an image of unusable proportions, or an error while the
    explorers show a new image: each leaves the last good image in place (the explorers are
    shown it again) and says why in `.status`.
    """

    what = "Image picker"

    def __init__(self, value: str = "cat") -> None:
        self.samples = sample_images()
        self.dropdown = W.Dropdown(options=list(self.samples), value=value, description="image")
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="upload")
        self.status = W.HTML()
        self.image: Image.Image = load_image(self.samples[value])
        self.name, self.sample = value, value  # sample: None while an upload is shown
        self._callbacks: list = []
        self.dropdown.observe(self._on_dropdown, names="value")
        self.upload.observe(self._on_upload, names="value")
        super().__init__([W.HBox([self.dropdown, self.upload]), self.status])

    def on_change(self, callback) -> None:
        """Call `callback(image)` whenever another image is chosen."""
        self._callbacks.append(callback)

    def _set(self, image: Image.Image, name: str, sample: str | None) -> None:
        previous = (self.image, self.name, self.sample)
        self.image, self.name, self.sample = image, name, sample
        with _quietly(self.dropdown, self._on_dropdown):
            self.dropdown.value = sample  # None while an upload is shown
        try:
            for callback in self._callbacks:
                callback(image)
        except Exception as err:  # noqa: BLE001 - shown in the widget; the last image returns
            self.image, self.name, self.sample = previous
            with _quietly(self.dropdown, self._on_dropdown):
                self.dropdown.value = self.sample
            for callback in self._callbacks:
                callback(self.image)
            self.status.value = _error(
                f"{name} could not be shown ({show.short_error(err)}); {self.name} is shown again."
            )
            return
        self.status.value = f"{html.escape(name)}: {image.width} × {image.height} pixels"

    def _on_dropdown(self, change) -> None:
        if change["new"] is not None:
            self._set(load_image(self.samples[change["new"]]), change["new"], change["new"])

    def _on_upload(self, change) -> None:
        for name, content in uploaded_files(change["new"]):
            try:
                image = check_proportions(load_image(content, name=name), repr(name))
            except ImageLoadError as err:
                self.status.value = _error(err)
                return
            self._set(image, name, None)

    def load(self, data: bytes, name: str = "upload.png") -> None:
        """Upload `data` as if the user had chosen the file `name` (for tests and scripts)."""
        send_upload(self.upload, data, name)


class AugmentationExplorer(_Friendly, W.VBox):
    """AlexNet's augmentations by hand: crop position in the central 256 square, flip, PCA α's."""

    what = "Augmentation explorer"

    def __init__(self, image: str = "cat", *, size: int = 224, resize: int = 256) -> None:
        self.size, self.resize = size, resize
        self.picker = ImagePicker(image)
        self.pca = PCAColorAugmentation()
        slider = dict(continuous_update=False, layout=W.Layout(width="320px"))
        self.top = W.IntSlider(value=16, min=0, max=32, description="crop top", **slider)
        self.left = W.IntSlider(value=16, min=0, max=32, description="crop left", **slider)
        self.flip = W.Checkbox(value=False, description="mirror")
        self.alphas = [
            W.FloatSlider(
                value=0.0, min=-1.0, max=1.0, step=0.05, description=f"α{i + 1}", **slider
            )
            for i in range(3)
        ]
        self.summary = W.HTML()
        self.output = W.Output()
        self.result = torch.empty(0)
        for control in [self.top, self.left, self.flip, *self.alphas]:
            control.observe(lambda _change: self.update(), names="value")
        self.picker.on_change(lambda _image: self.update())
        controls = W.HBox([W.VBox([self.top, self.left, self.flip]), W.VBox(self.alphas)])
        super().__init__([self.picker, controls, self.summary, self.output])
        self.update()

    def update(self) -> None:
        """Recompute the augmented crop and show it beside the resized original."""
        resized = krizhevsky_square(to_tensor(self.picker.image), self.resize)
        room_y, room_x = resized.shape[-2] - self.size, resized.shape[-1] - self.size
        self.top.max, self.left.max = max(room_y, 0), max(room_x, 0)
        top, left = min(self.top.value, self.top.max), min(self.left.value, self.left.max)
        cropped = crop(resized, top, left, self.size, flip=self.flip.value)
        alphas = torch.tensor([a.value for a in self.alphas])
        self.result = self.pca.apply(cropped, alphas)
        offset = self.pca.offset(alphas)
        self.summary.value = (
            f"crop at ({top}, {left}) of {resized.shape[-2]}×{resized.shape[-1]}"
            f"{', mirrored' if self.flip.value else ''}; RGB offset "
            f"({offset[0]:+.3f}, {offset[1]:+.3f}, {offset[2]:+.3f})"
        )
        _replace(self.output, plots.plot_augmentation(resized, self.result, top, left, self.size))


def augmentation_explorer(image: str = "cat") -> AugmentationExplorer:
    """An AugmentationExplorer starting on one of the sample photos."""
    return AugmentationExplorer(image)


class ClassifierExplorer(_Friendly, _Watched, W.VBox):
    """Pick a photo and a pretrained model; see it beside its top 15 classes, as on the slide.

    Models that were loaded are kept, so switching back is instant. Tests read
    `.prediction`, `.table.value`, `.figure` and `.status.value`.
    """

    what = "Classifier explorer"

    def __init__(self, model: str = "resnet50", image: str = "cat", *, k: int = 15) -> None:
        self.k = k
        self.picker = ImagePicker(image)
        labels = [
            (f"{name} ({weights_for(name).meta['_file_size']:.0f} MB)", name) for name in PRETRAINED
        ]
        self.model_picker = W.Dropdown(options=labels, value=model, description="model")
        self.status = W.HTML()
        self.table = W.HTML()
        self.output = W.Output()
        self.loaded: dict[str, nn.Module] = {}
        self.prediction = None
        self.picker.on_change(lambda _image: self.update())
        super().__init__(
            [
                W.HBox([self.picker, self.model_picker]),
                self.status,
                W.HBox([self.table, self.output]),
            ]
        )
        self._watch([self.model_picker], self.update)

    def model(self, name: str) -> nn.Module:
        """The pretrained model `name`, loaded once onto the fastest device and kept."""
        if name not in self.loaded:  # missing weights: the widget says so itself
            self.loaded[name] = pretrained(name, report=False).to(env.device())
        return self.loaded[name]

    def update(self) -> None:
        """Classify the current image with the current model."""
        name = self.model_picker.value
        model = self.model(name)  # a damaged cache file raises: _Watched shows it
        self.prediction = classify(model, self.picker.image, k=self.k)
        warning = (
            ""
            if model.is_pretrained
            else " <b style='color:#c00000'>untrained weights: no pretrained weights are "
            f"cached, so these scores mean nothing ({_hint(name)})</b>"
        )
        self.status.value = f"{html.escape(self.picker.name)} through {name}.{warning}"
        rows = "".join(
            f"<tr><td style='text-align:right'>{p:.4f}</td><td>{html.escape(c)}</td></tr>"
            for c, p in self.prediction.top
        )
        caption = "" if model.is_pretrained else "<caption>untrained weights</caption>"
        self.table.value = f"<table>{caption}{rows}</table>"
        # the photo beside its scores; the chart shows the same k classes as the table
        self.figure = plots.plot_top_predictions(self.prediction, k=self.k, image=self.picker.image)
        _replace(self.output, self.figure)


def classifier_explorer(model: str = "resnet50", image: str = "cat") -> ClassifierExplorer:
    """A ClassifierExplorer starting on `model` and `image`."""
    return ClassifierExplorer(model, image)


class HeatmapExplorer(_Friendly, _Watched, W.VBox):
    """Where in a photo does a network see a class? Pick image, model, class and scale."""

    what = "Heatmap explorer"

    MODELS = ("alexnet", "vgg16", "vgg19")

    def __init__(self, model: str = "alexnet", image: str = "cat", *, k: int = 5) -> None:
        self.k = k
        self.picker = ImagePicker(image)
        self.model_picker = W.Dropdown(options=self.MODELS, value=model, description="model")
        self.scale = W.SelectionSlider(
            options=[224, 288, 352, 416, 480],
            value=352,
            description="short side",
            continuous_update=False,
        )
        self.class_picker = W.Dropdown(description="class", layout=W.Layout(width="320px"))
        self.status = W.HTML()
        self.output = W.Output()
        self.networks: dict[str, tuple[nn.Module, nn.Module]] = {}
        self.probabilities = torch.empty(0)
        self.picker.on_change(lambda _image: self.compute())
        self.class_picker.observe(lambda _change: self.draw(), names="value")
        super().__init__(
            [
                self.picker,
                W.HBox([self.model_picker, self.scale]),
                self.class_picker,
                self.status,
                self.output,
            ]
        )
        self._watch([self.model_picker, self.scale], self.compute)

    def network(self, name: str) -> tuple[nn.Module, nn.Module]:
        """The pretrained model and its convolutionized twin, built once and kept."""
        if name not in self.networks:
            model = pretrained(name, report=False).to(env.device())
            self.networks[name] = (model, convolutionize(model, (3, 224, 224)))
        return self.networks[name]

    def compute(self) -> None:
        """Run the convolutionized network once over the photo at the chosen scale."""
        model, fcn = self.network(self.model_picker.value)
        self.input = photo_input(self.picker.image, self.scale.value, model.weights)
        self.probabilities = heatmap(fcn, self.input)  # 1000 x h x w
        best = self.probabilities.amax(dim=(1, 2)).topk(self.k)
        classes = model.weights.meta["categories"]
        options = [
            (f"{classes[i]} (up to {p:.1%})", i)
            for p, i in zip(best.values.tolist(), best.indices.tolist(), strict=True)
        ]
        self.class_picker.unobserve_all("value")
        self.class_picker.options = options
        self.class_picker.value = options[0][1]
        self.class_picker.observe(lambda _change: self.draw(), names="value")
        untrained = (
            ""
            if model.is_pretrained
            else (
                " <b style='color:#c00000'>untrained weights: these maps mean nothing "
                f"({_hint(self.model_picker.value)})</b>"
            )
        )
        h, w = self.probabilities.shape[1:]
        self.status.value = (
            f"{html.escape(self.picker.name)} at {self.input.shape[1]}×{self.input.shape[2]}: "
            f"{h}×{w} positions from one pass of {self.model_picker.value}.{untrained}"
        )
        self.draw()

    def draw(self) -> None:
        """Overlay the chosen class's map on the photo."""
        model, _ = self.network(self.model_picker.value)
        c = self.class_picker.value
        name = model.weights.meta["categories"][c]
        label = "" if model.is_pretrained else " (UNTRAINED WEIGHTS)"
        overlay = plots.plot_overlay(
            self.picker.image,
            self.probabilities[c],
            title=f"{name}{label}",
            untrained=not model.is_pretrained,
            expected="the picked class is bright where the photo shows it",
        )
        _replace(self.output, overlay)


def heatmap_explorer(model: str = "alexnet", image: str = "cat") -> HeatmapExplorer:
    """A HeatmapExplorer starting on `model` and `image`."""
    return HeatmapExplorer(model, image)


def mnist_style(ink: torch.Tensor) -> torch.Tensor:
    """A drawing (H×W, ink in [0, 1]) as MNIST prepares digits: 1×28×28.

    As LeCun et al. did: the digit's bounding box scaled to fit 20×20 (keeping its shape), then
    placed in a 28×28 image so that its centre of mass is at the centre.
    """
    rows = ink.sum(1).nonzero()
    cols = ink.sum(0).nonzero()
    if len(rows) == 0:
        return torch.zeros(1, 28, 28)
    box = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = box.shape
    scale = 20 / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = nn.functional.interpolate(box[None, None], size=size, mode="area")[0, 0]
    out = torch.zeros(28, 28)
    ys, xs = torch.meshgrid(torch.arange(size[0]), torch.arange(size[1]), indexing="ij")
    total = small.sum().clamp_min(1e-6)
    cy, cx = float((ys * small).sum() / total), float((xs * small).sum() / total)
    top = min(max(round(14 - cy - 0.5), 0), 28 - size[0])
    left = min(max(round(14 - cx - 0.5), 0), 28 - size[1])
    out[top : top + size[0], left : left + size[1]] = small
    return out.clamp(0, 1)[None]


class DrawingPad(_Friendly, W.HBox):
    """Draw a digit with the mouse; LeNet5's ten probabilities follow as you draw.

    Tests and scripts can draw too: `pad.draw([(x0, y0), (x1, y1), ...])` is one stroke.
    """

    what = "Drawing pad"

    SIZE = 280  # pixels on screen: ten per MNIST pixel
    PEN = 22  # stroke width, about two MNIST pixels, like MNIST's pen

    def __init__(self, model: nn.Module) -> None:
        from ipycanvas import Canvas

        self.model = model
        self.canvas = Canvas(
            width=self.SIZE,
            height=self.SIZE,
            layout=W.Layout(
                width=f"{self.SIZE}px", height=f"{self.SIZE}px", border="1px solid #888"
            ),
        )
        self.ink = torch.zeros(self.SIZE, self.SIZE)
        self.digit = torch.zeros(1, 28, 28)
        self.probabilities = torch.full((10,), 0.1)
        self.summary = W.HTML("Draw a digit in the black square.")
        self.bars = W.HTML()
        self.clear_button = W.Button(description="clear", icon="eraser")
        self._last: tuple[float, float] | None = None
        self._clear_canvas()
        self.canvas.on_mouse_down(self._down)
        self.canvas.on_mouse_move(self._move)
        self.canvas.on_mouse_up(self._up)
        self.canvas.on_mouse_out(self._up)
        self.clear_button.on_click(lambda _b: self.clear())
        super().__init__(
            [W.VBox([self.canvas, self.clear_button]), W.VBox([self.summary, self.bars])]
        )
        self._show()

    def _clear_canvas(self) -> None:
        self.canvas.fill_style = "black"
        self.canvas.fill_rect(0, 0, self.SIZE, self.SIZE)
        self.canvas.stroke_style = "white"
        self.canvas.line_width = self.PEN
        self.canvas.line_cap = "round"

    def clear(self) -> None:
        """Wipe the pad."""
        self.ink.zero_()
        self._clear_canvas()
        self.digit = torch.zeros(1, 28, 28)
        self.probabilities = torch.full((10,), 0.1)
        self.summary.value = "Draw a digit in the black square."
        self._show()

    def _stamp(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Ink a thick segment into the Python-side copy of the drawing."""
        steps = int(max(abs(x1 - x0), abs(y1 - y0)) / 2) + 1
        ys, xs = torch.meshgrid(torch.arange(self.SIZE), torch.arange(self.SIZE), indexing="ij")
        r = self.PEN / 2
        for t in torch.linspace(0, 1, steps).tolist():
            cx, cy = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
            lo_y, hi_y = max(int(cy - r), 0), min(int(cy + r) + 2, self.SIZE)
            lo_x, hi_x = max(int(cx - r), 0), min(int(cx + r) + 2, self.SIZE)
            patch = (ys[lo_y:hi_y, lo_x:hi_x] - cy) ** 2 + (xs[lo_y:hi_y, lo_x:hi_x] - cx) ** 2
            self.ink[lo_y:hi_y, lo_x:hi_x][patch <= r * r] = 1.0

    def _down(self, x: float, y: float) -> None:
        self._last = (x, y)
        self._move(x, y)

    def _move(self, x: float, y: float) -> None:
        if self._last is None:
            return
        x0, y0 = self._last
        self.canvas.stroke_line(x0, y0, x, y)
        self._stamp(x0, y0, x, y)
        self._last = (x, y)

    def _up(self, x: float, y: float) -> None:
        if self._last is not None:
            self._move(x, y)
            self._last = None
            self.predict()

    def draw(self, points: list[tuple[float, float]]) -> None:
        """One stroke through `points` (canvas pixels), as the mouse would draw it."""
        self._down(*points[0])
        for p in points[1:]:
            self._move(*p)
        self._up(*points[-1])

    def predict(self) -> None:
        """Classify what is drawn now."""
        self.digit = mnist_style(self.ink)
        self.probabilities = predict(self.model, self.digit[None])[0]
        guess = int(self.probabilities.argmax())
        self.summary.value = f"LeNet5 says <b>{guess}</b> with {self.probabilities[guess]:.1%}"
        self._show()

    def _show(self) -> None:
        guess = int(self.probabilities.argmax())
        rows = "".join(
            f"<div style='display:flex;align-items:center;gap:6px;font-family:monospace'>"
            f"<span>{d}</span><div style='background:{'#009e73' if d == guess else '#999'};"
            f"height:14px;width:{p * 220:.0f}px'></div><span>{p:.1%}</span></div>"
            for d, p in enumerate(self.probabilities.tolist())
        )
        self.bars.value = rows


def drawing_pad(model: nn.Module) -> DrawingPad:
    """A DrawingPad for a trained LeNet5."""
    return DrawingPad(model)


class FamilyExplorer(_Friendly, _Watched, W.VBox):
    """Pick a family and a test image; see its prediction, its class activation map (for the
    families with a global-average-pooling head) and the maps of its last convolution.

    `models` maps family names to trained networks (or to the results of race.race, whose
    `.model` is used). Tests drive it from Python: set `.family.value` or `.index.value`, then
    read `.summary.value`, `.probabilities`, `.cam` and `.maps`.
    """

    what = "Family explorer"

    def __init__(self, models: dict, dataset, *, family: str | None = None, index: int = 0):
        self.models = {name: getattr(m, "model", m) for name, m in models.items()}
        if not self.models:
            raise ValueError("FamilyExplorer needs at least one trained network")
        self.images, self.labels = as_tensors(dataset, "test set")
        self.classes = list(getattr(dataset, "classes", None) or plots.DIGITS)
        self._guesses: dict[str, torch.Tensor] = {}
        n = len(self.labels)
        if family is not None:  # names are case-insensitive, as everywhere in families
            known = {name.lower(): name for name in self.models}
            if str(family).strip().lower() not in known:
                raise ValueError(
                    f"Unknown family {family!r}: this explorer has {', '.join(self.models)}."
                )
            family = known[str(family).strip().lower()]
        self.family = W.Dropdown(
            options=list(self.models), value=family or next(iter(self.models)), description="family"
        )
        self.index = W.BoundedIntText(
            value=index, min=0, max=n - 1, description="test image", layout=W.Layout(width="190px")
        )
        self.next_mistake = W.Button(description="next mistake", icon="forward")
        self.next_mistake.on_click(self._next_mistake)
        self.summary = W.HTML()
        self.status = W.HTML()
        self.output = W.Output()
        self.probabilities = torch.empty(0)
        self.cam: torch.Tensor | None = None
        self.maps = torch.empty(0)
        controls = W.HBox([self.family, self.index, self.next_mistake])
        super().__init__([controls, self.summary, self.status, self.output])
        self._watch([self.family, self.index], self.update)

    def _predictions(self, name: str) -> torch.Tensor:
        """The family's predicted class for every image of the set (computed once)."""
        if name not in self._guesses:
            self._guesses[name] = predict(self.models[name], self.images).argmax(1)
        return self._guesses[name]

    def _next_mistake(self, _button=None) -> None:
        wrong = (self._predictions(self.family.value) != self.labels).nonzero()
        after = [int(i) for i in wrong.flatten() if int(i) > self.index.value]
        if not len(wrong):
            self.status.value = f"{html.escape(self.family.value)} makes no mistake on this set."
            return
        self.index.value = after[0] if after else int(wrong[0])

    def update(self) -> None:
        """Show the chosen family on the chosen image."""
        name, i = self.family.value, self.index.value
        model = self.models[name]
        x = self.images[i : i + 1]
        probabilities = predict(model, x)[0]
        layer = anatomy.last_conv(model)
        maps = activations(model, x, [layer])[layer][0]
        guess, label = int(probabilities.argmax()), int(self.labels[i])
        cam = None
        if fcn.has_gap_head(model):
            size = tuple(x.shape[-2:])
            cam = fcn.class_activation_maps(model, x, size=size)[0, guess]
        self.probabilities, self.cam, self.maps = probabilities, cam, maps
        color = "#007a4d" if guess == label else "#c00000"
        self.summary.value = (
            f"<b>{html.escape(name)}</b> on test image {i}: says "
            f"<b style='color:{color}'>{html.escape(self.classes[guess])}</b> with "
            f"{probabilities[guess]:.1%}; true label <b>{html.escape(self.classes[label])}</b>"
            + ("" if cam is not None else " (no GAP head, so no class activation map)")
        )
        self.status.value = ""
        _replace(
            self.output,
            plots.plot_family_view(
                self.images[i], probabilities, maps, cam=cam, label=label, name=name,
                classes=self.classes,
            ),
        )  # fmt: skip


def family_explorer(models: dict, dataset, **kwargs) -> FamilyExplorer:
    """A FamilyExplorer over `dataset` (see FamilyExplorer)."""
    return FamilyExplorer(models, dataset, **kwargs)


class Prediction(_Friendly, W.RadioButtons):
    """A choice that commits a prediction before the cell that measures it; nothing is chosen
    at first. Pass it (or its `.value`) to `cu.exercises.check`, which reads its value."""

    what = "A choice of prediction"


def prediction(options, description: str = "Your prediction") -> Prediction:
    """A choice among `options`, none chosen yet; works with ipywidgets 7.7 and 8."""
    return Prediction(
        options=list(options),
        value=None,
        description=description,
        style={"description_width": "initial"},
    )
