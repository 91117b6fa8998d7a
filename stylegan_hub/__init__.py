"""stylegan-hub: learn an image style from a few pictures and apply it in real time."""

__version__ = "0.1.0"

from .errors import HubError, ImageLoadError, ModelLoadError, StyleGanHubError  # noqa: E402
from .models import StyleDiscriminator, StyleGenerator, builtin_styles  # noqa: E402

__all__ = [
    "HubError",
    "ImageLoadError",
    "ModelLoadError",
    "StyleDiscriminator",
    "StyleGanHubError",
    "StyleGenerator",
    "__version__",
    "builtin_styles",
]
