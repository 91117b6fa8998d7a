"""Load any image a user is likely to hand us as plain 8-bit RGB(A), and save results safely.

Style transfer only needs 8-bit RGB, but users pass photos with EXIF rotation, 16-bit
scans, CMYK prints, palette GIFs, numpy arrays and now and then a broken or
gigantic file.  Everything funnels through :func:`load_image`, so the rest of the
package sees one kind of image and users see one clear error message per problem.
"""

from __future__ import annotations

import glob
import os
import stat
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from stylegan_hub.errors import ImageLoadError, ImageTooLargeError
from stylegan_hub.files import is_write_failure, new_file_mode, save_error

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
    "ImageSource",
    "expand_image_paths",
    "load_image",
    "save_image",
]

MAX_PIXELS = 100_000_000
"""Refuse images with more pixels than this (10000 x 10000): a tiny compressed file can
claim billions of pixels and exhaust memory when decoded (a "decompression bomb")."""

IMAGE_EXTENSIONS = frozenset(
    {
        ".bmp",
        ".dib",
        ".gif",
        ".jfif",
        ".jpe",
        ".jpeg",
        ".jpg",
        ".pbm",
        ".pgm",
        ".png",
        ".pnm",
        ".ppm",
        ".qoi",
        ".tga",
        ".tif",
        ".tiff",
        ".webp",
    }
)
"""Lowercase suffixes of formats Pillow reads out of the box; used to pick images out of folders."""

ImageSource = str | os.PathLike[str] | Image.Image | np.ndarray

# Formats save_image writes, by suffix.  The .pgm/.pbm/.pnm family is left out because
# Pillow picks the PPM variant from the image mode, not the suffix, so an RGB image saved
# as .pgm would be a mislabelled colour file.
_SAVE_FORMATS = {
    ".bmp": "BMP",
    ".gif": "GIF",
    ".jfif": "JPEG",
    ".jpe": "JPEG",
    ".jpeg": "JPEG",
    ".jpg": "JPEG",
    ".png": "PNG",
    ".ppm": "PPM",
    ".tga": "TGA",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
# Pillow's default quality (75) visibly blurs generated art; 95 keeps detail.
_SAVE_OPTIONS: dict[str, dict[str, int]] = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}
_JPEG_MODES = frozenset({"L", "RGB", "CMYK"})

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa"})
# Pillow's convert() clips these to 0..255 (16-bit 300 and 65535 both become white), so we
# scale them ourselves.
_HIGH_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})

# Pillow's settings are process-global; the lock keeps concurrent loads from
# restoring each other's temporary values.
_PILLOW_SETTINGS_LOCK = threading.Lock()


def load_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Return `source` as a fully loaded, independent image in mode "RGB", or "RGBA"
    when the source has transparency.

    `source` is a file path, a PIL image (left unmodified; its current frame is used)
    or a numpy array (HxW, HxWx1, HxWx2 gray+alpha, HxWx3 or HxWx4; bool, uint8,
    uint16, other integers holding 0..255, or floats holding 0..1).  Files use their
    first frame and their EXIF orientation.  Anything over `max_pixels` is refused
    before its pixels are decoded.  Raises ImageLoadError with a one-line message.
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be at least 1, got {max_pixels}")
    if isinstance(source, np.ndarray):
        return _array_to_image(source, max_pixels)
    if isinstance(source, Image.Image):
        with _strict_pillow(max_pixels):
            return _normalize(source, "image", max_pixels)
    if isinstance(source, (str, os.PathLike)):
        return _load_file(Path(source), max_pixels)
    raise TypeError(f"load_image() takes a path, PIL image or numpy array, not {type(source).__name__}")


def save_image(image: Image.Image, path: str | os.PathLike[str]) -> Path:
    """Write `image` to `path` atomically and return the path.

    The image is written to a hidden temporary file next to `path` and renamed over it
    only once complete, so an interrupted or failed save never leaves a partial file
    and never destroys an existing one.  The format comes from the suffix; JPEG cannot
    store alpha, so RGBA images are flattened to RGB for .jpg/.jpeg.
    """
    path = Path(path)
    image_format = _SAVE_FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise ImageLoadError(
            f"{path}: cannot save images as {path.suffix or 'a file without a suffix'}; use one of {', '.join(sorted(_SAVE_FORMATS))}"
        )
    if image_format == "JPEG" and image.mode not in _JPEG_MODES:
        image = image.convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for_new_file(path)
    tmp = tempfile.NamedTemporaryFile(delete=False, dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with tmp:
            image.save(tmp, format=image_format, **_SAVE_OPTIONS.get(image_format, {}))
            tmp.flush()
            os.fsync(tmp.fileno())
        # NamedTemporaryFile creates the file as 0600; give it normal permissions.
        os.chmod(tmp.name, mode)
        os.replace(tmp.name, path)
    except BaseException as error:
        Path(tmp.name).unlink(missing_ok=True)
        if isinstance(error, OSError) and is_write_failure(error):  # disk full, read-only: one line naming the file
            kept = "the file there before is unchanged" if path.exists() else "no partial file was left"
            raise save_error(path, error, kept) from None
        raise
    return path


def expand_image_paths(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Turn files, folders and glob patterns into a list of image files.

    Files are kept as given; a folder contributes its image files (by suffix,
    non-recursive, sorted by name, hidden files skipped); a glob pattern contributes
    its sorted matches, each treated as if given on its own.  Input order is kept and
    duplicates are dropped.  An input that yields nothing raises ImageLoadError.
    """
    found: dict[Path, Path] = {}
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.exists():
            paths = _expand_one(path)
        else:
            matches = sorted(glob.glob(text))
            if not matches:
                raise ImageLoadError(f"{text}: no such file, folder or matching glob")
            paths = [p for match in matches for p in _expand_one(Path(match))]
        for p in paths:
            found.setdefault(p.resolve(), p)
    return list(found.values())


def _expand_one(path: Path) -> list[Path]:
    """A folder's image files, or the path itself."""
    if not path.is_dir():
        return [path]
    images = sorted(
        (p for p in path.iterdir() if not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
        key=lambda p: p.name,
    )
    if not images:
        raise ImageLoadError(f"{path}: folder has no image files (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
    return images


def _mode_for_new_file(path: Path) -> int:
    """Permission bits the saved file should get: the old file's, else what open() would give."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return new_file_mode()


def _load_file(path: Path, max_pixels: int) -> Image.Image:
    name = str(path)
    if not path.exists():
        raise ImageLoadError(f"{name}: no such file")
    if path.is_dir():
        raise ImageLoadError(f"{name}: is a folder, not an image file; pass the image files in it")
    if not path.is_file():
        raise ImageLoadError(f"{name}: not a regular file; pass an image file")
    if path.stat().st_size == 0:
        raise ImageLoadError(f"{name}: file is empty")
    with _strict_pillow(max_pixels):
        try:
            image = _open_header(path)
        except UnidentifiedImageError:
            raise ImageLoadError(f"{name}: not an image Pillow can read (unrecognised file format); convert it to PNG or JPEG") from None
        except OSError as exc:
            raise ImageLoadError(f"{name}: cannot read file ({exc.strerror or exc})") from exc
        with image:
            return _normalize(image, name, max_pixels)


def _open_header(path: Path) -> Image.Image:
    """Image.open (which parses only the header) with Pillow's own bomb check off.

    Pillow checks the size at the same point, right after parsing the header; we leave
    that check to _check_size so the error names the size and limit the user controls.
    """
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        return Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = limit


@contextmanager
def _strict_pillow(max_pixels: int) -> Iterator[None]:
    """Configure Pillow for one load, restoring its settings afterwards.

    Its bomb checks during decoding (frames, tiles) raise instead of warning, its default
    limit (about 89 M pixels) never rejects an image our `max_pixels` allows, and a
    truncated file raises even if other code set LOAD_TRUNCATED_IMAGES, which would
    silently pad the missing pixels with grey.
    """
    with _PILLOW_SETTINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        saved_limit, saved_truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        if saved_limit is not None and saved_limit < max_pixels:
            Image.MAX_IMAGE_PIXELS = max_pixels
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved_limit
            ImageFile.LOAD_TRUNCATED_IMAGES = saved_truncated


def _check_size(width: int, height: int, name: str, max_pixels: int) -> None:
    if width == 0 or height == 0:
        raise ImageLoadError(f"{name}: has zero size ({width} x {height} pixels)")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name}: {width} x {height} = {width * height:,} pixels is more than the limit"
            f" of {max_pixels:,}; downscale it or pass a larger max_pixels",
            pixels=width * height,
            max_pixels=max_pixels,
        )


def _normalize(image: Image.Image, name: str, max_pixels: int) -> Image.Image:
    """Size-check, decode, apply EXIF orientation and convert to RGB(A), as a new image."""
    _check_size(image.width, image.height, name, max_pixels)
    try:
        # Decodes the pixels and always returns a new image, so `image` stays as it was.
        image = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(
            f"{name}: more than the limit of {max_pixels:,} pixels ({exc}); downscale it or pass a larger max_pixels",
            pixels=image.width * image.height,
            max_pixels=max_pixels,
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageLoadError(f"{name}: image data is truncated or corrupt ({exc})") from exc
    if image.mode in _HIGH_BIT_MODES:
        image = _high_bit_to_8bit(image, name)
    return _to_rgb(image, name)


def _to_rgb(image: Image.Image, name: str) -> Image.Image:
    """Convert a decoded 8-bit image to RGB, or RGBA if it carries transparency."""
    target = "RGBA" if image.mode in _ALPHA_MODES or "transparency" in image.info else "RGB"
    try:
        return image.convert(target)
    except ValueError as exc:
        raise ImageLoadError(
            f"{name}: Pillow cannot convert image mode {image.mode} to {target} ({exc}); save it as an RGB image first"
        ) from None


def _high_bit_to_8bit(image: Image.Image, name: str) -> Image.Image:
    """Scale a 16-bit, 32-bit integer or float image to 8-bit "L" (or "LA" for a
    transparent key colour), keeping brightness instead of clipping."""
    values = np.asarray(image)
    if image.mode == "F":
        gray = _float_to_uint8(values, name, full_scale=1.0 if values.max() <= 1.0 else 255.0)
    elif image.mode == "I" and values.max() <= 255:
        gray = np.clip(values, 0, 255).astype(np.uint8)
    else:  # I;16* or 32-bit "I" holding 16-bit data
        gray = _uint16_to_uint8(np.clip(values, 0, 65535))
    key = image.info.get("transparency")
    if isinstance(key, int):
        alpha = np.where(values == key, 0, 255).astype(np.uint8)
        return Image.fromarray(np.dstack([gray, alpha]))
    return Image.fromarray(gray)


def _uint16_to_uint8(values: np.ndarray) -> np.ndarray:
    """Round(v * 255 / 65535), so 65535 -> 255 and 32768 -> 128; exact in integers."""
    return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _float_to_uint8(values: np.ndarray, name: str, full_scale: float) -> np.ndarray:
    if np.isnan(values).any():
        raise ImageLoadError(f"{name}: pixel values contain NaN; replace them first (e.g. numpy.nan_to_num)")
    scaled = values.astype(np.float64) * (255.0 / full_scale)
    return np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)


def _array_to_image(array: np.ndarray, max_pixels: int) -> Image.Image:
    """Convert a channels-last numpy array to an RGB(A) image without touching the array."""
    name = "array"
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 2, 3, 4))):
        hint = ""
        if array.ndim == 3 and array.shape[0] in (1, 2, 3, 4):
            hint = "; for a channels-first CxHxW array pass array.transpose(1, 2, 0)"
        elif array.ndim == 4 and array.shape[0] == 1:
            hint = "; for a batch of one image pass array[0]"
        raise ImageLoadError(
            f"{name}: shape {array.shape} is not an image; expected HxW, HxWx1, HxWx2 (gray+alpha), HxWx3 (RGB) or HxWx4 (RGBA){hint}"
        )
    height, width = array.shape[:2]
    _check_size(width, height, name, max_pixels)
    pixels = _array_to_uint8(array, name)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    return _to_rgb(Image.fromarray(np.ascontiguousarray(pixels)), name)


def _array_to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b":
        return array.astype(np.uint8) * np.uint8(255)
    if kind == "u" and size == 1:
        return array
    if kind == "u" and size == 2:
        return _uint16_to_uint8(array)
    if kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise ImageLoadError(
                f"{name}: {array.dtype} values range from {low} to {high}, outside 0..255;"
                " pass uint8 (0..255), uint16 (0..65535) or floats (0..1)"
            )
        return array.astype(np.uint8)
    if kind == "f":
        return _float_to_uint8(array, name, full_scale=1.0)
    raise ImageLoadError(f"{name}: dtype {array.dtype} is not supported; pass bool, uint8, uint16, integers in 0..255 or floats in 0..1")
