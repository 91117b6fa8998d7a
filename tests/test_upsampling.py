"""Guided upsampling (`work_side`): a large image is stylized at a smaller size and brought back with the photo as
the guide."""

import pytest
import torch
import torch.nn.functional as F
from test_inference import photo

from stylegan_hub import StyleGenerator, upsampling
from stylegan_hub.color import luma
from stylegan_hub.inference import fit_tensor, pil_to_tensor, stylize_tensor


def detailed_photo(height=96, width=128):
    """Smooth colours plus pixel-level luminance detail a plain upsampling of a smaller copy cannot bring back."""
    torch.manual_seed(0)
    smooth = F.interpolate(torch.rand(1, 3, 4, 5), size=(height, width), mode="bicubic", align_corners=False)
    return (0.8 * smooth + 0.2 * torch.rand(1, 1, height, width)).clamp(0, 1)


def toned(x):
    """A sepia-like style: each output channel an affine map of the luminance."""
    return luma(x) * torch.tensor([0.9, 0.7, 0.4]).view(1, 3, 1, 1) + torch.tensor([0.1, 0.05, 0.0]).view(1, 3, 1, 1)


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_box_filter_is_the_window_mean_with_repeated_edges(radius):
    x = torch.rand(2, 3, 11, 17)
    expected = F.avg_pool2d(F.pad(x, (radius,) * 4, mode="replicate"), 2 * radius + 1, stride=1)
    assert torch.allclose(upsampling.box_filter(x, radius), expected, atol=1e-6)


def test_an_affine_style_comes_back_with_the_full_size_detail():
    """Guards the guided part: a tone-mapping style stylized at a quarter of the size is recovered at full size, detail
    included, where plain upsampling of the small result loses the detail."""
    full = detailed_photo()
    small = fit_tensor(full, 32)
    result = upsampling.guided_upsample(full, small, toned(small), eps=1e-6)
    plain = F.interpolate(toned(small), size=full.shape[-2:], mode="bilinear", align_corners=False)
    target = toned(full)
    error, plain_error = (result - target).abs().mean(), (plain - target).abs().mean()
    print(f"mean |error|: guided {error:.4f}, plain {plain_error:.4f}")
    assert error < 0.005 and plain_error > 3 * error


def test_texture_no_tone_map_explains_is_kept():
    """Guards the remainder: a texture the style draws (not a function of the photo) survives upsampling rather than
    being averaged into the tone maps."""
    full = detailed_photo()
    small = fit_tensor(full, 32)
    stripes = 0.1 * torch.sign(torch.sin(torch.arange(small.shape[-1]) * 1.3)).expand_as(small)
    result = upsampling.guided_upsample(full, small, (toned(small) + stripes).clamp(0, 1), eps=1e-6)
    drawn = F.interpolate(stripes, size=full.shape[-2:], mode="bilinear", align_corners=False)
    texture = result - toned(full)
    correlation = F.cosine_similarity(texture.flatten(), drawn.flatten(), dim=0)
    assert correlation > 0.8, correlation


def test_bands_do_not_change_the_result(monkeypatch):
    full = detailed_photo(101, 77)
    small = fit_tensor(full, 30)
    styled = torch.rand_like(small)
    whole = upsampling.guided_upsample(full, small, styled)
    monkeypatch.setattr(upsampling, "BAND_ROWS", 7)
    assert torch.allclose(upsampling.guided_upsample(full, small, styled), whole, atol=1e-6)


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    model = StyleGenerator(base_channels=4, num_res_blocks=1).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def test_work_side_runs_the_generator_small_and_returns_full_size(generator, monkeypatch):
    import stylegan_hub.inference as inference

    sizes = []
    original = inference.run_generator
    monkeypatch.setattr(inference, "run_generator", lambda g, x, *a, **k: sizes.append(tuple(x.shape[-2:])) or original(g, x, *a, **k))
    x = pil_to_tensor(photo(200, 120))
    fast = stylize_tensor(generator, x, work_side=50, precision="float32")
    assert sizes == [(30, 50)] and fast.shape == x.shape
    small = fit_tensor(x, 50)
    expected = upsampling.guided_upsample(x, small, stylize_tensor(generator, small, precision="float32"))
    assert torch.allclose(fast, expected, atol=1e-6)
    # Close to the full-size result, and far closer than the photo is.
    full = stylize_tensor(generator, x, precision="float32")
    assert (fast - full).abs().mean() < 0.5 * (x - full).abs().mean()


def test_work_side_no_smaller_than_the_image_changes_nothing(generator):
    x = pil_to_tensor(photo(64, 40))
    assert torch.equal(stylize_tensor(generator, x, work_side=64), stylize_tensor(generator, x))
    image = generator.stylize(photo(200, 120), work_side=50, strength=0.5, preserve_color=True)
    assert image.size == (200, 120)


@pytest.mark.parametrize("work_side", [0, 8, 12.5, True, "512"])
def test_bad_work_side_is_named(generator, work_side):
    with pytest.raises(ValueError, match="work_side"):
        generator.stylize(photo(), work_side=work_side)
