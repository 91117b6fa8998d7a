"""Paired measures: fidelity to a ground truth (PSNR, SSIM) and content kept from the photo."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..color import luma


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.dim() != 4 or a.shape[1] != 3:
        raise ValueError(f"expected two (B, 3, H, W) images of the same size, got {tuple(a.shape)} and {tuple(b.shape)}")


def psnr(output: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1] (capped at 100 dB for identical images)."""
    _check_pair(output, target)
    mse = F.mse_loss(output.float(), target.float()).item()
    return 100.0 if mse == 0 else float(10 * torch.log10(torch.tensor(1.0 / mse)))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]  # (1, 1, size, size)


def _ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM (Wang et al. 2004, Gaussian 11x11, sigma 1.5) per pixel and channel of (B, C, H, W) images in [0, 1]."""
    channels = a.shape[1]
    window = _gaussian_window().to(a.device).expand(channels, 1, -1, -1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=channels)

    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def ssim(output: torch.Tensor, target: torch.Tensor) -> float:
    """Mean structural similarity over the RGB channels (1 = identical); images must be at least 11 pixels a side."""
    _check_pair(output, target)
    if min(output.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs images at least 11x11, got {tuple(output.shape[-2:])}")
    return float(_ssim_map(output.float(), target.float()).mean())


def _edges(image: torch.Tensor, blur_sigma: float = 1.5) -> torch.Tensor:
    """Gradient magnitude of the blurred luminance, normalised to [0, 1] per image: the structure a style must keep."""
    luminance = luma(image.float())
    size = int(2 * round(3 * blur_sigma) + 1)
    window = _gaussian_window(size, blur_sigma).to(image.device)
    smooth = F.conv2d(F.pad(luminance, [size // 2] * 4, mode="replicate"), window)
    sobel_x = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], device=image.device)[None, None] / 8
    padded = F.pad(smooth, [1, 1, 1, 1], mode="replicate")
    gx, gy = F.conv2d(padded, sobel_x), F.conv2d(padded, sobel_x.transpose(-1, -2))
    magnitude = torch.sqrt(gx**2 + gy**2)
    return magnitude / magnitude.amax(dim=(-1, -2), keepdim=True).clamp_min(1e-6)


def content_kept(output: torch.Tensor, photo: torch.Tensor) -> float:
    """SSIM between the edge maps of output and photo: 1 when every contour is where it was, near 0 when lost.

    Blurring first makes it indifferent to the fine texture a style adds (brush strokes, hatching, grain), and
    comparing edges rather than intensities makes it indifferent to the colour and tone changes a style makes.
    """
    _check_pair(output, photo)
    return float(_ssim_map(_edges(output), _edges(photo)).mean())
