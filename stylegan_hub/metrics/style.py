"""Unpaired measures of style: how close the outputs' local texture and palette are to the exemplars'."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

PATCH = 7  # neighbourhood size of a descriptor, as in ProGAN's SWD
MIN_LEVEL_SIZE = 16


def _check_set(images: list[torch.Tensor], what: str) -> None:
    if not images:
        raise ValueError(f"{what}: no images")
    for image in images:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"{what}: expected (B, 3, H, W) images, got {tuple(image.shape)}")


def laplacian_pyramid(image: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels from fine to coarse, the last one the low-pass residual; each level half the previous size."""
    pyramid, current = [], image
    for _ in range(levels - 1):
        smaller = F.avg_pool2d(current, 2)
        pyramid.append(
            current[..., : smaller.shape[-2] * 2, : smaller.shape[-1] * 2] - F.interpolate(smaller, scale_factor=2.0, mode="bilinear")
        )
        current = smaller
    pyramid.append(current)
    return pyramid


def _descriptors(images: list[torch.Tensor], levels: int, per_image: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Per pyramid level: random 7x7x3 patches of every image, flattened (N, 147)."""
    found: list[list[torch.Tensor]] = [[] for _ in range(levels)]
    for image in images:
        for index, level in enumerate(laplacian_pyramid(image.float(), levels)):
            patches = F.unfold(level, PATCH).transpose(1, 2).reshape(-1, 3 * PATCH * PATCH)  # (B * L, 147)
            chosen = torch.randint(0, patches.shape[0], (min(per_image, patches.shape[0]),), generator=generator)
            found[index].append(patches[chosen])
    return [torch.cat(level) for level in found]


def _levels_for(images: list[torch.Tensor]) -> int:
    smallest = min(min(image.shape[-2:]) for image in images)
    levels = 1
    while smallest // 2 >= max(MIN_LEVEL_SIZE, PATCH) and levels < 5:
        smallest //= 2
        levels += 1
    return levels


def sliced_wasserstein(
    outputs: list[torch.Tensor], exemplars: list[torch.Tensor], *, per_image: int = 256, directions: int = 256, seed: int = 0
) -> float:
    """Sliced Wasserstein distance between the Laplacian-pyramid patch distributions of two image sets, x1e3, averaged
    over levels (Karras et al. 2018). Lower is closer; it needs no pretrained network. Deterministic for a `seed`."""
    _check_set(outputs, "outputs")
    _check_set(exemplars, "exemplars")
    generator = torch.Generator().manual_seed(seed)
    levels = _levels_for([*outputs, *exemplars])
    distances = []
    for a, b in zip(_descriptors(outputs, levels, per_image, generator), _descriptors(exemplars, levels, per_image, generator)):
        both = torch.cat([a, b])
        mean, std = both.mean(0), both.std(0).clamp_min(1e-8)  # normalise each descriptor dimension jointly
        a, b = (a - mean) / std, (b - mean) / std
        count = min(len(a), len(b))
        a = a[torch.randperm(len(a), generator=generator)[:count]]
        b = b[torch.randperm(len(b), generator=generator)[:count]]
        projections = torch.randn(a.shape[1], directions, generator=generator)
        projections /= projections.norm(dim=0, keepdim=True)
        projected_a, _ = (a @ projections).sort(0)
        projected_b, _ = (b @ projections).sort(0)
        distances.append((projected_a - projected_b).abs().mean())
    return float(torch.stack(distances).mean() * 1e3)


def style_distance(
    outputs: list[torch.Tensor], photos: list[torch.Tensor], references: list[torch.Tensor], *, stride: int = 2, directions: int = 256, seed: int = 0
) -> float:
    """How far the outputs still are from the style, as a share of how far the photos were: the sliced Wasserstein
    distance of Laplacian-pyramid patches from the outputs to the references (a teacher's renderings of the same photos,
    or a style's exemplars), divided by the same distance from the unchanged photos. 1 = no closer than the photo,
    0 = the references' own patch distribution; unpaired, so a model is not rewarded for staying near the photo.

    Every patch on a `stride`-pixel grid is used (no random sample, so the references score exactly 0 against
    themselves), with one set of projections and the references' own normalisation for both distances.
    """
    for images, what in ((outputs, "outputs"), (photos, "photos"), (references, "references")):
        _check_set(images, what)
    generator = torch.Generator().manual_seed(seed)
    levels = _levels_for([*outputs, *photos, *references])
    sets = [_dense_descriptors(images, levels, stride) for images in (outputs, photos, references)]
    ratios = []
    for output, photo, reference in zip(*sets):
        mean, std = reference.mean(0), reference.std(0).clamp_min(1e-8)
        projections = torch.randn(reference.shape[1], directions, generator=generator)
        projections /= projections.norm(dim=0, keepdim=True)
        goal = _quantiles((reference - mean) / std @ projections)
        distance = [(_quantiles((x - mean) / std @ projections) - goal).abs().mean() for x in (output, photo)]
        ratios.append(distance[0] / distance[1].clamp_min(1e-8))
    return float(torch.stack(ratios).mean())


def _dense_descriptors(images: list[torch.Tensor], levels: int, stride: int) -> list[torch.Tensor]:
    """Per pyramid level: every 7x7x3 patch on a `stride` grid of every image, flattened (N, 147)."""
    found: list[list[torch.Tensor]] = [[] for _ in range(levels)]
    for image in images:
        for index, level in enumerate(laplacian_pyramid(image.float(), levels)):
            found[index].append(F.unfold(level, PATCH, stride=stride).transpose(1, 2).reshape(-1, 3 * PATCH * PATCH))
    return [torch.cat(level) for level in found]


def _quantiles(projected: torch.Tensor, count: int = 1024) -> torch.Tensor:
    """(N, D) projected descriptors -> (count, D) evenly spaced quantiles, so sets of any size compare."""
    positions = torch.linspace(0, projected.shape[0] - 1, count).round().long().numpy()
    rows = np.sort(projected.T.contiguous().numpy(), axis=1)  # numpy's sort is several times faster than torch's on CPU
    return torch.from_numpy(rows[:, positions].T.copy())


def color_histogram_distance(outputs: list[torch.Tensor], exemplars: list[torch.Tensor], *, bins: int = 256) -> float:
    """Mean over R, G, B of the 1-D Wasserstein distance between the two sets' pixel-value distributions, in [0, 1]."""
    _check_set(outputs, "outputs")
    _check_set(exemplars, "exemplars")

    def cdf(images: list[torch.Tensor], channel: int) -> torch.Tensor:
        values = torch.cat([image[:, channel].flatten().float() for image in images]).clamp(0, 1)
        histogram = torch.histc(values, bins=bins, min=0.0, max=1.0)
        return torch.cumsum(histogram / histogram.sum(), 0)

    return float(sum((cdf(outputs, c) - cdf(exemplars, c)).abs().sum() / bins for c in range(3)) / 3)
