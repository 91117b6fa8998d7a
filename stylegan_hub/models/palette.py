"""A palette output: the generator's colours snapped to a few colours chosen per picture.

A cartoon's or a poster's flat fills come from a per-picture choice of a few colours (the cartoon teacher runs
k-means over the whole picture). A per-pixel regression cannot learn that discontinuous, global choice: trained on
the cartoon's fills it learns their smoothing and averages the palette away (docs/benchmark-notes.md). Snapping the
output to the k-means palette of the output itself draws the flat regions and hard steps by construction; the
gradient passes the snap straight through, so the network learns the picture whose quantisation is the target.

Everything is deterministic (the centres start at luminance quantiles, a fixed number of Lloyd iterations), so a
picture gets the same palette on every run, and the tiles of a large image share one palette computed for the whole
(`stylegan_hub.inference`).
"""

from __future__ import annotations

import torch

PALETTE_GRID = 64
"""A picture's palette is chosen from an even grid of this many by this many of its pixels (nearest-neighbour
resampling: real colours, none mixed), so its cost stays flat for large pictures and the exported graph has no
size-dependent branch."""
PALETTE_SIDE = 512
"""A large picture's palette is chosen from the output of the picture fitted into this many pixels, once for all
its tiles (`StyleGenerator.palette_of`)."""
LLOYD_ITERATIONS = 10
LUMINANCE = (0.299, 0.587, 0.114)


def squared_distances(pixels: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(B, N, 3), (B, K, 3) -> (B, N, K) squared Euclidean distances, without torch.cdist's extra copies."""
    return (pixels.square().sum(-1, keepdim=True) - 2 * pixels @ centres.transpose(1, 2) + centres.square().sum(-1).unsqueeze(1)).clamp_min(0)


@torch.no_grad()
def kmeans_palette(images: torch.Tensor, colors: int) -> torch.Tensor:
    """Images (B, 3, H, W) -> each one's k-means palette (B, colors, 3), computed in float32."""
    grid = torch.nn.functional.interpolate(images.float(), size=(PALETTE_GRID, PALETTE_GRID), mode="nearest")
    pixels = grid.flatten(2).transpose(1, 2)  # (B, N, 3)
    luminance = pixels @ pixels.new_tensor(LUMINANCE)
    order = luminance.argsort(dim=1)
    quantiles = torch.linspace(0, PALETTE_GRID**2 - 1, colors, device=images.device).round().long()
    centres = pixels.gather(1, order[:, quantiles, None].expand(-1, -1, 3))  # (B, K, 3) at luminance quantiles
    for _ in range(LLOYD_ITERATIONS):
        members = torch.nn.functional.one_hot(squared_distances(pixels, centres).argmin(-1), colors).to(pixels.dtype)  # (B, N, K)
        counts = members.sum(1).unsqueeze(-1)  # (B, K, 1)
        centres = torch.where(counts > 0, members.transpose(1, 2) @ pixels / counts.clamp_min(1), centres)  # an empty colour stays
    return centres


def snap_to_palette(images: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Each pixel of images (B, 3, H, W) replaced by its nearest palette colour (B, K, 3); the gradient passes
    straight through to `images`, as if the snap were the identity."""
    batch, channels, height, width = images.shape
    pixels = images.flatten(2).transpose(1, 2)  # (B, H*W, 3)
    with torch.no_grad():
        nearest = squared_distances(pixels.float(), palette.float()).argmin(-1)  # (B, H*W)
        snapped = palette.to(images.dtype).gather(1, nearest.unsqueeze(-1).expand(-1, -1, channels))
        snapped = snapped.transpose(1, 2).reshape(batch, channels, height, width)
    if not (torch.is_grad_enabled() and images.requires_grad):
        return snapped  # exactly the palette's colours: the straight-through sum below rounds them
    return images + (snapped - images).detach()
