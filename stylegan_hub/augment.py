"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for training a discriminator on a handful of images.

The same random transforms are applied to real and generated images before the discriminator sees them, and they
are differentiable, so the generator still gets gradients; the discriminator cannot memorise the few exemplars.
Randomness comes from torch's global generator, which Accelerate checkpoints, so resumed runs replay exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def adjust_color(x: torch.Tensor) -> torch.Tensor:
    batch = x.shape[0]
    x = x + (torch.rand(batch, 1, 1, 1, device=x.device) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(batch, 1, 1, 1, device=x.device) * 2) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(batch, 1, 1, 1, device=x.device) + 0.5) + mean  # contrast


def translate(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to `ratio` of its size, filling with zeros."""
    batch, _, height, width = x.shape
    shift_y = torch.randint(-int(height * ratio), int(height * ratio) + 1, (batch, 1, 1), device=x.device)
    shift_x = torch.randint(-int(width * ratio), int(width * ratio) + 1, (batch, 1, 1), device=x.device)
    rows = torch.arange(height, device=x.device).view(1, height, 1)
    cols = torch.arange(width, device=x.device).view(1, 1, width)
    rows = (rows + shift_y + 1).clamp(0, height + 1)  # (B, H, 1): index into the zero-padded image
    cols = (cols + shift_x + 1).clamp(0, width + 1)  # (B, 1, W)
    padded = F.pad(x, (1, 1, 1, 1))
    index = torch.arange(batch, device=x.device).view(batch, 1, 1)
    return padded.permute(0, 2, 3, 1)[index, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of `ratio` times the image size in each image."""
    batch, _, height, width = x.shape
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = torch.randint(0, height + (1 - cut_h % 2), (batch, 1, 1), device=x.device) - cut_h // 2
    left = torch.randint(0, width + (1 - cut_w % 2), (batch, 1, 1), device=x.device) - cut_w // 2
    rows = torch.arange(height, device=x.device).view(1, height, 1)
    cols = torch.arange(width, device=x.device).view(1, 1, width)
    inside = (rows >= top) & (rows < top + cut_h) & (cols >= left) & (cols < left + cut_w)
    return x * (~inside).unsqueeze(1).to(x.dtype)


AUGMENTATIONS = {"color": adjust_color, "translation": translate, "cutout": cutout}


def parse_policy(policy: str) -> list[str]:
    """'color,translation,cutout' -> names, checked; '' or 'none' -> no augmentation."""
    names = [name.strip() for name in policy.split(",") if name.strip() and name.strip() != "none"]
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown}; choose from {sorted(AUGMENTATIONS)} (comma-separated)")
    return names


def diff_augment(x: torch.Tensor, policy: list[str]) -> torch.Tensor:
    for name in policy:
        x = AUGMENTATIONS[name](x)
    return x
