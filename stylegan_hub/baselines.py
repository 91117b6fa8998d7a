"""Classical style-transfer methods that a learned style must beat: the quality benchmark runs them on the same data.

- `reinhard_transfer`: Reinhard et al. 2001, each photo's CIELAB channel means and deviations moved to the
  exemplars' (a global colour transfer, no learning);
- `optimize_transfer`: Gatys et al. 2016, each photo optimised pixel by pixel for content and Gram-style losses, here
  in the pretrained discriminator's feature space so it sees exactly what a fine-tune's losses see (slow: one
  optimisation per photo, no model to keep).

Images are float tensors (1, 3, H, W) in [0, 1], as the metrics take them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from skimage.color import lab2rgb, rgb2lab

from . import losses
from .models import StyleDiscriminator
from .models.perceptual import RandomFilterBank


def _lab_pixels(image: torch.Tensor) -> np.ndarray:
    return rgb2lab(image[0].permute(1, 2, 0).clamp(0, 1).double().numpy()).reshape(-1, 3)


def _pooled(maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """Feature maps of different sizes as one (1, C, N, 1) bag of feature vectors, for distribution losses."""
    return torch.cat([m.flatten(2).transpose(0, 1).flatten(1) for m in maps], dim=1)[None, ..., None]


def reinhard_transfer(photo: torch.Tensor, exemplars: Sequence[torch.Tensor]) -> torch.Tensor:
    """The photo with each CIELAB channel shifted and scaled to the mean and deviation of all exemplar pixels."""
    height, width = photo.shape[-2:]
    source = _lab_pixels(photo)
    reference = np.concatenate([_lab_pixels(exemplar) for exemplar in exemplars])
    moved = (source - source.mean(0)) / (source.std(0) + 1e-6) * reference.std(0) + reference.mean(0)
    with warnings.catch_warnings():  # colours moved out of gamut are clipped, as the method does
        warnings.simplefilter("ignore", UserWarning)
        rgb = lab2rgb(moved.reshape(height, width, 3))
    return torch.from_numpy(np.clip(rgb, 0, 1)).permute(2, 0, 1)[None].float()


def optimize_transfer(
    photo: torch.Tensor,
    exemplars: Sequence[torch.Tensor],
    feature_net: StyleDiscriminator,
    style_net: RandomFilterBank | None = None,
    weights: losses.LossWeights | None = None,
    *,
    steps: int = 200,
    learning_rate: float = 0.02,
    content_layers: tuple[int, ...] = (1, 2),
) -> torch.Tensor:
    """Gatys-style transfer: the photo's pixels optimised with Adam, starting from the photo, for the fine-tune's
    content (in `feature_net`), Gram-style (in `style_net`, or `feature_net` without one) and colour losses (same
    weights) against all the exemplars."""
    weights = weights or losses.LossWeights()
    feature_net = feature_net.eval().requires_grad_(False)
    style_features = (style_net or feature_net).features
    photo = photo * 2 - 1
    with torch.no_grad():
        photo_features = feature_net.features(photo)
        exemplar_batch = [exemplar * 2 - 1 for exemplar in exemplars]
        style_targets = losses.style_targets([_pooled(level) for level in zip(*(style_features(e) for e in exemplar_batch))])
    exemplar_pixels = _pooled(exemplar_batch)
    image = photo.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=learning_rate)
    for _ in range(steps):
        features = feature_net.features(image)
        loss = (
            weights.content * losses.content_loss([features[i] for i in content_layers], [photo_features[i] for i in content_layers])
            + weights.style * losses.style_loss(style_features(image), style_targets)
            + weights.color * losses.color_loss(image, exemplar_pixels)
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(-1, 1)
    return ((image.detach() + 1) / 2).clamp(0, 1)
