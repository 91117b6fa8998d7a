"""The perceptual spaces of the losses: a frozen bank of random multi-scale filters for style, and the luminance at
coarse scales for content.

A style loss compares statistics of features, so its feature space must be able to *draw*: optimising pixels until
their statistics match a texture's has to give that texture back. The discriminator's features cannot (noise already
has their statistics; `bench/texture_synthesis.py` measures it), while one layer of random filters of several sizes
on several scales of the image can (Ustyuzhaninov et al. 2017, "What does it take to generate natural textures?";
He et al. 2016 on random-weight networks). It has no training and no third-party weights: the filters come from a
fixed seed, so every machine builds the same bank. The defaults (32 filters of 3, 5 and 7 pixels on four scales) draw
as well as a bank five times as costly (docs/feature-space.md) and keep a fine-tune step cheap.

    scale s, kernel k   avg-pool by s, conv k x k (3 -> width), ReLU   (B, width, H/s, W/s)

`features` returns the maps from fine to coarse; `features_by_scale` joins each scale's kernels into one map, the
vectors a nearest-neighbour style loss compares (a patch of every size at that scale).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..color import luma


class RandomFilterBank(nn.Module):
    """Frozen random filters on an image pyramid. Input (B, 3, H, W) in [-1, 1]."""

    def __init__(self, width: int = 32, kernel_sizes: tuple[int, ...] = (3, 5, 7), scales: tuple[int, ...] = (1, 2, 4, 8), seed: int = 0):
        super().__init__()
        self.kernel_sizes, self.scales = tuple(kernel_sizes), tuple(scales)
        generator = torch.Generator().manual_seed(seed)
        for size in self.kernel_sizes:
            # He initialisation. Filters keep their mean, so their responses carry colour and brightness as well as
            # structure: without it, matched statistics leave the palette free (a grey texture).
            weight = torch.randn(width, 3, size, size, generator=generator) * (2 / (3 * size * size)) ** 0.5
            self.register_buffer(f"weight_{size}", weight)
        self.requires_grad_(False).eval()

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) -> one (B, width, H/s, W/s) map per scale and kernel, fine scales first."""
        maps = []
        for scale in self.scales:
            image = F.avg_pool2d(x, scale) if scale > 1 else x
            for size in self.kernel_sizes:
                padded = F.pad(image, (size // 2,) * 4, mode="reflect")
                maps.append(F.relu(F.conv2d(padded, getattr(self, f"weight_{size}").to(image.dtype))))
        return maps

    def features_by_scale(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) -> one (B, width * len(kernel_sizes), H/s, W/s) map per scale, fine scales first."""
        maps, kernels = self.features(x), len(self.kernel_sizes)
        return [torch.cat(maps[i : i + kernels], dim=1) for i in range(0, len(maps), kernels)]


class LuminancePyramid(nn.Module):
    """A content space that keeps the picture's layout and leaves its fine texture to the style: the luminance
    averaged over `scales`-pixel blocks. Compared after instance normalisation, it holds where things are and how
    they are shaded, not their tone. Features that also see fine texture charge a style for flattening fur into a
    fill: on the cartoon filter's true renderings the discriminator's middle layers cost 0.49 of what another
    photo's content costs 1.86, these 0.13 (docs/benchmark-notes.md). Input (B, 3, H, W) in [-1, 1]."""

    def __init__(self, scales: tuple[int, ...] = (4, 8)):
        super().__init__()
        self.scales = tuple(scales)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) -> one (B, 1, H/s, W/s) luminance map per scale, fine scales first."""
        luminance = luma((x + 1) / 2)
        return [F.avg_pool2d(luminance, scale) for scale in self.scales]
