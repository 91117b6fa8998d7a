"""The style encoder: one picture (or a few) of a style -> a style code the generator is conditioned on.

Layout (C = channels, input fitted to ENCODER_SIDE x ENCODER_SIDE):

    level i   stride-2 conv, C*2**min(i, 2) channels   (B, C_i, S/2**(i+1), S/2**(i+1)) for i = 0..3
    stats     each level's per-channel mean and standard deviation over the picture (B, 2 * sum C_i)
    head      MLP -> style_dim                         (B, style_dim)

Only pooled statistics reach the code (as in AdaIN-family encoders), so it says how the picture is drawn - palette,
contrast, strokes and lines at four scales - and not where things are in it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ENCODER_SIDE = 256
"""Style pictures are encoded at this side: a filled square crop, so marks are measured at the scale the style
model is trained and used at (a 256-px picture's strokes)."""


def fit_style_picture(picture: torch.Tensor, side: int = ENCODER_SIDE) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, 3, side, side): short side scaled to `side` (antialiased), centre-cropped."""
    height, width = picture.shape[-2:]
    scale = side / min(height, width)
    size = (max(side, round(height * scale)), max(side, round(width * scale)))
    if size != (height, width):
        picture = F.interpolate(picture, size=size, mode="bilinear", antialias=True, align_corners=False)
    top, left = (size[0] - side) // 2, (size[1] - side) // 2
    return picture[..., top : top + side, left : left + side]


class StyleEncoder(nn.Module):
    def __init__(self, channels: int, style_dim: int, levels: int = 4):
        super().__init__()
        widths = [channels * 2 ** min(i, 2) for i in range(levels)]
        self.levels = nn.ModuleList(
            nn.Conv2d(c_in, c_out, 3, stride=2, padding=1) for c_in, c_out in zip([3, *widths[:-1]], widths)
        )
        hidden = 4 * style_dim
        self.head = nn.Sequential(nn.Linear(2 * sum(widths), hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, style_dim))

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        # picture: (B, 3, S, S) in [-1, 1]
        h, stats = picture, []
        for level in self.levels:
            h = F.leaky_relu(level(h), 0.2)
            stats += [h.mean(dim=(2, 3)), h.std(dim=(2, 3))]
        return self.head(torch.cat(stats, dim=1))  # (B, style_dim)
