"""stylegan-hub: learn an image style from a few pictures and apply it in real time."""

__version__ = "0.1.0"

from .errors import HubError, ImageLoadError, ImageTooLargeError, ModelLoadError, StyleGanHubError, VideoError  # noqa: E402
from .names import builtin_styles  # noqa: E402

__all__ = [
    "HubError",
    "ImageLoadError",
    "ImageTooLargeError",
    "ModelLoadError",
    "StyleDiscriminator",
    "StyleGanHubError",
    "StyleGenerator",
    "VideoError",
    "__version__",
    "builtin_styles",
    "stylize_video",
]


def __getattr__(name: str):
    """The models and video import torch: loaded on first use, so `stylegan-hub styles` and `--help` start fast."""
    if name in ("StyleDiscriminator", "StyleGenerator"):
        from . import models

        return getattr(models, name)
    if name == "stylize_video":
        from .video import stylize_video

        return stylize_video
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
