"""Artwork filters: the array contract, determinism, and that each makes its own kind of change."""

from typing import Callable

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage import data

from stylegan_hub.artwork import (
    ARTWORK_FILTERS,
    apply_artwork,
    cartoon,
    color_grade,
    oil_paint,
    pencil_sketch,
)

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
Outputs = dict[str, np.ndarray]


def luminance(image: np.ndarray) -> np.ndarray:
    return image @ LUMA


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real 256x256 photo: skin, fabric, metal, dark and bright areas."""
    return data.astronaut()[::2, ::2].astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def edges(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the photo's strongest-edge 10 % and flattest 50 % of pixels."""
    smooth = ndimage.gaussian_filter(luminance(photo), 1.0)
    magnitude = np.hypot(ndimage.sobel(smooth, axis=0), ndimage.sobel(smooth, axis=1))
    return magnitude > np.quantile(magnitude, 0.9), magnitude < np.quantile(magnitude, 0.5)


@pytest.fixture(scope="module")
def outputs(photo: np.ndarray) -> Outputs:
    return {name: art(photo) for name, art in ARTWORK_FILTERS.items()}


def test_registry_names_the_four_styles() -> None:
    expected = {"oil": oil_paint, "sketch": pencil_sketch, "cartoon": cartoon, "grade": color_grade}
    assert ARTWORK_FILTERS == expected


@pytest.mark.parametrize("name", sorted(ARTWORK_FILTERS))
def test_shape_dtype_range_preserved_and_input_untouched(name: str, photo: np.ndarray) -> None:
    image = photo[:100, :150].copy()  # non-square, to catch swapped axes
    before = image.copy()
    art = ARTWORK_FILTERS[name](image)
    assert art.shape == image.shape
    assert art.dtype == np.float32
    assert 0.0 <= art.min() and art.max() <= 1.0
    np.testing.assert_array_equal(image, before)
    assert not np.shares_memory(art, image)


@pytest.mark.parametrize("name", sorted(ARTWORK_FILTERS))
def test_deterministic(name: str, photo: np.ndarray, outputs: Outputs) -> None:
    np.testing.assert_array_equal(ARTWORK_FILTERS[name](photo), outputs[name])


@pytest.mark.parametrize("art", [oil_paint, pencil_sketch])
def test_seed_picks_the_texture(art: Callable[..., np.ndarray], photo: np.ndarray) -> None:
    assert np.abs(art(photo, seed=1) - art(photo, seed=0)).mean() > 1e-3


@pytest.mark.parametrize("name", sorted(ARTWORK_FILTERS))
def test_rejects_non_float_or_non_rgb_arrays(name: str, photo: np.ndarray) -> None:
    with pytest.raises(ValueError, match="HxWx3"):
        ARTWORK_FILTERS[name](photo[..., 0])
    with pytest.raises(ValueError, match="uint8"):
        ARTWORK_FILTERS[name]((photo * 255).astype(np.uint8))


def test_oil_flattens_detail_but_keeps_the_picture(photo: np.ndarray, outputs: Outputs) -> None:
    def detail(image: np.ndarray) -> float:  # high-frequency energy of the luminance
        luma = luminance(image)
        return float(np.mean((luma - ndimage.gaussian_filter(luma, 1.5)) ** 2))

    def typical_local_std(image: np.ndarray) -> float:  # median over 5x5 windows: not the edges
        luma = luminance(image)
        variance = ndimage.uniform_filter(luma**2, 5) - ndimage.uniform_filter(luma, 5) ** 2
        return float(np.median(np.sqrt(np.maximum(variance, 0.0))))

    oil = outputs["oil"]
    assert detail(oil) < 0.9 * detail(photo)
    assert typical_local_std(oil_paint(photo, texture=0.0)) < 0.7 * typical_local_std(photo)
    low_pass = ndimage.gaussian_filter(oil, (4, 4, 0)) - ndimage.gaussian_filter(photo, (4, 4, 0))
    assert np.abs(low_pass).mean() < 0.03


def test_sketch_is_grey_with_dark_strokes_on_edges(outputs: Outputs, edges) -> None:
    sketch = outputs["sketch"]
    spread = sketch.max(axis=2) - sketch.min(axis=2)
    assert spread.max() < 0.08  # only the faint paper tint
    strong, flat = edges
    tone = luminance(sketch)
    assert tone[strong].mean() < tone[flat].mean() - 0.08
    assert np.quantile(tone[strong], 0.25) < 0.5  # real graphite lines, not a faint haze


def test_cartoon_has_a_small_flat_palette(photo: np.ndarray, outputs: Outputs) -> None:
    def colour_counts(image: np.ndarray) -> np.ndarray:
        pixels = np.round(image * 255).astype(np.uint8).reshape(-1, 3)
        return np.unique(pixels, axis=0, return_counts=True)[1]

    photo_counts, cartoon_counts = colour_counts(photo), colour_counts(outputs["cartoon"])
    assert len(cartoon_counts) < len(photo_counts) / 10
    top = np.sort(cartoon_counts)[::-1][:12]  # the palette, the rest is anti-aliased ink
    assert top.sum() > 0.85 * cartoon_counts.sum()


def test_cartoon_inks_dark_outlines_along_edges_only() -> None:
    # Flat, bright coloured blocks with mild noise: ink may only appear at their borders.
    image = np.empty((128, 128, 3), dtype=np.float32)
    image[:, :64] = (0.9, 0.6, 0.3)
    image[:, 64:] = (0.4, 0.7, 0.9)
    image[40:90, 30:100] = (0.95, 0.9, 0.5)
    image += np.random.default_rng(0).normal(0.0, 0.01, image.shape).astype(np.float32)
    border = np.zeros((128, 128), dtype=bool)
    border[:, 61:67] = True
    border[37:43, 27:103] = border[87:93, 27:103] = True
    border[37:93, 27:33] = border[37:93, 97:103] = True
    interior = ~ndimage.binary_dilation(border, iterations=4)
    interior[:8] = interior[-8:] = interior[:, :8] = interior[:, -8:] = False

    tone = luminance(cartoon(image))
    assert (tone[border] < 0.2).mean() > 0.2  # black lines run along the borders
    assert (tone[interior] < 0.4).mean() < 0.01  # fills stay clean


def test_grade_tints_shadows_teal_highlights_orange(photo: np.ndarray, outputs: Outputs) -> None:
    graded = outputs["grade"]
    luma = luminance(photo)
    shadows, highlights = luma < 0.25, luma > 0.7

    def teal(image: np.ndarray) -> float:
        return float(((image[..., 1] + image[..., 2]) / 2 - image[..., 0])[shadows].mean())

    def orange(image: np.ndarray) -> float:
        return float((image[..., 0] - image[..., 2])[highlights].mean())

    assert teal(graded) > teal(photo) + 0.05
    assert orange(graded) > orange(photo) + 0.05
    assert np.corrcoef(luma.ravel(), luminance(graded).ravel())[0, 1] > 0.95


def test_grade_is_global_not_local(photo: np.ndarray, outputs: Outputs) -> None:
    # Same colour in -> same colour out, up to the smooth vignette: centre pixels obey one curve.
    centre = (slice(96, 160), slice(96, 160))
    flat = photo[centre].reshape(-1, 3)
    graded = outputs["grade"][centre].reshape(-1, 3)
    colours = np.round(flat * 255).astype(np.uint8)
    _, first, inverse = np.unique(colours, axis=0, return_index=True, return_inverse=True)
    assert np.abs(graded - graded[first][inverse.ravel()]).max() < 1e-6


@pytest.mark.parametrize("name", sorted(ARTWORK_FILTERS))
def test_apply_artwork_round_trips_pil_images(name: str, photo: np.ndarray) -> None:
    rgba = Image.fromarray(np.round(photo[:96, :128] * 255).astype(np.uint8)).convert("RGBA")
    art = apply_artwork(name, rgba)
    assert art.mode == "RGB" and art.size == rgba.size
    expected = ARTWORK_FILTERS[name](np.asarray(rgba.convert("RGB"), dtype=np.float32) / 255.0)
    np.testing.assert_allclose(np.asarray(art) / 255.0, expected, atol=0.5 / 255 + 1e-6)


def test_apply_artwork_rejects_unknown_style(photo: np.ndarray) -> None:
    image = Image.fromarray(np.round(photo * 255).astype(np.uint8))
    with pytest.raises(ValueError, match=r"'watercolour'.*cartoon, grade, oil, sketch"):
        apply_artwork("watercolour", image)
