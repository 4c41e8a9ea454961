"""Data augmentation: random shifts for digits; crops, flips and PCA colour for photos."""

from __future__ import annotations

import torch
from torch import nn


class RandomShift(nn.Module):
    """Move each image of a batch by up to `pixels` in x and y, filling with zeros.

    A 28×28 digit shifted by 2 pixels is a random 28×28 crop of the digit padded to 32×32:
    Krizhevsky's random crops, in the form that suits centred digits.
    """

    def __init__(self, pixels: int = 2) -> None:
        super().__init__()
        if pixels < 0:
            raise ValueError(f"pixels must be 0 or more, not {pixels}")
        self.pixels = pixels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.pixels == 0:
            return images
        single = images.dim() == 3
        x = images.unsqueeze(0) if single else images  # N x C x H x W
        n, _, h, w = x.shape
        p = self.pixels
        padded = nn.functional.pad(x, (p, p, p, p))  # N x C x (H+2p) x (W+2p)
        dy, dx = torch.randint(0, 2 * p + 1, (2, n), device=x.device)
        rows = (torch.arange(h, device=x.device) + dy[:, None])[:, :, None]  # N x H x 1
        cols = (torch.arange(w, device=x.device) + dx[:, None])[:, None, :]  # N x 1 x W
        out = padded[
            torch.arange(n, device=x.device)[:, None, None], :, rows, cols
        ]  # N x H x W x C
        out = out.permute(0, 3, 1, 2)
        return out[0] if single else out

    def extra_repr(self) -> str:
        return f"pixels={self.pixels}"
