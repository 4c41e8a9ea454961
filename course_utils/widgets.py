"""Pickers and explorers. The only module that imports ipywidgets."""

from __future__ import annotations

import ipywidgets as W
import torch
from IPython.display import display
from torch import nn

from . import plots
from .models import activations
from .train import as_tensors


class DigitExplorer(W.VBox):
    """Pick a test digit; see it, the network's ten probabilities and its feature maps.

    Tests drive it from Python: set `.picker.value`, then read `.summary.value`,
    `.probabilities` and `.feature_maps`.
    """

    def __init__(
        self,
        model: nn.Module,
        dataset,
        *,
        layers: tuple[str, ...] = ("features.0", "features.3"),
        index: int = 0,
    ) -> None:
        self.model = model.eval()
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

    @torch.no_grad()
    def _predict(self, i: int) -> torch.Tensor:
        device = next(self.model.parameters()).device
        return torch.softmax(self.model(self.images[i : i + 1].to(device)), 1)[0].cpu()

    def show(self, i: int) -> None:
        """Show test digit `i`."""
        device = next(self.model.parameters()).device
        x = self.images[i : i + 1].to(device)
        self.feature_maps = {
            k: v[0].cpu() for k, v in activations(self.model, x, list(self.layers)).items()
        }
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
        self.output.clear_output(wait=True)
        with self.output:
            display(plots.plot_digit_prediction(self.images[i], self.probabilities, label=label))
            for name, maps in self.feature_maps.items():
                display(plots.plot_feature_maps(maps, title=f"{name} (after the convolution)"))


def digit_explorer(model: nn.Module, dataset, **kwargs) -> DigitExplorer:
    """A DigitExplorer over `dataset` (see DigitExplorer)."""
    return DigitExplorer(model, dataset, **kwargs)
