"""Errors a user can act on: each message names the bad input and the fix."""


class StyleGanHubError(Exception):
    """Base class for every error stylegan-hub raises on purpose."""


class ImageLoadError(StyleGanHubError, ValueError):
    """An input image is missing, unreadable, corrupt, empty or too large."""


class ImageTooLargeError(ImageLoadError):
    """An input image has more pixels than allowed; `pixels` and `max_pixels` say by how much, so a front end can
    word its own advice."""

    def __init__(self, message: str, *, pixels: int = 0, max_pixels: int = 0):
        super().__init__(message)
        self.pixels, self.max_pixels = pixels, max_pixels


class ModelLoadError(StyleGanHubError, ValueError):
    """A model name, directory, config or weights file cannot be used."""


class HubError(StyleGanHubError):
    """Talking to the Hugging Face Hub failed: no access, no network, a rejected push or a corrupt download."""


class SaveError(StyleGanHubError, OSError):
    """A model, checkpoint or image could not be written (disk full, no permission); nothing partial is left."""


class VideoError(StyleGanHubError, ValueError):
    """A video cannot be read or written: corrupt, truncated, no video stream, an unsupported codec, an output that
    exists, a full disk, or a clip over a cap."""
