"""Names the command line and the app list before any model is loaded: built-in models, Hub ids, precisions.

Imports nothing heavy (no torch, no huggingface_hub), so `stylegan-hub styles` and parsers start fast.
"""

from __future__ import annotations

import re
from pathlib import Path

CONFIG_NAME = "config.json"
BUILTIN_PREFIX = "builtin:"
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
PRECISIONS = ("auto", "float32", "bfloat16")
ZERO_SHOT_MODEL = BUILTIN_PREFIX + "any"  # draws the style of any picture
BUILTIN_BASES = (BUILTIN_PREFIX + "base", ZERO_SHOT_MODEL)
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")  # what resolving accepts: also legacy ids with no namespace


def is_namespaced_repo_id(name: str) -> bool:
    """`namespace/name`: the form a pushed repo and a card's `base_model` need."""
    return bool(_REPO_ID.match(name)) and name.count("/") == 1


def builtin_names() -> list[str]:
    """Every model shipped inside the package (the base model and the styles)."""
    return sorted(BUILTIN_PREFIX + p.name for p in BUILTIN_DIR.iterdir() if (p / CONFIG_NAME).is_file())


def builtin_styles() -> list[str]:
    """Names of the built-in styles, each accepted by `StyleGenerator.from_pretrained`: every built-in model but the
    bases fine-tunes start from (`base`, and `any`, the zero-shot model that draws the style of a picture)."""
    return [name for name in builtin_names() if name not in BUILTIN_BASES]
