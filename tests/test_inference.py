import numpy as np
import pytest
import torch
from PIL import Image

from stylegan_hub import ImageLoadError, StyleGenerator
from stylegan_hub.inference import pil_to_tensor, stylize_tensor


@pytest.fixture(scope="module", params=[0, 2], ids=["plain", "noise-input"])
def generator(request):
    torch.manual_seed(0)
    model = StyleGenerator(base_channels=4, num_res_blocks=2, noise_channels=request.param).eval()
    with torch.no_grad():  # a non-trivial mapping, so tiling errors would show
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def photo(width=61, height=47, mode="RGB"):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) % 256], -1) + rng.normal(0, 10, (height, width, 3))
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).convert(mode)


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (61, 47), (64, 64), (5, 130)])
def test_any_size(generator, size):
    out = generator.stylize(photo(*size))
    assert out.size == size and out.mode == "RGB"


@pytest.mark.parametrize(
    "mode, expected", [("L", "RGB"), ("LA", "RGBA"), ("RGBA", "RGBA"), ("P", "RGB"), ("CMYK", "RGB"), ("I;16", "RGB"), ("1", "RGB")]
)
def test_odd_modes(generator, mode, expected):
    source = photo()
    if mode == "I;16":
        image = Image.fromarray((np.asarray(source.convert("L"), dtype=np.uint16) * 257))
    else:
        image = source.convert(mode)
    out = generator.stylize(image)
    assert out.mode == expected and out.size == source.size


def test_alpha_is_kept(generator):
    image = photo().convert("RGBA")
    alpha = Image.fromarray((np.arange(47 * 61).reshape(47, 61) % 256).astype(np.uint8))
    image.putalpha(alpha)
    out = generator.stylize(image)
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))


def test_exif_orientation_is_honoured(generator, tmp_path):
    image = photo(60, 40)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert generator.stylize(tmp_path / "rotated.jpg").size == (40, 60)


def test_inputs_path_numpy_tensor(generator, tmp_path):
    image = photo()
    image.save(tmp_path / "p.png")
    from_path = generator.stylize(str(tmp_path / "p.png"))
    from_numpy = generator.stylize(np.asarray(image))
    from_tensor = generator.stylize(pil_to_tensor(image).repeat(2, 1, 1, 1))
    assert isinstance(from_tensor, list) and len(from_tensor) == 2
    for other in (from_numpy, *from_tensor):
        assert np.array_equal(np.asarray(from_path), np.asarray(other))


def test_strength_zero_returns_the_photo_and_strength_blends(generator):
    image = photo()
    assert np.array_equal(np.asarray(generator.stylize(image, strength=0)), np.asarray(image))
    x = pil_to_tensor(image)
    full, half = stylize_tensor(generator, x), stylize_tensor(generator, x, strength=0.5)
    assert torch.allclose(half, (x + full) / 2, atol=1e-6)


def test_preserve_color_keeps_chroma_and_takes_luminance(generator):
    """Guards against chroma taken from the wrong channel (U and V swapped) or flattened: each of U and V is compared
    with the photo's at every pixel, not as a median over both."""
    from stylegan_hub.color import rgb_to_yuv

    x = pil_to_tensor(photo())
    styled = stylize_tensor(generator, x)
    kept = stylize_tensor(generator, x, preserve_color=True)
    # Pixels the new luminance pushed out of the RGB gamut are clipped, which changes their chroma; the rest must match.
    in_gamut = ((kept > 0) & (kept < 1)).all(dim=1)
    kept_yuv, photo_yuv, styled_yuv = rgb_to_yuv(kept), rgb_to_yuv(x), rgb_to_yuv(styled)
    for channel in (1, 2):  # U, V
        assert torch.allclose(kept_yuv[:, channel][in_gamut], photo_yuv[:, channel][in_gamut], atol=1e-5), f"chroma channel {channel}"
    assert torch.allclose(kept_yuv[:, 0][in_gamut], styled_yuv[:, 0][in_gamut], atol=1e-5)
    assert in_gamut.float().mean() > 0.9  # the comparison covers most of the image
    assert (photo_yuv[:, 1] - photo_yuv[:, 2]).abs().mean() > 0.1 and photo_yuv[:, 1:].std(dim=(0, 2, 3)).min() > 0.05  # U != V, not flat


def test_max_side_downscales(generator):
    assert generator.stylize(photo(200, 100), max_side=50).size == (50, 25)
    assert generator.stylize(pil_to_tensor(photo(200, 100)), max_side=50)[0].size == (50, 25)


@pytest.mark.parametrize("kwargs, message", [(dict(strength=1.5), "strength"), (dict(max_side=0), "max_side"), (dict(tile=-1), "tile")])
def test_bad_options(generator, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generator.stylize(photo(), **kwargs)


def test_bad_image_inputs(generator, tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        generator.stylize(tmp_path / "empty.png")
    with pytest.raises(ValueError, match="tensor input"):
        generator.stylize(torch.zeros(1, 4, 8, 8))


def test_tiled_matches_untiled_without_seams(generator, monkeypatch):
    """Guards the shipped path: `stylize_tensor` tiling with the overlap it picks itself (with overlap 0, seams show)."""
    import stylegan_hub.inference as inference

    calls = []
    original = inference.run_generator_tiled
    monkeypatch.setattr(inference, "run_generator_tiled", lambda *a, **k: calls.append(1) or original(*a, **k))
    x = pil_to_tensor(photo(300, 260))
    whole = stylize_tensor(generator, x, tile=0, precision="float32")
    assert not calls
    tiled = stylize_tensor(generator, x, tile=4 * generator.receptive_radius + 16, precision="float32")
    assert calls  # it did cut tiles
    difference = (whole - tiled).abs()
    print(f"tiled vs untiled: max |diff| = {difference.max():.5f} (8-bit levels: {difference.max() * 255:.2f})")
    assert difference.max() < 2 / 255
    # No seam: the error along tile borders is no larger than elsewhere.
    assert difference.mean(dim=(0, 1)).max() < 1 / 255


def test_stylizing_builds_no_autograd_graph(generator):
    """Weights loaded for stylizing still require grad; a graph would keep every tile's activations alive."""
    assert all(p.requires_grad for p in generator.parameters())
    x = pil_to_tensor(photo(300, 260))
    assert not stylize_tensor(generator, x).requires_grad
    assert not stylize_tensor(generator, x, tile=2 * generator.receptive_radius * 2 + 16).requires_grad


def test_auto_tiling_kicks_in_for_large_images(generator, monkeypatch):
    import stylegan_hub.inference as inference

    calls = []
    original = inference.run_generator_tiled
    monkeypatch.setattr(inference, "run_generator_tiled", lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setattr(inference, "AUTO_TILE_PIXELS", 100 * 100)
    monkeypatch.setattr(inference, "AUTO_TILE_SIZE", 100)
    generator.stylize(photo(240, 120))
    assert calls


def test_automatic_tiles_grow_with_the_receptive_field(generator, monkeypatch):
    """Guards against tiles that are mostly overlap for a wide-field generator (the base layout at 4K took 15.9 s
    in 512-px tiles, 11.0 s in 768-px ones): the automatic tile is at least three overlaps wide."""
    import stylegan_hub.inference as inference

    sizes = []
    original = inference.run_generator_tiled
    monkeypatch.setattr(inference, "run_generator_tiled", lambda g, x, tile, overlap, *palette: sizes.append((tile, overlap)) or original(g, x, tile, overlap, *palette))
    monkeypatch.setattr(inference, "AUTO_TILE_PIXELS", 100 * 100)
    monkeypatch.setattr(inference, "AUTO_TILE_SIZE", 100)
    generator.stylize(photo(400, 200))
    overlap = 2 * generator.receptive_radius
    assert sizes == [(3 * overlap, overlap)] and 3 * overlap > 100


def test_precision_bfloat16_where_native_float32_otherwise(generator, monkeypatch):
    import stylegan_hub.inference as inference

    x = pil_to_tensor(photo(70, 50))
    exact = stylize_tensor(generator, x, precision="float32")
    with torch.inference_mode():
        assert torch.allclose(exact, generator.forward_image(x), atol=1e-6)
    half = stylize_tensor(generator, x, precision="bfloat16")
    difference = (half - exact).abs()
    assert 0 < difference.mean() < 0.5 / 255 and difference.max() < 4 / 255
    assert next(generator.parameters()).dtype == torch.float32  # the caller's model is not converted

    monkeypatch.setattr(inference, "_cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert torch.equal(stylize_tensor(generator, x), exact)
    monkeypatch.setattr(inference, "_cpu_flags", lambda: frozenset({"avx512f", "amx_bf16"}))
    assert torch.equal(stylize_tensor(generator, x), half)
    with pytest.raises(ValueError, match="precision must be one of"):
        stylize_tensor(generator, x, precision="fp8")


def test_the_prepared_copy_is_made_once_and_remade_when_the_weights_change():
    """Preparing the model cost 8% of a 512x512 call, so calls share one copy; a stale one would draw old weights."""
    from stylegan_hub.inference import inference_generator

    torch.manual_seed(0)
    model = StyleGenerator(base_channels=4, num_res_blocks=1).eval()
    x = pil_to_tensor(photo(40, 32))
    first = inference_generator(model, "float32")
    assert inference_generator(model, "float32") is first
    assert inference_generator(model, "bfloat16") is not first
    before = stylize_tensor(model, x, precision="float32")
    with torch.no_grad():  # an optimizer step changes the weights in place
        next(model.parameters()).add_(0.5)
    assert inference_generator(model, "float32") is not first
    after = stylize_tensor(model, x, precision="float32")
    with torch.inference_mode():
        assert not torch.allclose(after, before) and torch.allclose(after, model.forward_image(x), atol=1e-6)
    model.load_state_dict(StyleGenerator(base_channels=4, num_res_blocks=1).state_dict())
    with torch.inference_mode():
        assert torch.allclose(stylize_tensor(model, x, precision="float32"), model.forward_image(x), atol=1e-6)
    with torch.inference_mode():  # made here, its weights keep no version counter: never kept, still stylizes
        frozen = StyleGenerator(base_channels=4, num_res_blocks=1).eval()
    assert inference_generator(frozen, "float32") is not inference_generator(frozen, "float32")
    with torch.inference_mode():
        assert torch.allclose(stylize_tensor(frozen, x, precision="float32"), frozen.forward_image(x), atol=1e-6)
