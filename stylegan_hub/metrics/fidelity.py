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


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (B, 1, H, W) maps with edge replication, so a picture's border is not read as a contour."""
    size = int(2 * round(3 * sigma) + 1)
    return F.conv2d(F.pad(x, [size // 2] * 4, mode="replicate"), _gaussian_window(size, sigma).to(x.device))


def _luminance_gradients(image: torch.Tensor, blur_sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences (x, y) of the blurred luminance, each (B, 1, H, W)."""
    smooth = F.pad(_blur(luma(image.float()), blur_sigma), [1, 1, 1, 1], mode="replicate")
    return (smooth[..., 1:-1, 2:] - smooth[..., 1:-1, :-2]) / 2, (smooth[..., 2:, 1:-1] - smooth[..., :-2, 1:-1]) / 2


FADED_CONTRAST = 0.05
"""A contour faded to this share of its contrast counts as half kept (at 2% a third, at 10% 0.7, at half 0.95)."""


def content_kept(output: torch.Tensor, photo: torch.Tensor, *, blur_sigma: float = 2.0, window_sigma: float = 4.0) -> float:
    """Whether the photo's contours are still where they were, running the same way: 1 all kept, 0 none (negative
    where they run the other way: an inverted picture scores -1).

    In each neighbourhood (a Gaussian window of `window_sigma` pixels) the cosine between the output's and the photo's
    luminance gradients (after a `blur_sigma` blur), times how much of the contrast is left (1 at the photo's or more,
    half at `FADED_CONTRAST` of it), averaged with the weight of the photo's own gradient energy there; a batch is
    pooled the same way. So it is a recall of the photo's contours: a region the output flattens or fades to a trace
    counts as lost, while texture a style adds where the photo is smooth costs nothing, and added on a contour only
    dilutes it. Colour and moderate contrast changes hardly count, and an unrelated picture scores about 0. (The SSIM
    of edge maps it replaces charged every added brick joint as lost content: a brick wall laid over the whole,
    recognisable photo scored 0.44.)
    """
    _check_pair(output, photo)
    output_x, output_y = _luminance_gradients(output, blur_sigma)
    photo_x, photo_y = _luminance_gradients(photo, blur_sigma)
    agreement = _blur(output_x * photo_x + output_y * photo_y, window_sigma)
    output_norm = _blur(output_x**2 + output_y**2, window_sigma).sqrt()  # local gradient magnitudes (RMS)
    photo_norm = _blur(photo_x**2 + photo_y**2, window_sigma).sqrt()
    cosine = agreement / (output_norm * photo_norm).clamp_min(1e-30)
    contrast = output_norm / photo_norm.clamp_min(1e-30)
    contrast_left = ((1 + FADED_CONTRAST) * contrast / (contrast + FADED_CONTRAST)).clamp(max=1.0)
    weight = photo_norm**2
    return float((weight * cosine * contrast_left).sum() / weight.sum().clamp_min(1e-30))
