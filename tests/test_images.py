"""Tests for stylegan_hub.images: every odd image is built here with Pillow or numpy."""

from __future__ import annotations

import os
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from stylegan_hub.errors import ImageLoadError, StyleGanHubError
from stylegan_hub.images import (
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    expand_image_paths,
    load_image,
    save_image,
)

ORIENTATION = 0x0112


def pixels(image: Image.Image) -> list:
    return np.asarray(image).tolist()


def noise(width: int, height: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(0)
    channels = len(mode)
    return Image.fromarray(rng.integers(0, 256, (height, width, channels), dtype=np.uint8))


def assert_one_line_naming(exc: pytest.ExceptionInfo, name: str, *fragments: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{name}: "), message
    for fragment in fragments:
        assert fragment in message, message


# --- constants ----------------------------------------------------------------------


def test_constants() -> None:
    assert MAX_PIXELS == 100_000_000
    assert isinstance(IMAGE_EXTENSIONS, frozenset)
    assert {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"} <= IMAGE_EXTENSIONS
    assert all(ext.startswith(".") and ext == ext.lower() for ext in IMAGE_EXTENSIONS)


# --- Pillow modes (in-memory images) --------------------------------------------------


def _palette_image(transparency: bytes | int | None) -> Image.Image:
    image = Image.new("P", (2, 1), 0)
    image.putpalette([10, 20, 30, 40, 50, 60])
    image.putpixel((1, 0), 1)
    if transparency is not None:
        image.info["transparency"] = transparency
    return image


def _one_bit() -> Image.Image:
    image = Image.new("1", (2, 1), 0)
    image.putpixel((1, 0), 1)
    return image


def _with_key(mode: str, color, key) -> Image.Image:
    image = Image.new(mode, (2, 1), color)
    image.putpixel((1, 0), key)
    image.info["transparency"] = key
    return image


def _high_bit(mode: str, values: list) -> Image.Image:
    image = Image.new(mode, (len(values), 1))
    for x, value in enumerate(values):
        image.putpixel((x, 0), value)
    return image


MODE_CASES = {
    "1": (_one_bit, "RGB", [[[0, 0, 0], [255, 255, 255]]]),
    "L": (lambda: Image.new("L", (1, 1), 100), "RGB", [[[100, 100, 100]]]),
    "LA": (lambda: Image.new("LA", (1, 1), (100, 50)), "RGBA", [[[100, 100, 100, 50]]]),
    "P": (lambda: _palette_image(None), "RGB", [[[10, 20, 30], [40, 50, 60]]]),
    "P-transparency-bytes": (
        lambda: _palette_image(bytes([255, 0])),
        "RGBA",
        [[[10, 20, 30, 255], [40, 50, 60, 0]]],
    ),
    "P-transparency-index": (
        lambda: _palette_image(1),
        "RGBA",
        [[[10, 20, 30, 255], [40, 50, 60, 0]]],
    ),
    "L-transparency": (
        lambda: _with_key("L", 100, 7),
        "RGBA",
        [[[100, 100, 100, 255], [7, 7, 7, 0]]],
    ),
    "RGB-transparency": (
        lambda: _with_key("RGB", (1, 2, 3), (7, 8, 9)),
        "RGBA",
        [[[1, 2, 3, 255], [7, 8, 9, 0]]],
    ),
    "RGB": (lambda: Image.new("RGB", (1, 1), (1, 2, 3)), "RGB", [[[1, 2, 3]]]),
    "RGBA": (lambda: Image.new("RGBA", (1, 1), (1, 2, 3, 4)), "RGBA", [[[1, 2, 3, 4]]]),
    "RGBX": (lambda: Image.new("RGBX", (1, 1), (1, 2, 3, 4)), "RGB", [[[1, 2, 3]]]),
    "HSV": (lambda: Image.new("HSV", (1, 1), (0, 255, 255)), "RGB", [[[255, 0, 0]]]),
    "I;16": (lambda: _high_bit("I;16", [0, 257, 32768, 65535]), "RGB", None),
    "I;16B": (lambda: _high_bit("I;16B", [0, 257, 32768, 65535]), "RGB", None),
    "I;16L": (lambda: _high_bit("I;16L", [0, 257, 32768, 65535]), "RGB", None),
    "I-16-bit-range": (lambda: _high_bit("I", [0, 257, 32768, 65535, 70000, -5]), "RGB", None),
    "I-8-bit-range": (lambda: _high_bit("I", [0, 7, 128, 255, -5]), "RGB", None),
    "F-unit-range": (lambda: _high_bit("F", [0.0, 0.5, 1.0, -0.25]), "RGB", None),
    "F-byte-range": (lambda: _high_bit("F", [0.0, 100.4, 254.6, 300.0]), "RGB", None),
}
HIGH_BIT_EXPECTED = {
    "I;16": [0, 1, 128, 255],
    "I;16B": [0, 1, 128, 255],
    "I;16L": [0, 1, 128, 255],
    "I-16-bit-range": [0, 1, 128, 255, 255, 0],
    "I-8-bit-range": [0, 7, 128, 255, 0],
    "F-unit-range": [0, 128, 255, 0],
    "F-byte-range": [0, 100, 255, 255],
}


@pytest.mark.parametrize("case", sorted(MODE_CASES))
def test_pil_modes_convert_to_rgb_or_rgba(case: str) -> None:
    make, expected_mode, expected = MODE_CASES[case]
    if expected is None:
        expected = [[[v, v, v] for v in HIGH_BIT_EXPECTED[case]]]
    result = load_image(make())
    assert result.mode == expected_mode
    assert pixels(result) == expected


def test_cmyk_pure_cyan_is_rgb_cyan() -> None:
    result = load_image(Image.new("CMYK", (2, 2), (255, 0, 0, 0)))
    assert result.mode == "RGB"
    assert pixels(result)[0][0] == [0, 255, 255]


@pytest.mark.parametrize("mode", ["YCbCr", "LAB"])
def test_colour_spaces_convert_back_to_rgb(mode: str) -> None:
    colour = (200, 40, 90)
    source = Image.new("RGB", (1, 1), colour).convert(mode)
    assert source.mode == mode
    result = load_image(source)
    assert result.mode == "RGB"
    assert np.abs(np.asarray(result)[0, 0].astype(int) - colour).max() <= 8


def test_float_nan_image_is_an_error() -> None:
    with pytest.raises(ImageLoadError) as exc:
        load_image(_high_bit("F", [0.5, float("nan")]))
    assert_one_line_naming(exc, "image", "NaN")


def test_sixteen_bit_transparent_key_becomes_alpha() -> None:
    image = _high_bit("I;16", [0, 1000, 65535])
    image.info["transparency"] = 1000
    result = load_image(image)
    assert result.mode == "RGBA"
    assert pixels(result) == [[[0, 0, 0, 255], [4, 4, 4, 0], [255, 255, 255, 255]]]


def test_unconvertible_mode_is_an_error() -> None:
    with pytest.raises(ImageLoadError) as exc:
        load_image(Image.new("La", (1, 1)))
    assert_one_line_naming(exc, "image", "La")


def test_pil_input_is_not_modified_and_result_is_independent() -> None:
    source = _palette_image(bytes([255, 0]))
    before = (source.mode, source.size, source.tobytes(), dict(source.info))
    result = load_image(source)
    assert (source.mode, source.size, source.tobytes(), dict(source.info)) == before
    result.putpixel((0, 0), (1, 1, 1, 1))
    assert source.tobytes() == before[2]


def test_pil_input_limits_and_zero_size() -> None:
    with pytest.raises(ImageLoadError) as exc:
        load_image(Image.new("RGB", (0, 5)))
    assert_one_line_naming(exc, "image", "zero size")
    with pytest.raises(ImageLoadError) as exc:
        load_image(Image.new("RGB", (10, 10)), max_pixels=99)
    assert_one_line_naming(exc, "image", "10 x 10 = 100 pixels", "limit of 99")


def test_rejects_bad_source_type_and_max_pixels() -> None:
    with pytest.raises(TypeError, match="bytes"):
        load_image(b"x.png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(Image.new("RGB", (1, 1)), max_pixels=0)


# --- files ------------------------------------------------------------------------------


def test_sixteen_bit_png_scales_not_clips(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 300, 32768, 65535]], dtype=np.uint16)).save(path)
    with Image.open(path) as check:
        assert check.mode == "I;16"
    assert pixels(load_image(path)) == [[[0] * 3, [1] * 3, [128] * 3, [255] * 3]]


@pytest.mark.parametrize("mode", ["I;16B", "I", "F"])
def test_high_bit_tiff(tmp_path: Path, mode: str) -> None:
    values = {"I;16B": [0, 32768, 65535], "I": [0, 32768, 65535], "F": [0.0, 0.5, 1.0]}[mode]
    path = tmp_path / "deep.tif"
    _high_bit(mode, values).save(path)
    with Image.open(path) as check:
        assert check.mode == mode
    assert pixels(load_image(path)) == [[[0] * 3, [128] * 3, [255] * 3]]


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"print{suffix}"
    Image.new("CMYK", (8, 8), (255, 0, 0, 0)).save(path)
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    result = load_image(path)
    assert result.mode == "RGB"
    assert np.abs(np.asarray(result)[4, 4].astype(int) - (0, 255, 255)).max() <= 3


def test_palette_png_with_transparency_keeps_alpha(tmp_path: Path) -> None:
    path = tmp_path / "palette.png"
    _palette_image(bytes([255, 0])).save(path)
    with Image.open(path) as check:
        assert check.mode == "P"
    result = load_image(path)
    assert result.mode == "RGBA"
    assert pixels(result) == [[[10, 20, 30, 255], [40, 50, 60, 0]]]


def test_la_and_rgba_png(tmp_path: Path) -> None:
    Image.new("LA", (1, 1), (9, 99)).save(tmp_path / "la.png")
    Image.new("RGBA", (1, 1), (1, 2, 3, 4)).save(tmp_path / "rgba.png")
    assert pixels(load_image(tmp_path / "la.png")) == [[[9, 9, 9, 99]]]
    assert pixels(load_image(tmp_path / "rgba.png")) == [[[1, 2, 3, 4]]]


def test_one_bit_bmp(tmp_path: Path) -> None:
    path = tmp_path / "bits.bmp"
    _one_bit().save(path)
    result = load_image(path)
    assert result.mode == "RGB"
    assert pixels(result) == [[[0, 0, 0], [255, 255, 255]]]


@pytest.mark.parametrize("suffix", [".gif", ".tif"])
def test_multi_frame_uses_first_frame(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"anim{suffix}"
    frames = [Image.new("RGB", (4, 4), colour) for colour in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with Image.open(path) as check:
        assert check.n_frames == 2
    result = load_image(path)
    assert result.mode == "RGB"
    assert pixels(result)[0][0] == [255, 0, 0]


def test_path_like_and_str(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    Image.new("RGB", (3, 2), (5, 6, 7)).save(path)
    assert load_image(str(path)).size == (3, 2)
    assert load_image(path).size == (3, 2)


# EXIF orientation: stored pixels, transformed as the EXIF spec describes, give what is shown.
EXIF_DISPLAY = {
    1: lambda a: a,
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: np.rot90(np.fliplr(a), 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(np.fliplr(a), -1),
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", sorted(EXIF_DISPLAY))
def test_exif_orientation_all_eight(tmp_path: Path, orientation: int) -> None:
    stored = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path = tmp_path / "oriented.png"
    Image.fromarray(stored).save(path, exif=exif)
    result = load_image(path)
    np.testing.assert_array_equal(np.asarray(result), EXIF_DISPLAY[orientation](stored))


def test_exif_orientation_6_jpeg_rotates_clockwise(tmp_path: Path) -> None:
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 10, 10))  # red marker, top-left as stored
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif, quality=95)
    result = load_image(path)
    assert result.size == (20, 40)
    shown = np.asarray(result).astype(int)
    assert shown[5, 15, 0] > 200 and shown[5, 15, 2] < 60  # marker now top-right
    assert shown[5, 5, 0] < 60 and shown[5, 5, 2] > 200


def test_exif_orientation_of_pil_input(tmp_path: Path) -> None:
    path = tmp_path / "phone.png"
    exif = Image.Exif()
    exif[ORIENTATION] = 8
    Image.new("RGB", (4, 2)).save(path, exif=exif)
    with Image.open(path) as source:
        assert load_image(source).size == (2, 4)
        assert source.size == (4, 2)


# --- broken files ---------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    with pytest.raises(ImageLoadError) as exc:
        load_image(path)
    assert_one_line_naming(exc, str(path), "no such file")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError) as exc:
        load_image(tmp_path)
    assert_one_line_naming(exc, str(tmp_path), "folder")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageLoadError) as exc:
        load_image(path)
    assert_one_line_naming(exc, str(path), "file is empty")


@pytest.mark.parametrize("name", ["notes.txt", "fake.png"])
def test_not_an_image(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("hello, this is not an image\n")
    with pytest.raises(ImageLoadError) as exc:
        load_image(path)
    assert_one_line_naming(exc, str(path), "not an image Pillow can read")


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
@pytest.mark.parametrize("pillow_lenient", [False, True])
def test_truncated_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image_format: str, pillow_lenient: bool) -> None:
    # Even if other code asked Pillow to pad truncated files with grey, we must refuse them.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", pillow_lenient)
    path = tmp_path / f"cut.{image_format.lower()}"
    noise(64, 64).save(path, format=image_format)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError) as exc:
        load_image(path)
    assert_one_line_naming(exc, str(path), "truncated or corrupt")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is pillow_lenient


def test_corrupt_png_data_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.png"
    noise(64, 64).save(path)
    data = bytearray(path.read_bytes())
    data[200:400] = bytes(b ^ 0xFF for b in data[200:400])
    path.write_bytes(bytes(data))
    with pytest.raises(ImageLoadError) as exc:
        load_image(path)
    assert_one_line_naming(exc, str(path), "truncated or corrupt")


def test_errors_are_package_errors_and_value_errors(tmp_path: Path) -> None:
    with pytest.raises(StyleGanHubError):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ValueError):
        load_image(tmp_path / "missing.png")


# --- decompression bombs ----------------------------------------------------------------------


def _png_claiming(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header claims width x height; its pixel data is garbage."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"not zlib data") + chunk(b"IEND", b""))


def test_bomb_refused_from_header_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    _png_claiming(path, 20000, 20000)
    with pytest.raises(ImageLoadError) as exc:
        load_image(path)
    # Decoding the garbage pixel data would have raised "truncated or corrupt" instead.
    assert_one_line_naming(
        exc,
        str(path),
        "20000 x 20000 = 400,000,000 pixels is more than the limit of 100,000,000",
        "pass a larger max_pixels",
    )


def test_header_under_limit_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "garbage.png"
    _png_claiming(path, 10, 10)
    with pytest.raises(ImageLoadError, match="truncated or corrupt"):
        load_image(path)


def test_max_pixels_boundary(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (100, 50)).save(path)
    assert load_image(path, max_pixels=5000).size == (100, 50)
    with pytest.raises(ImageLoadError) as exc:
        load_image(path, max_pixels=4999)
    assert_one_line_naming(exc, str(path), "100 x 50 = 5,000 pixels", "limit of 4,999")


def test_our_limit_decides_not_pillows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "medium.png"
    tiff = tmp_path / "medium.tif"  # Pillow checks TIFF sizes again while decoding
    Image.new("RGB", (50, 50), (1, 2, 3)).save(path)
    Image.new("RGB", (50, 50), (1, 2, 3)).save(tiff)
    with Image.open(path) as lazy:  # header read, pixels not yet decoded
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow: warn over 100, fail over 200
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert pixels(load_image(path))[0][0] == [1, 2, 3]
            assert pixels(load_image(tiff))[0][0] == [1, 2, 3]
            assert pixels(load_image(lazy))[0][0] == [1, 2, 3]
    assert Image.MAX_IMAGE_PIXELS == 100  # restored
    with pytest.raises(ImageLoadError, match="50 x 50 = 2,500 pixels"):
        load_image(path, max_pixels=2499)
    assert Image.MAX_IMAGE_PIXELS == 100


@pytest.mark.parametrize("pixels_found", [150, 10**10], ids=["warning", "error"])
def test_pillow_bomb_check_while_decoding_becomes_our_error(monkeypatch: pytest.MonkeyPatch, pixels_found: int) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow: warn over 100, fail over 200

    class Bomb(Image.Image):
        def load(self):  # what Pillow does when a frame or tile is over its limit
            Image._decompression_bomb_check((pixels_found, 1))
            return super().load()

    source = Image.new("RGB", (4, 4))
    source.__class__ = Bomb
    with pytest.raises(ImageLoadError) as exc:
        load_image(source, max_pixels=100)
    assert_one_line_naming(exc, "image", "limit of 100 pixels", "pass a larger max_pixels")


# --- numpy arrays -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "mode"),
    [
        ((2, 3), "RGB"),
        ((2, 3, 1), "RGB"),
        ((2, 3, 2), "RGBA"),
        ((2, 3, 3), "RGB"),
        ((2, 3, 4), "RGBA"),
    ],
)
def test_array_shapes(shape: tuple, mode: str) -> None:
    array = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    result = load_image(array)
    assert result.mode == mode
    assert result.size == (3, 2)
    out = np.asarray(result)
    if len(shape) == 2 or shape[2] == 1:
        expected = np.repeat(array.reshape(2, 3, 1), 3, axis=2)
    elif shape[2] == 2:
        expected = np.dstack([array[..., 0]] * 3 + [array[..., 1]])
    else:
        expected = array
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.array([[False, True]]), [0, 255]),
        (np.array([[0, 7, 255]], dtype=np.uint8), [0, 7, 255]),
        (np.array([[0, 128, 129, 257, 32768, 65535]], dtype=np.uint16), [0, 0, 1, 1, 128, 255]),
        (np.array([[0, 32768, 65535]], dtype=">u2"), [0, 128, 255]),
        (np.array([[0, 9, 127]], dtype=np.int8), [0, 9, 127]),
        (np.array([[0, 9, 255]], dtype=np.int16), [0, 9, 255]),
        (np.array([[0, 9, 255]], dtype=np.int32), [0, 9, 255]),
        (np.array([[0, 9, 255]], dtype=np.int64), [0, 9, 255]),
        (np.array([[0, 9, 255]], dtype=np.uint32), [0, 9, 255]),
        (np.array([[0.0, 0.5, 1.0, -0.5, 2.0]], dtype=np.float16), [0, 128, 255, 0, 255]),
        (np.array([[0.0, 0.5, 1.0, -0.5, 2.0]], dtype=np.float32), [0, 128, 255, 0, 255]),
        (np.array([[0.0, 0.5, 1.0, -np.inf, np.inf]], dtype=np.float64), [0, 128, 255, 0, 255]),
    ],
    ids=lambda v: str(v.dtype) if isinstance(v, np.ndarray) else None,
)
def test_array_dtypes(values: np.ndarray, expected: list) -> None:
    result = load_image(values)
    assert result.mode == "RGB"
    assert pixels(result) == [[[v, v, v] for v in expected]]


@pytest.mark.parametrize(
    ("array", "fragments"),
    [
        (np.array([[-1, 10]], dtype=np.int16), ["int16", "-1 to 10", "0..255"]),
        (np.array([[0, 300]], dtype=np.int64), ["int64", "0 to 300", "0..255"]),
        (np.array([[0.5, np.nan]], dtype=np.float32), ["NaN"]),
        (np.zeros((2, 2), dtype=np.complex64), ["complex64", "not supported"]),
        (np.zeros((3, 8, 8), dtype=np.uint8), ["(3, 8, 8)", "HxWx3", "transpose(1, 2, 0)"]),
        (np.zeros((1, 8, 8, 3), dtype=np.uint8), ["(1, 8, 8, 3)", "array[0]"]),
        (np.zeros((8, 8, 5), dtype=np.uint8), ["(8, 8, 5)", "HxWx4"]),
        (np.zeros(8, dtype=np.uint8), ["(8,)", "HxW"]),
        (np.zeros((0, 5), dtype=np.uint8), ["zero size"]),
        (np.zeros((5, 0, 3), dtype=np.uint8), ["zero size"]),
    ],
    ids=lambda v: "x".join(map(str, v.shape)) + str(v.dtype) if isinstance(v, np.ndarray) else "",
)
def test_array_errors(array: np.ndarray, fragments: list) -> None:
    with pytest.raises(ImageLoadError) as exc:
        load_image(array)
    assert_one_line_naming(exc, "array", *fragments)


def test_array_pixel_limit() -> None:
    with pytest.raises(ImageLoadError) as exc:
        load_image(np.zeros((10, 20), dtype=np.uint8), max_pixels=199)
    assert_one_line_naming(exc, "array", "20 x 10 = 200 pixels")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, bool])
def test_array_not_modified_and_not_shared(dtype) -> None:
    array = (np.arange(24).reshape(2, 3, 4) % 2).astype(dtype)
    before = array.copy()
    result = load_image(array)
    np.testing.assert_array_equal(array, before)
    snapshot = result.tobytes()
    array[...] = 0
    assert result.tobytes() == snapshot


# --- save_image -------------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_save_round_trip_creates_parents(tmp_path: Path) -> None:
    image = noise(8, 6, "RGBA")
    target = tmp_path / "a" / "b" / "out.png"
    returned = save_image(image, str(target))
    assert returned == target and isinstance(returned, Path)
    with Image.open(target) as saved:
        assert saved.format == "PNG"
        assert saved.tobytes() == image.tobytes()
    assert _leftovers(target.parent) == []


def test_save_new_file_permissions_follow_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        target = save_image(Image.new("RGB", (1, 1)), tmp_path / "out.png")
    finally:
        os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o644


def test_save_overwrite_keeps_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    target.chmod(0o600)
    save_image(Image.new("RGB", (1, 1)), target)
    assert target.stat().st_mode & 0o777 == 0o600
    with Image.open(target) as saved:
        assert saved.size == (1, 1)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".JPG"])
def test_save_jpeg_drops_alpha(tmp_path: Path, suffix: str) -> None:
    image = Image.new("RGBA", (8, 8), (200, 100, 50, 128))
    target = save_image(image, tmp_path / f"out{suffix}")
    with Image.open(target) as saved:
        assert saved.format == "JPEG"
        assert saved.mode == "RGB"
        assert np.abs(np.asarray(saved)[4, 4].astype(int) - (200, 100, 50)).max() <= 3
    assert image.mode == "RGBA"


@pytest.mark.parametrize("suffix", [".webp", ".bmp", ".tif", ".gif", ".ppm", ".tga"])
def test_save_other_formats(tmp_path: Path, suffix: str) -> None:
    target = save_image(Image.new("RGB", (4, 4), (255, 0, 0)), tmp_path / f"out{suffix}")
    assert load_image(target).size == (4, 4)


@pytest.mark.parametrize("name", ["out.xyz", "out", "out.pgm"])
def test_save_unknown_suffix(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    with pytest.raises(ValueError) as exc:
        save_image(Image.new("RGB", (1, 1)), target)
    assert_one_line_naming(exc, str(target), ".png", ".jpg")
    assert not target.exists()


def _failing_save(image: Image.Image, monkeypatch: pytest.MonkeyPatch) -> None:
    def save(fp, *args, **kwargs):
        fp.write(b"\x89PNG partial")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(image, "save", save)


def test_failed_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = Image.new("RGB", (4, 4))
    _failing_save(image, monkeypatch)
    target = tmp_path / "out.png"
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_image(image, target)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.png"
    Image.new("RGB", (2, 2), (1, 2, 3)).save(target)
    old = target.read_bytes()
    image = Image.new("RGB", (4, 4))
    _failing_save(image, monkeypatch)
    with pytest.raises(RuntimeError):
        save_image(image, target)
    assert target.read_bytes() == old
    assert _leftovers(tmp_path) == []


def test_failed_rename_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(OSError):
        save_image(Image.new("RGB", (1, 1)), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_save_then_load_with_pillow_writer_error(tmp_path: Path) -> None:
    # BMP cannot store "LA": Pillow's own error mid-save must leave no file behind.
    target = tmp_path / "out.bmp"
    with pytest.raises(OSError):
        save_image(Image.new("LA", (2, 2)), target)
    assert list(tmp_path.iterdir()) == []


# --- expand_image_paths -----------------------------------------------------------------------


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ["b.jpg", "a.png", "C.PNG", ".hidden.png", "notes.txt", "d.webp"]:
        (folder / name).write_bytes(b"x")
    (folder / "sub.png").mkdir()  # a folder with an image-like name is not an image
    (folder / "sub.png" / "deep.png").write_bytes(b"x")
    return folder


def test_expand_folder(photo_folder: Path) -> None:
    result = expand_image_paths([photo_folder])
    assert [p.name for p in result] == ["C.PNG", "a.png", "b.jpg", "d.webp"]
    assert all(p.parent == photo_folder for p in result)


def test_expand_file_kept_as_given(photo_folder: Path) -> None:
    notes = photo_folder / "notes.txt"
    assert expand_image_paths([str(notes)]) == [notes]


def test_expand_glob_sorted_with_folders(tmp_path: Path, photo_folder: Path) -> None:
    names = ["z.png", "m.png", "q.png", "b.png", "x.png", "k.png"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    result = expand_image_paths([str(tmp_path / "*.png")])
    assert result == [tmp_path / name for name in sorted(names)]
    result = expand_image_paths([str(tmp_path / "[mz]*")])
    assert [p.relative_to(tmp_path).as_posix() for p in result] == ["m.png", "z.png"]
    result = expand_image_paths([str(tmp_path / "p*")])
    assert [p.relative_to(tmp_path).as_posix() for p in result] == [
        "photos/C.PNG",
        "photos/a.png",
        "photos/b.jpg",
        "photos/d.webp",
    ]


def test_expand_keeps_order_and_drops_duplicates(tmp_path: Path, photo_folder: Path) -> None:
    extra = tmp_path / "extra.png"
    extra.write_bytes(b"x")
    result = expand_image_paths(
        [
            extra,
            photo_folder / "b.jpg",
            photo_folder,
            str(photo_folder / "a.png"),
            f"{photo_folder}/../photos/a.png",
            str(tmp_path / "*.png"),
        ]
    )
    assert [p.name for p in result] == ["extra.png", "b.jpg", "C.PNG", "a.png", "d.webp"]


def test_expand_nothing_matches(tmp_path: Path) -> None:
    for pattern in [tmp_path / "missing.png", tmp_path / "*.nope"]:
        with pytest.raises(ImageLoadError) as exc:
            expand_image_paths([pattern])
        assert_one_line_naming(exc, str(pattern), "no such file, folder or matching glob")


def test_expand_folder_without_images(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "readme.txt").write_text("x")
    (folder / ".secret.png").write_bytes(b"x")
    with pytest.raises(ImageLoadError) as exc:
        expand_image_paths([folder])
    assert_one_line_naming(exc, str(folder), "folder has no image files (looked for", ".png", ".jpg")


def test_expand_empty_input() -> None:
    assert expand_image_paths([]) == []
