"""Classical non-photorealistic rendering (NPR) filters that turn photos into "artwork".

They make the exemplars the built-in styles are trained from, the "artwork" domain
a discriminator is pretrained on, and teacher styles with exact ground truth for
benchmarks.  Each filter stands for one kind of change, so that a model's behaviour
can be told apart by kind:

* ``oil_paint``     -- local texture (flat painterly patches, brush-stroke relief)
* ``pencil_sketch`` -- edges (graphite lines and hatching on paper)
* ``cartoon``       -- palette (flat colour regions with dark outlines)
* ``color_grade``   -- global tone (teal/orange film grade)
* ``tone_map``      -- any global colour change (a colour matrix, offset and per-channel gamma)

Every filter takes and returns a float32 ``HxWx3`` array in [0, 1], never modifies
its input and is fully deterministic: all noise comes from ``np.random.default_rng(seed)``.
Lengths are given in pixels of a ``REFERENCE_SIDE``-pixel image and scaled with the
image's short side, so a 256 px and a 1024 px photo come out looking alike.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.fft
from PIL import Image
from scipy import ndimage
from skimage.color import rgb2lab

REFERENCE_SIDE = 512
"""Short side (pixels) at which length parameters are taken literally."""

_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # Rec. 709


# --------------------------------------------------------------------------- helpers


def _as_image(image: np.ndarray) -> np.ndarray:
    """Validate a float ``HxWx3`` image; return a clipped float32 copy, leaving the input alone."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got an array of shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"expected float values in [0, 1], got dtype {array.dtype}; divide 8-bit images by 255")
    return np.clip(array, 0.0, 1.0).astype(np.float32)


def _scale(image: np.ndarray) -> float:
    """Factor turning reference-size pixel lengths into lengths for this image."""
    return min(image.shape[:2]) / REFERENCE_SIDE


def _luminance(image: np.ndarray) -> np.ndarray:
    return image @ _LUMA


def _saturate(image: np.ndarray, amount: float) -> np.ndarray:
    """Scale chroma around each pixel's luminance (``amount`` > 1 boosts colour)."""
    luma = _luminance(image)[..., None]
    return luma + amount * (image - luma)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _finish(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0.0, 1.0).astype(np.float32, copy=False)


def _normalized(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit standard deviation (a constant field stays zero)."""
    x = x - x.mean()
    return x / max(float(x.std()), 1e-8)


# --------------------------------------------------------------------------- oil paint


def _sector_kernels(radius: float, sectors: int) -> np.ndarray:
    """Generalized-Kuwahara weights: a Gaussian disc split into overlapping angular sectors.

    Smooth (von Mises) sector boundaries avoid the blocky artefacts of the classic
    four-square Kuwahara; each kernel sums to one.
    """
    half = int(np.ceil(radius))
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    rho = np.hypot(x, y)
    radial = np.exp(-0.5 * (rho / (0.5 * radius)) ** 2) * (rho <= radius + 0.5)
    centres = 2.0 * np.pi * np.arange(sectors) / sectors
    angular = np.exp(3.0 * np.cos(np.arctan2(y, x)[None] - centres[:, None, None]))
    angular /= angular.sum(axis=0, keepdims=True)
    kernels = radial[None] * angular
    return kernels / kernels.sum(axis=(1, 2), keepdims=True)


def _generalized_kuwahara(image: np.ndarray, radius: float, sharpness: float, sectors: int = 8) -> np.ndarray:
    """Each pixel becomes the mean of its most uniform sectors: edges stay sharp, detail flattens.

    Sector means and variances are convolutions, done once per sector with FFTs on a
    reflect-padded image, so the cost does not grow with the radius.
    """
    kernels = _sector_kernels(radius, sectors)
    half = kernels.shape[-1] // 2
    height, width = image.shape[:2]
    fast_h = scipy.fft.next_fast_len(height + 2 * half, real=True)
    fast_w = scipy.fft.next_fast_len(width + 2 * half, real=True)
    pad = ((half, fast_h - height - half), (half, fast_w - width - half), (0, 0))
    padded = np.pad(image, pad, mode="reflect" if min(height, width) > half else "edge")
    # Channels: R, G, B and the summed squares (for the colour variance of a sector).
    planes = np.concatenate([padded, (padded**2).sum(axis=2, keepdims=True)], axis=2)
    planes_f = scipy.fft.rfft2(np.moveaxis(planes, 2, 0), workers=-1)

    # Kernels centred on index 0, so circular convolution is exact inside the padding.
    placed = np.zeros((sectors, fast_h, fast_w), dtype=np.float32)
    placed[:, : 2 * half + 1, : 2 * half + 1] = kernels
    placed = np.roll(placed, (-half, -half), axis=(1, 2))
    kernels_f = scipy.fft.rfft2(placed, workers=-1)

    numerator = np.zeros((height, width, 3), dtype=np.float32)
    denominator = np.zeros((height, width, 1), dtype=np.float32)
    for kernel_f in kernels_f:
        moments = scipy.fft.irfft2(planes_f * kernel_f, s=(fast_h, fast_w), workers=-1)
        moments = np.moveaxis(moments[:, half : half + height, half : half + width], 0, 2)
        mean = moments[..., :3]
        variance = np.maximum(moments[..., 3:] - (mean**2).sum(axis=2, keepdims=True), 0.0)
        # Kyprianidis et al.: flat sectors dominate; all-flat neighbourhoods average smoothly.
        weight = 1.0 / (1.0 + (255.0 * variance) ** (0.5 * sharpness))
        numerator += weight * mean
        denominator += weight
    return numerator / np.maximum(denominator, 1e-30)


def _stroke_directions(luma: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along the local edges (minor eigenvector of the smoothed structure tensor)."""
    gx = ndimage.sobel(luma, axis=1)
    gy = ndimage.sobel(luma, axis=0)
    jxx = ndimage.gaussian_filter(gx * gx, sigma)
    jxy = ndimage.gaussian_filter(gx * gy, sigma)
    jyy = ndimage.gaussian_filter(gy * gy, sigma)
    across = 0.5 * np.arctan2(2.0 * jxy, jxx - jyy)  # direction of strongest change
    return -np.sin(across), np.cos(across)


def _resize(field: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D field to exactly ``shape``."""
    factors = (shape[0] / field.shape[0], shape[1] / field.shape[1])
    return ndimage.zoom(field, factors, order=1, mode="nearest")


def _brush_texture(painted: np.ndarray, length: float, bristle: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean relief of bristle streaks that follow the image's edges, lit from the top left.

    Noise is averaged along straight lines in the local edge direction (a short line
    integral convolution) on a grid of ``bristle``-pixel cells, then embossed so the
    streaks read as ridges of paint.
    """
    height, width = painted.shape[:2]
    coarse = (max(2, height // bristle), max(2, width // bristle))
    dx, dy = _stroke_directions(_resize(_luminance(painted), coarse), sigma=length / bristle)
    noise = rng.standard_normal(coarse).astype(np.float32)
    rows, cols = np.mgrid[0 : coarse[0], 0 : coarse[1]].astype(np.float32)
    steps = max(2, int(round(length / bristle)))
    streaks = np.zeros_like(noise)
    for step in range(-steps, steps + 1):
        coords = [rows + step * dy, cols + step * dx]
        streaks += ndimage.map_coordinates(noise, coords, order=1, mode="reflect")
    streaks = _normalized(_resize(streaks, (height, width)))
    shifted = np.pad(streaks, ((bristle, 0), (bristle, 0)), mode="edge")[:height, :width]
    relief = streaks - shifted  # slope toward the top-left light
    return 0.5 * streaks + _normalized(relief)


def oil_paint(
    image: np.ndarray,
    radius: float = 4.0,
    sharpness: float = 8.0,
    saturation: float = 1.15,
    texture: float = 0.025,
    seed: int = 0,
) -> np.ndarray:
    """Oil painting: flat painterly patches with sharp edges, richer colour and brush relief.

    ``radius`` is the brush size (pixels at ``REFERENCE_SIDE``); ``sharpness`` is how
    strongly the most uniform sector wins (higher: flatter patches, crisper edges);
    ``texture`` is the strength of the brush streaks (0 turns them off).
    """
    photo = _as_image(image)
    scale = _scale(photo)
    brush = max(1.5, radius * scale)
    painted = _saturate(_generalized_kuwahara(photo, brush, sharpness), saturation)
    if texture > 0:
        bristle = max(1, int(round(2 * scale)))
        streaks = _brush_texture(painted, 1.5 * brush, bristle, np.random.default_rng(seed))
        painted = painted * (1.0 + texture * streaks[..., None])
    return _finish(painted)


# --------------------------------------------------------------------------- pencil sketch


def _hatching(shape: tuple[int, int], length: int, direction: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Pencil strokes in [0, 1]: sparse noise smeared along ``direction`` into streaks."""
    noise = rng.standard_normal(shape).astype(np.float32)
    streaks = np.zeros_like(noise)
    for step in range(length):  # wraps around, which a random field does not mind
        streaks += np.roll(noise, (step * direction[0], step * direction[1]), axis=(0, 1))
    return _smoothstep(0.0, 2.0, _normalized(streaks))


def pencil_sketch(
    image: np.ndarray,
    blur: float = 6.0,
    darkness: float = 2.5,
    shading: float = 0.45,
    paper: tuple[float, float, float] = (0.97, 0.955, 0.92),
    seed: int = 0,
) -> np.ndarray:
    """Graphite drawing: dodge-blend outlines, diagonal hatching in the shadows, paper tooth.

    The luminance divided by its blur (a colour dodge with the blurred inverse) is
    white on flat areas and dark just inside edges; ``darkness`` deepens those lines,
    ``blur`` (pixels at ``REFERENCE_SIDE``) sets their width and ``shading`` how dark
    the hatching gets.
    """
    photo = _as_image(image)
    scale = _scale(photo)
    luma = _luminance(photo)
    blurred = ndimage.gaussian_filter(luma, max(1.0, blur * scale))
    soft = 0.04  # keeps deep shadows from dividing noise into solid black
    lines = np.clip((luma + soft) / (blurred + soft), 0.0, 1.0) ** darkness

    # Hatching is drawn on a grid of pencil-width cells, so lines thicken with the image.
    rng = np.random.default_rng(seed)
    cell = max(1, int(round(scale)))
    grid = (max(2, luma.shape[0] // cell), max(2, luma.shape[1] // cell))
    stroke = max(3, int(round(24 * scale / cell)))
    tone = 1.0 - ndimage.gaussian_filter(luma, max(1.0, 2.0 * scale))
    hatch = _resize(_hatching(grid, stroke, (1, 1), rng), luma.shape)
    cross = _resize(_hatching(grid, stroke, (1, -1), rng), luma.shape)
    strokes = np.maximum(hatch * _smoothstep(0.35, 0.8, tone), cross * _smoothstep(0.6, 0.95, tone))
    graphite = 1.0 - lines * (1.0 - shading * strokes)

    # Graphite catches on the paper's tooth: coverage varies with a fine grain.
    grain = rng.standard_normal(luma.shape).astype(np.float32)
    tooth = _normalized(ndimage.gaussian_filter(grain, 0.7 * max(1.0, scale)))
    graphite = np.clip(graphite * (1.0 + 0.25 * tooth), 0.0, 1.0)
    drawing = 1.0 - 0.88 * graphite - 0.008 * tooth
    return _finish(drawing[..., None] * np.asarray(paper, dtype=np.float32))


# --------------------------------------------------------------------------- cartoon


def _recursive_pass(image: np.ndarray, feedback: np.ndarray) -> np.ndarray:
    """Causal, then anti-causal first-order recursive filter along axis 0, a scanline at a time."""
    out = np.array(image, order="C")  # a contiguous copy, so each scanline is one block
    for i in range(1, out.shape[0]):
        out[i] += feedback[i] * (out[i - 1] - out[i])
    for i in range(out.shape[0] - 2, -1, -1):
        out[i] += feedback[i + 1] * (out[i + 1] - out[i])
    return out


def _domain_transform(image: np.ndarray, sigma_space: float, sigma_range: float, iterations: int = 3) -> np.ndarray:
    """Edge-preserving smoothing (Gastal & Oliveira 2011, recursive filter).

    Distances are stretched by colour differences, so the blur runs freely over flat
    regions and stops at edges -- a bilateral-like result in linear time.
    """
    stretch = sigma_space / sigma_range
    dist_x = 1.0 + stretch * np.abs(np.diff(image, axis=1, prepend=image[:, :1])).sum(axis=2)
    dist_y = 1.0 + stretch * np.abs(np.diff(image, axis=0, prepend=image[:1])).sum(axis=2)
    out = image
    for i in range(iterations):
        # Halving sigmas (variances summing to sigma_space**2) hide the separable passes' stripes.
        sigma_i = sigma_space * 2.0 ** (iterations - i - 1) * np.sqrt(3.0 / (4.0**iterations - 1))
        decay = np.float32(np.exp(-np.sqrt(2.0) / sigma_i))
        rows = _recursive_pass(out.transpose(1, 0, 2), (decay**dist_x.T)[..., None])
        out = _recursive_pass(rows.transpose(1, 0, 2), (decay**dist_y)[..., None])
    return out


def _nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the closest centre for each point (squared Euclidean distance)."""
    return ((centres**2).sum(axis=1) - 2.0 * points @ centres.T).argmin(axis=1)


def _palette(image: np.ndarray, colours: int, rng: np.random.Generator, samples: int = 4096) -> np.ndarray:
    """Quantise to ``colours`` flat colours found by k-means in CIELAB (perceptual distances)."""
    lab = rgb2lab(image).reshape(-1, 3).astype(np.float32)
    sample = lab[rng.choice(len(lab), size=min(samples, len(lab)), replace=False)]

    # k-means++ seeding, then Lloyd iterations on the sample.
    centres = sample[[rng.integers(len(sample))]]
    for _ in range(1, colours):
        nearest = ((sample[:, None] - centres[None]) ** 2).sum(axis=2).min(axis=1)
        nearest = nearest.astype(np.float64)
        pick = rng.choice(len(sample), p=nearest / nearest.sum()) if nearest.sum() > 0 else 0
        centres = np.vstack([centres, sample[pick]])
    for _ in range(10):
        labels = _nearest(sample, centres)
        counts = np.bincount(labels, minlength=colours)[:, None]
        sums = np.stack([np.bincount(labels, sample[:, c], colours) for c in range(3)], axis=1)
        centres = np.where(counts > 0, sums / np.maximum(counts, 1), centres).astype(np.float32)

    # Each colour is the mean RGB of its pixels, so the palette matches the image exactly.
    labels = _nearest(lab, centres)
    pixels = image.reshape(-1, 3)
    counts = np.bincount(labels, minlength=colours)[:, None]
    sums = np.stack([np.bincount(labels, pixels[:, c], colours) for c in range(3)], axis=1)
    palette = (sums / np.maximum(counts, 1)).astype(np.float32)
    return palette[labels].reshape(image.shape)


def _outlines(luma: np.ndarray, sigma: float, threshold: float) -> np.ndarray:
    """Ink coverage in [0, 1] from the dark side of a difference of Gaussians."""
    dog = ndimage.gaussian_filter(luma, sigma) - ndimage.gaussian_filter(luma, 1.6 * sigma)
    return _smoothstep(threshold, 2.0 * threshold, -dog)


def cartoon(
    image: np.ndarray,
    levels: int = 12,
    smoothing: float = 30.0,
    saturation: float = 1.2,
    line_width: float = 1.5,
    line_threshold: float = 0.006,
    seed: int = 0,
) -> np.ndarray:
    """Cartoon / cel look: flattened regions in ``levels`` flat colours, black ink outlines.

    ``smoothing`` is the spatial reach of the flattening and ``line_width`` the ink
    line scale (both pixels at ``REFERENCE_SIDE``); ``line_threshold`` is how strong
    an edge must be to be inked (lower: more lines).  Lines are found on a milder
    smoothing than the colours, so features such as eyes keep their outlines while
    the fills go flat.
    """
    photo = _as_image(image)
    scale = _scale(photo)
    fills = _domain_transform(photo, max(2.0, smoothing * scale), sigma_range=0.6)
    flat = _saturate(_palette(fills, levels, np.random.default_rng(seed)), saturation)
    detail = _domain_transform(photo, max(2.0, 0.66 * smoothing * scale), sigma_range=0.4)
    ink = _outlines(_luminance(detail), max(0.7, line_width * scale), line_threshold)
    return _finish(flat * (1.0 - ink[..., None]))


# --------------------------------------------------------------------------- colour grade


def color_grade(
    image: np.ndarray,
    contrast: float = 0.6,
    split_tone: float = 0.4,
    hue_pull: float = 0.35,
    fade: float = 0.06,
    vignette: float = 0.35,
) -> np.ndarray:
    """Teal/orange film grade: S-curve contrast, split toning, faded blacks and a vignette.

    Colours are pulled toward the orange-teal axis (``hue_pull``), then shadows are
    pushed toward teal and highlights toward orange along zero-luminance directions,
    so tone changes while structure stays; ``contrast`` blends in a smoothstep
    S-curve, ``fade`` lifts the black point and ``vignette`` darkens the corners.
    """
    photo = _as_image(image)
    graded = photo + contrast * (photo * photo * (3.0 - 2.0 * photo) - photo)
    graded = fade + (1.0 - 1.5 * fade) * graded

    teal = np.array([0.0, 0.55, 0.6], dtype=np.float32)
    orange = np.array([1.0, 0.72, 0.45], dtype=np.float32)
    teal -= teal @ _LUMA
    orange -= orange @ _LUMA
    luma = _luminance(graded)[..., None]
    chroma = graded - luma
    axis = orange / np.linalg.norm(orange)
    along = (chroma @ axis)[..., None] * axis
    chroma = along + (1.0 - hue_pull) * (chroma - along)
    shadows = 1.0 - _smoothstep(0.0, 0.65, luma)
    highlights = _smoothstep(0.35, 1.0, luma)
    graded = luma + chroma + split_tone * (shadows * teal + highlights * orange)

    height, width = photo.shape[:2]
    y, x = np.ogrid[-1.0 : 1.0 : height * 1j, -1.0 : 1.0 : width * 1j]
    radius = np.sqrt((x * x + y * y) / 2.0).astype(np.float32)
    graded = graded * (1.0 - vignette * _smoothstep(0.45, 1.0, radius))[..., None]
    return _finish(graded)


# --------------------------------------------------------------------------- tone map


def tone_map(
    image: np.ndarray,
    matrix: tuple[tuple[float, float, float], ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0),
    gamma: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> np.ndarray:
    """A global colour change: each pixel's RGB times ``matrix`` (rows are output channels) plus ``offset``, then
    each channel raised to its ``gamma``. The defaults change nothing."""
    photo = _as_image(image)
    mapped = np.clip(photo @ np.asarray(matrix, dtype=np.float32).T + np.asarray(offset, dtype=np.float32), 0.0, 1.0)
    return _finish(mapped ** np.asarray(gamma, dtype=np.float32))


# --------------------------------------------------------------------------- registry

ARTWORK_FILTERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "oil": oil_paint,
    "sketch": pencil_sketch,
    "cartoon": cartoon,
    "grade": color_grade,
}
"""Artwork styles by name, each with its default parameters."""


def apply_artwork(name: str, image: Image.Image) -> Image.Image:
    """Render a PIL image in the named artwork style (RGB in, RGB out; alpha is dropped)."""
    if name not in ARTWORK_FILTERS:
        valid = ", ".join(sorted(ARTWORK_FILTERS))
        raise ValueError(f"unknown artwork style {name!r}; valid styles are: {valid}")
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    art = ARTWORK_FILTERS[name](pixels)
    return Image.fromarray(np.round(art * 255.0).astype(np.uint8))
