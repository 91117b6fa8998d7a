"""The styles a front end offers, kept loaded: built-ins, extra models named in STYLEGAN_HUB_MODELS, and any folder
or Hub id a visitor asks for. Loading is cached, so switching between styles costs one forward pass, not a load."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from PIL import Image

from .inference import resolve_device, stylize
from .models import StyleGenerator, builtin_styles

MODELS_ENV = "STYLEGAN_HUB_MODELS"  # comma-separated extra styles (Hub ids or folders) listed after the built-ins


def listed_styles() -> list[str]:
    extra = [name.strip() for name in os.environ.get(MODELS_ENV, "").split(",") if name.strip()]
    return [*builtin_styles(), *extra]


@lru_cache(maxsize=16)
def _load(name: str, revision: str | None, stamp: int | None) -> StyleGenerator:
    return StyleGenerator.from_pretrained(name, revision=revision, map_location=resolve_device())


def load_style(name: str, revision: str | None = None) -> StyleGenerator:
    """`StyleGenerator.from_pretrained` on the best device, cached; a local folder is reloaded when its weights change (a retrained style)."""
    weights = Path(name) / "model.safetensors"
    return _load(name, revision, weights.stat().st_mtime_ns if weights.is_file() else None)


def style_thumbnail(name: str, photo: Image.Image, size: int = 160) -> Image.Image:
    """`photo` in the style `name`, `size` pixels on its longer side: how a style gallery shows each style."""
    small = photo.convert("RGB")
    small.thumbnail((size, size), Image.Resampling.LANCZOS)
    return stylize(load_style(name), small)
