"""Colour spaces of image tensors (B, 3, ...): inference keeps a photo's chroma with them, guided upsampling follows
its luma, and the colour loss compares chroma on its own."""

from __future__ import annotations

import torch


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luma Y of (B, 3, ...) -> (B, 1, ...)."""
    r, g, b = rgb.unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def rgb_to_yuv(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luma Y and chroma U, V along dimension 1."""
    y = luma(rgb)[:, 0]
    r, _, b = rgb.unbind(1)
    return torch.stack([y, 0.492 * (b - y), 0.877 * (r - y)], dim=1)


def yuv_to_rgb(yuv: torch.Tensor) -> torch.Tensor:
    y, u, v = yuv.unbind(1)
    r = y + v / 0.877
    b = y + u / 0.492
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return torch.stack([r, g, b], dim=1)
