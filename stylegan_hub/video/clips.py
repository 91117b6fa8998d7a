"""Test clips made from the bundled photos, with known motion: a camera pan, a zoom, a moving object over a still
background, and a pan with a hard cut to another photo half-way. Used by the tests and bench/video.py.

The motion per frame is exact (each frame is the photo under an affine map, resampled bicubically), so the true
backward flow is known: `pan` moves every pixel by `PAN_STEP` of the width per frame, so frame t at x shows
frame t-1 at x + (step, 0).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

CLIP_KINDS = ("pan", "zoom", "object", "cut")
PAN_STEP = 1 / 160  # of the frame's width, per frame
ZOOM_STEP = 1.01  # scale per frame
OBJECT_STEP = (1 / 120, 1 / 200)  # of the width and height, per frame


def _photo(name: str, cover: tuple[int, int]) -> np.ndarray:
    """A bundled photo as RGB uint8, scaled (bicubic) to cover `cover` = (width, height)."""
    from ..data import sample_photo

    photo = np.asarray(sample_photo(name).convert("RGB"))
    scale = max(cover[0] / photo.shape[1], cover[1] / photo.shape[0])
    size = (max(cover[0], round(photo.shape[1] * scale)), max(cover[1], round(photo.shape[0] * scale)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)


def _view(photo: np.ndarray, size: tuple[int, int], zoom: float, x: float, y: float) -> np.ndarray:
    """The `size` = (width, height) frame that shows `photo` magnified by `zoom` around photo point (x, y)."""
    width, height = size
    matrix = np.array([[1 / zoom, 0, x - width / 2 / zoom], [0, 1 / zoom, y - height / 2 / zoom]], dtype=np.float64)
    return cv2.warpAffine(photo, matrix, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT_101)


def clip_frames(kind: str, *, size: tuple[int, int] = (320, 180), frames: int = 24) -> Iterator[np.ndarray]:
    """`frames` uint8 RGB frames (H, W, 3) of the test clip `kind` at `size` = (width, height)."""
    if kind not in CLIP_KINDS:
        raise ValueError(f"unknown clip {kind!r}; choose one of {', '.join(CLIP_KINDS)}")
    width, height = size
    step = PAN_STEP * width
    if kind in ("pan", "cut"):
        names = ("china", "coffee") if kind == "cut" else ("china",)
        photos = [_photo(name, (round(width + frames * step + 8), height)) for name in names]
        for t in range(frames):
            photo = photos[1] if kind == "cut" and t >= frames // 2 else photos[0]
            yield _view(photo, size, 1.0, width / 2 + 4 + t * step, photo.shape[0] / 2)
    elif kind == "zoom":
        photo = _photo("astronaut", size)
        for t in range(frames):
            yield _view(photo, size, ZOOM_STEP**t, photo.shape[1] / 2, photo.shape[0] / 2)
    else:  # object: a round cut-out of one photo gliding over another, still one
        background = _photo("coffee", size)[:height, :width]
        radius = height // 4
        thing = _photo("astronaut", (2 * radius, 2 * radius))[: 2 * radius, : 2 * radius]
        yy, xx = np.mgrid[: 2 * radius, : 2 * radius]
        alpha = np.clip(radius - np.hypot(xx - radius + 0.5, yy - radius + 0.5), 0, 1)[..., None]
        for t in range(frames):
            frame = background.astype(np.float32)
            left, top = width / 8 + t * OBJECT_STEP[0] * width, height / 8 + t * OBJECT_STEP[1] * height
            matrix = np.array([[1, 0, left], [0, 1, top]], dtype=np.float64)
            layer = cv2.warpAffine(thing, matrix, size, flags=cv2.INTER_CUBIC).astype(np.float32)
            mask = cv2.warpAffine(alpha.astype(np.float32), matrix, size, flags=cv2.INTER_LINEAR)[..., None]
            yield np.clip(frame * (1 - mask) + layer * mask + 0.5, 0, 255).astype(np.uint8)


def write_clip(path: str | os.PathLike, frames, *, fps: int = 24, audio: bool = False, rotation: int = 0) -> Path:
    """Encode uint8 RGB frames to an H.264 file (with a 440 Hz AAC tone when `audio`; stored turned by `rotation`
    degrees with a display matrix that turns it back, like a phone's portrait clip)."""
    import av

    path = Path(path)
    frames = iter(frames)
    first = next(frames)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        stored = np.rot90(first, -(rotation // 90)) if rotation else first
        video.height, video.width = stored.shape[:2]
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "12", "preset": "veryfast"}
        if rotation:
            video.set_display_rotation(rotation)
        tone = container.add_stream("aac", rate=16000) if audio else None
        if tone is not None:
            tone.layout = "mono"
        count = 0
        for frame in _chain(first, frames):
            array = np.ascontiguousarray(np.rot90(frame, -(rotation // 90))) if rotation else frame
            picture = av.VideoFrame.from_ndarray(array, format="rgb24")
            picture.pts, picture.time_base = count, Fraction(1, fps)
            container.mux(video.encode(picture))
            count += 1
        container.mux(video.encode(None))
        if tone is not None:
            samples = 16000 * count // fps
            wave = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype(np.float32)[None]
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, start : start + 1024]), format="flt", layout="mono")
                chunk.sample_rate, chunk.pts = 16000, start
                container.mux(tone.encode(chunk))
            container.mux(tone.encode(None))
    return path


def _chain(first, rest):
    yield first
    yield from rest


def make_clip(kind: str, path: str | os.PathLike, *, size: tuple[int, int] = (320, 180), frames: int = 24, fps: int = 24, audio: bool = False) -> Path:
    """Write the test clip `kind` to `path`."""
    return write_clip(path, clip_frames(kind, size=size, frames=frames), fps=fps, audio=audio)
