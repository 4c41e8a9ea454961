"""Data augmentation: random shifts for digits; crops, flips and PCA colour for photos.

A tool (imports anatomy and images). Home of notebook 02 (AlexNet's augmentation: 256→224 crops
and flips, PCA colour, ten-crop averaging); 01 uses RandomShift, the digits' augmentation that fit
applies.
"""

from __future__ import annotations

import torch
from PIL import Image
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from . import anatomy
from .images import to_tensor


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
        shifts = torch.randint(0, 2 * p + 1, (2, n), device=x.device)
        dy, dx = shifts[0], shifts[1]  # (not unbind: the lazy device test mishandles it)
        rows = (torch.arange(h, device=x.device) + dy[:, None])[:, :, None]  # N x H x 1
        cols = (torch.arange(w, device=x.device) + dx[:, None])[:, None, :]  # N x 1 x W
        out = padded[
            torch.arange(n, device=x.device)[:, None, None], :, rows, cols
        ]  # N x H x W x C
        out = out.permute(0, 3, 1, 2)
        return out[0] if single else out

    def extra_repr(self) -> str:
        return f"pixels={self.pixels}"


# ImageNet's RGB pixel covariance (pixels in [0, 1]), as used for AlexNet-style "lighting"
# augmentation (Krizhevsky et al. 2012; the values of fb.resnet.torch). Eigenvectors are columns.
IMAGENET_PCA_EIGENVALUES = torch.tensor([0.2175, 0.0188, 0.0045])
IMAGENET_PCA_EIGENVECTORS = torch.tensor(
    [
        [-0.5675, 0.7192, 0.4009],
        [-0.5808, -0.0045, -0.8140],
        [-0.5836, -0.6948, 0.4203],
    ]
)


def _pixels(image) -> torch.Tensor:
    x = to_tensor(image)
    return x.reshape(-1, 3, x.shape[-2] * x.shape[-1]).transpose(1, 2).reshape(-1, 3)  # P x 3


def pca_colors(images) -> tuple[torch.Tensor, torch.Tensor]:
    """The 3×3 PCA of pixel colours: eigenvalues (largest first) and eigenvectors (columns).

    Each eigenvector's sign is chosen to point the same way as ImageNet's, so they compare.
    """
    if isinstance(images, Image.Image | torch.Tensor):
        images = [images]
    pixels = torch.cat([_pixels(img) for img in images])  # P x 3
    cov = torch.cov(pixels.T.double())
    values, vectors = torch.linalg.eigh(cov)
    values, vectors = values.flip(0), vectors.flip(1)  # largest first
    signs = torch.sign((vectors * IMAGENET_PCA_EIGENVECTORS.double()).sum(0))
    vectors = vectors * torch.where(signs == 0, 1.0, signs)
    return values.float(), vectors.float()


class PCAColorAugmentation(v2.Transform):
    """Krizhevsky's colour augmentation: add Σ αᵢ λᵢ pᵢ to every pixel, αᵢ ~ N(0, alpha_std²).

    Works on one image (C×H×W) or a batch (N×C×H×W, one offset per image), float in [0, 1]
    (uint8 tensors and PIL images are converted), alone or inside a transforms.v2 pipeline.
    """

    _transformed_types = (torch.Tensor, Image.Image)

    def __init__(
        self,
        alpha_std: float = 0.1,
        eigenvalues: torch.Tensor | None = None,
        eigenvectors: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if alpha_std < 0:
            raise ValueError(f"alpha_std must be 0 or more, not {alpha_std}")
        self.alpha_std = alpha_std
        values = IMAGENET_PCA_EIGENVALUES if eigenvalues is None else eigenvalues
        vectors = IMAGENET_PCA_EIGENVECTORS if eigenvectors is None else eigenvectors
        self.eigenvalues = torch.as_tensor(values, dtype=torch.float32)
        self.eigenvectors = torch.as_tensor(vectors, dtype=torch.float32)
        if self.eigenvalues.shape != (3,) or self.eigenvectors.shape != (3, 3):
            raise ValueError("eigenvalues must have shape (3,) and eigenvectors (3, 3)")

    def offset(self, alphas: torch.Tensor) -> torch.Tensor:
        """The RGB offsets for given α's: (..., 3) -> (..., 3), p · (α ⊙ λ)."""
        return (alphas * self.eigenvalues) @ self.eigenvectors.T

    def apply(self, image, alphas) -> torch.Tensor:
        """Add the offset of these α's (3, or N×3 for a batch) to the image."""
        x = to_tensor(image)
        offsets = self.offset(torch.as_tensor(alphas, dtype=torch.float32))
        return x + offsets.to(x.device).reshape(*offsets.shape[:-1], 3, 1, 1)

    def transform(self, inpt, params):
        if isinstance(inpt, tv_tensors.BoundingBoxes | tv_tensors.Mask):
            return inpt
        x = to_tensor(inpt)
        batch = x.shape[:-3]  # () for one image, (N,) for a batch
        alphas = torch.randn(*batch, 3) * self.alpha_std
        out = self.apply(x, alphas)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out

    _transform = transform  # the name torchvision before 0.21 calls

    def extra_repr(self) -> str:
        return f"alpha_std={self.alpha_std}"


def krizhevsky_square(image, resize: int = 256):
    """AlexNet's preparation of every image (Krizhevsky et al. 2012, §2): the short side to 256,
    then the central 256×256 square. Training crops and test crops are both taken from it."""
    return F.center_crop(F.resize(image, resize, antialias=True), [resize, resize])


def krizhevsky_crops(size: int = 224, resize: int = 256) -> v2.Compose:
    """AlexNet's training augmentation (§4.1): a random 224 crop of the 256 square, mirrored or not.

    (256 − 224)² positions × 2 mirrors: the paper's "factor of 2048" (33² × 2 counting both ends).
    """
    return v2.Compose(
        [
            v2.Resize(resize),
            v2.CenterCrop(resize),
            v2.RandomCrop(size),
            v2.RandomHorizontalFlip(),
        ]
    )


def crop(image, top: int, left: int, size: int = 224, *, flip: bool = False):
    """One of the crops krizhevsky_crops draws from, chosen by hand."""
    out = F.crop(image, top, left, size, size)
    return F.horizontal_flip(out) if flip else out


def ten_crop_predict(
    model: nn.Module, image: torch.Tensor, *, size: int = 224, flips: bool = True
) -> torch.Tensor:
    """Mean softmax over the ten crops (4 corners, centre, and their mirrors) of `image`.

    `image` is C×H×W (or N×C×H×W), already preprocessed: nothing is resized or normalised.
    With flips=False only the five unmirrored crops are averaged (for digits, say).
    """
    crops = F.ten_crop(image, [size, size])  # 10 tensors: corners and centre, then mirrored
    batch = torch.stack(crops[:10] if flips else crops[:5])  # K x (N x) C x size x size
    k = batch.shape[0]
    with anatomy.evaluating(model) as dev:
        logits = model(batch.reshape(-1, *batch.shape[-3:]).to(dev))
        probs = torch.softmax(logits, dim=-1).reshape(k, *batch.shape[1:-3], -1)
        return probs.mean(0).cpu()
