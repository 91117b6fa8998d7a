"""The styles a front end offers, kept loaded: built-ins, extra models named in STYLEGAN_HUB_MODELS, a visitor's own
fine-tuned folders and public Hub ids a visitor asks for. Loading is cached, so switching between styles costs one
forward pass, not a load."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from PIL import Image

from .inference import resolve_device, stylize
from .models import StyleGenerator, builtin_styles
from .models.hub import WEIGHTS_NAME

MODELS_ENV = "STYLEGAN_HUB_MODELS"  # comma-separated extra styles (Hub ids or folders) listed after the built-ins


def listed_styles() -> list[str]:
    extra = [name.strip() for name in os.environ.get(MODELS_ENV, "").split(",") if name.strip()]
    return [*builtin_styles(), *extra]


@lru_cache(maxsize=16)
def _load(name: str, stamp: int | None, token: bool | None) -> StyleGenerator:
    return StyleGenerator.from_pretrained(name, token=token, map_location=resolve_device())


def load_style(name: str, *, anonymous: bool = False) -> StyleGenerator:
    """`StyleGenerator.from_pretrained` on the best device, cached; a local folder is reloaded when its weights change
    (a retrained style). `anonymous` loads a Hub repo without any token, as a front end must for a name a visitor
    typed: never with the server's own (possibly private) access."""
    weights = Path(name) / WEIGHTS_NAME
    return _load(name, weights.stat().st_mtime_ns if weights.is_file() else None, False if anonymous else None)


def style_thumbnail(name: str, photo: Image.Image, size: int = 160) -> Image.Image:
    """`photo` in the style `name`, `size` pixels on its longer side: how a style gallery shows each style."""
    small = photo.convert("RGB")
    small.thumbnail((size, size), Image.Resampling.LANCZOS)
    return stylize(load_style(name), small)
