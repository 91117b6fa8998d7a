"""stylegan-hub: learn an image style from a few pictures and apply it in real time."""

__version__ = "0.1.0"

from .errors import HubError, ImageLoadError, ModelLoadError, StyleGanHubError, VideoError  # noqa: E402
from .models import StyleDiscriminator, StyleGenerator, builtin_styles  # noqa: E402
from .video import stylize_video  # noqa: E402

__all__ = [
    "HubError",
    "ImageLoadError",
    "ModelLoadError",
    "StyleDiscriminator",
    "StyleGanHubError",
    "StyleGenerator",
    "VideoError",
    "__version__",
    "builtin_styles",
    "stylize_video",
]
