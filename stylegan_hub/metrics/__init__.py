"""How well a style is learned, measured offline with no pretrained network (a registry, as in NVlabs/stylegan3).

Each metric compares stylized outputs with one reference set:
- `target`: the ground truth for each output (a teacher filter's rendering of the same photo): PSNR, SSIM;
- `photo`: the photo each output was made from: content kept (the photo's contours found again, same place and
  direction);
- `style`: the style exemplars, unpaired: sliced Wasserstein distance of Laplacian-pyramid patches (SWD, as in
  ProGAN) and colour-histogram distance; FID and KID too when local Inception weights are given (`inception.py`).

`style_distance` needs the photos and a style reference: the SWD of the outputs to the teacher's renderings (or,
without a teacher, to the exemplars) as a share of the photos' own, so 1 means no closer to the style than the photo.

Images are float tensors (B, 3, H, W) in [0, 1]; paired metrics need equal sizes, unpaired ones any sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .fidelity import content_kept, psnr, ssim
from .inception import inception_scores, inception_weights_path
from .style import color_histogram_distance, sliced_wasserstein, style_distance


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable[..., float]
    reference: str  # "target", "photo" or "style"
    higher_is_better: bool
    description: str


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in [
        Metric("psnr", psnr, "target", True, "PSNR in dB against the teacher's output"),
        Metric("ssim", ssim, "target", True, "SSIM against the teacher's output"),
        Metric("content_kept", content_kept, "photo", True, "the photo's contours found in the output, same place and direction (1 = all kept)"),
        Metric(
            "swd", sliced_wasserstein, "style", False, "sliced Wasserstein distance of Laplacian-pyramid patches to the exemplars (x1e3)"
        ),
        Metric("color_distance", color_histogram_distance, "style", False, "colour-histogram distance to the exemplars (0 = same palette)"),
    ]
}


def evaluate_outputs(
    outputs: list[torch.Tensor],
    *,
    photos: list[torch.Tensor],
    style_images: list[torch.Tensor] | None = None,
    targets: list[torch.Tensor] | None = None,
    names: list[str] | None = None,
    inception_weights: str | None = None,
) -> dict[str, float]:
    """Every metric whose reference is given, as the mean over the outputs (each (1, 3, H, W) in [0, 1]).

    FID and KID against the style images are added when Inception weights are given here or through
    STYLEGAN_HUB_INCEPTION_WEIGHTS (see `inception.py`).
    """
    results: dict[str, float] = {}
    for metric in METRICS.values():
        if names is not None and metric.name not in names:
            continue
        if metric.reference == "target":
            if targets is None:
                continue
            values = [metric.compute(output, target) for output, target in zip(outputs, targets)]
        elif metric.reference == "photo":
            values = [metric.compute(output, photo) for output, photo in zip(outputs, photos)]
        else:
            if not style_images:
                continue
            values = [metric.compute(outputs, style_images)]
        results[metric.name] = float(sum(values) / len(values))
    references = targets or style_images
    if references and (names is None or "style_distance" in names):
        results["style_distance"] = style_distance(outputs, photos, references)
    if style_images and inception_weights_path(inception_weights) is not None:
        results.update(inception_scores(outputs, style_images, inception_weights))
    return results


__all__ = [
    "METRICS",
    "Metric",
    "color_histogram_distance",
    "content_kept",
    "evaluate_outputs",
    "psnr",
    "sliced_wasserstein",
    "ssim",
    "style_distance",
]
