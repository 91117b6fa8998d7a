"""Score a style model on photos: the model's outputs beside the photos themselves (the identity baseline)."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from ..artwork import apply_artwork
from ..inference import pil_to_tensor, stylize
from ..models import StyleGenerator
from . import METRICS, evaluate_outputs
from .inception import INCEPTION_METRICS


def fit_image(image: Image.Image, max_side: int) -> Image.Image:
    """An RGB copy of the image fitted into `max_side` pixels (never enlarged): metrics compare images at one scale."""
    image = image.convert("RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def evaluate_model(
    generator: StyleGenerator,
    photos: Sequence[Image.Image],
    style_images: Sequence[Image.Image],
    *,
    teacher: str | None = None,
    max_side: int = 256,
    inception_weights: str | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics for the model's outputs and for the unchanged photos, so a reader sees what the model adds.

    With `teacher` (an `stylegan_hub.artwork` filter name) the paired metrics compare with the filter's rendering of
    each photo, the ground truth of that style. Images are first fitted into `max_side` pixels.
    """
    fitted = [fit_image(photo, max_side) for photo in photos]
    photo_tensors = [pil_to_tensor(photo) for photo in fitted]
    style_tensors = [pil_to_tensor(fit_image(image, max_side)) for image in style_images]
    targets = [pil_to_tensor(apply_artwork(teacher, photo)) for photo in fitted] if teacher else None
    outputs = [pil_to_tensor(stylize(generator, photo, precision="float32")) for photo in fitted]  # the same on any machine
    references = dict(photos=photo_tensors, style_images=style_tensors, targets=targets, inception_weights=inception_weights)
    return {"model": evaluate_outputs(outputs, **references), "photo": evaluate_outputs(photo_tensors, **references)}


def format_table(results: dict[str, dict[str, float]]) -> str:
    """A Markdown table: one row per metric, one column per scored set."""
    columns = list(results)
    lines = ["| metric | " + " | ".join(columns) + " | better |", "|---|" + "---|" * (len(columns) + 1)]
    lower_is_better = {name: not metric.higher_is_better for name, metric in METRICS.items()}
    lower_is_better |= dict.fromkeys(("style_distance", *INCEPTION_METRICS), True)
    for name, lower in lower_is_better.items():
        if name in results[columns[0]]:
            values = " | ".join(f"{results[column][name]:.3f}" for column in columns)
            lines.append(f"| {name} | {values} | {'lower' if lower else 'higher'} |")
    return "\n".join(lines)
