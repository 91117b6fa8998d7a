"""The perceptual spaces: the random filter bank of the style losses (fixed, frozen, able to draw a texture) and the
luminance pyramid of the content loss (the layout, not the texture)."""

import sys
from pathlib import Path

import pytest
import torch

from stylegan_hub.models.perceptual import LuminancePyramid, RandomFilterBank

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))


def test_the_bank_is_the_same_everywhere_and_frozen():
    a, b = RandomFilterBank(), RandomFilterBank()
    assert all(torch.equal(a.get_buffer(name), b.get_buffer(name)) for name, _ in a.named_buffers())
    # Pinned values: a change of torch's generator (or of the recipe) would silently change every style loss.
    assert float(a.weight_3.abs().sum()) == pytest.approx(190.634, rel=1e-4)
    assert float(a.weight_3.sum()) == pytest.approx(8.882, rel=1e-3)
    assert not any(p.requires_grad for p in a.parameters()) and not list(a.parameters())
    assert not torch.equal(RandomFilterBank(seed=1).weight_3, a.weight_3)


def test_features_cover_every_scale_and_kernel():
    bank = RandomFilterBank(width=8, kernel_sizes=(3, 7), scales=(1, 2, 4))
    maps = bank.features(torch.rand(2, 3, 64, 48) * 2 - 1)
    assert [tuple(m.shape) for m in maps] == [(2, 8, 64, 48)] * 2 + [(2, 8, 32, 24)] * 2 + [(2, 8, 16, 12)] * 2
    assert all((m >= 0).all() for m in maps)


def test_features_by_scale_join_each_scales_kernels():
    bank = RandomFilterBank(width=4, kernel_sizes=(3, 5), scales=(1, 2))
    image = torch.rand(2, 3, 16, 16) * 2 - 1
    maps, joined = bank.features(image), bank.features_by_scale(image)
    assert [tuple(m.shape) for m in joined] == [(2, 8, 16, 16), (2, 8, 8, 8)]
    assert torch.equal(joined[0], torch.cat(maps[:2], dim=1)) and torch.equal(joined[1], torch.cat(maps[2:], dim=1))


def test_texture_synthesis_in_the_bank_draws_the_texture():
    """A few steps of Gram matching from noise already move the image toward a striped target; this is what the
    discriminator's features cannot do (docs/feature-space.md)."""
    import texture_synthesis

    y, x = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    stripes = torch.sin(x * 0.8 + y * 0.3).expand(1, 3, 48, 48).contiguous() * 0.8
    bank = RandomFilterBank(width=16, scales=(1, 2))  # a 48-px target has room for two scales
    result = texture_synthesis.synthesize(bank.features, stripes, steps=60, seed=0)
    noise = torch.rand(stripes.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert texture_synthesis.score(result, noise, stripes) < 0.6


def test_luminance_content_keeps_the_layout_and_leaves_fine_texture_free():
    from stylegan_hub import losses

    torch.manual_seed(0)
    pyramid = LuminancePyramid(scales=(4, 8))
    photo = torch.nn.functional.interpolate(torch.rand(2, 3, 8, 8), scale_factor=8, mode="bilinear") * 2 - 1  # 64x64
    maps = pyramid.features(photo)
    assert [tuple(m.shape) for m in maps] == [(2, 1, 16, 16), (2, 1, 8, 8)]
    checker = (torch.arange(64).view(1, 1, 64, 1) + torch.arange(64).view(1, 1, 1, 64)) % 2 * 0.4 - 0.2
    hatched = photo + checker  # a texture finer than the smallest scale: its own business
    toned = photo * 0.5 + 0.3  # a new tone curve: free under instance normalisation
    moved = photo.roll(16, dims=-1)  # the layout changed: what content is about
    cost = {name: losses.content_loss(pyramid.features(x), maps, normalized=True).item() for name, x in
            (("hatched", hatched), ("toned", toned), ("moved", moved))}  # fmt: skip
    # float32 rounding in the normalisation leaves up to about 2e-6 on "toned" (200 random photos), 1e5 x below "moved"
    assert cost["hatched"] < 1e-5 and cost["toned"] < 1e-5 and cost["moved"] > 0.3
