import numpy as np
import pytest
import torch

from stylegan_hub.artwork import apply_artwork
from stylegan_hub.data import sample_photos
from stylegan_hub.inference import pil_to_tensor
from stylegan_hub.metrics import (
    METRICS,
    color_histogram_distance,
    content_kept,
    evaluate_outputs,
    psnr,
    sliced_wasserstein,
    ssim,
    style_distance,
)


def small(image, side=128):
    image = image.copy()
    image.thumbnail((side, side))
    return image


@pytest.fixture(scope="module")
def photos():
    return [small(p) for p in sample_photos("train")[:3]]


def tensors(images):
    return [pil_to_tensor(image) for image in images]


def test_psnr_matches_its_definition_and_ssim_is_one_only_for_identical_images():
    torch.manual_seed(0)
    a = torch.rand(1, 3, 32, 32)
    b = (a + 0.1).clamp(0, 1)
    expected = 10 * np.log10(1 / ((a - b) ** 2).mean().item())
    assert psnr(a, b) == pytest.approx(expected, rel=1e-5)
    assert psnr(a, a) == 100.0
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    assert ssim(a, torch.rand(1, 3, 32, 32)) < 0.2
    with pytest.raises(ValueError, match="same size"):
        psnr(a, torch.rand(1, 3, 16, 16))


def test_content_kept_ignores_colour_but_not_lost_structure(photos):
    photo = pil_to_tensor(photos[0])
    recoloured = photo[:, [2, 0, 1]] * 0.7 + 0.2  # a strong colour/tone change, same contours
    blurred = torch.nn.functional.avg_pool2d(photo, 9, 1, 4, count_include_pad=False)  # contours washed out
    flat = torch.full_like(photo, 0.5)
    kept = content_kept(recoloured, photo)
    assert kept > 0.8
    assert content_kept(blurred, photo) < kept
    assert content_kept(flat, photo) < 0.3


def test_content_kept_is_a_recall_of_the_photos_contours(photos):
    """Texture laid over the photo keeps its contours; flattening half the picture loses half; another picture none."""
    photo = pil_to_tensor(photos[0])
    height, width = photo.shape[-2:]
    rows = torch.arange(height)[:, None].expand(height, width)
    columns = torch.arange(width)[None].expand(height, width)
    course = (rows // 8) % 2  # brick bond: 8-pixel courses, joints every 16 pixels, offset on every other course
    mortar = ((rows % 8) < 2) | (((columns + course * 8) % 16) < 2)
    textured = (photo - 0.6 * mortar.float()).clamp(0, 1)  # dark mortar over the whole photo
    half_flat = photo.clone()
    half_flat[..., width // 2 :] = photo[..., width // 2 :].mean()
    other = pil_to_tensor(photos[1].resize((width, height)))
    assert content_kept(textured, photo) > 0.7  # the SSIM of edge maps gave 0.37
    assert 0.3 < content_kept(half_flat, photo) < 0.7
    assert abs(content_kept(other, photo)) < 0.2
    assert content_kept(1 - photo, photo) < -0.9  # an inverted picture runs every contour the other way
    faded = (photo - photo.mean()) * 0.02 + photo.mean()  # every contour still there, at 2% of its contrast
    assert content_kept(faded, photo) < 0.4
    assert content_kept((photo - photo.mean()) * 0.5 + photo.mean(), photo) > 0.9  # a milder contrast is a style's choice


def test_swd_and_colour_distance_rank_a_style_above_the_photos(photos):
    """Sketches of new photos are closer (in SWD and palette) to sketch exemplars than the photos themselves are."""
    exemplars = tensors([apply_artwork("sketch", p) for p in photos[:2]])
    heldout = [small(p) for p in sample_photos("heldout")]
    styled = tensors([apply_artwork("sketch", p) for p in heldout])
    plain = tensors(heldout)
    assert sliced_wasserstein(styled, exemplars) < 0.7 * sliced_wasserstein(plain, exemplars)
    assert color_histogram_distance(styled, exemplars) < 0.5 * color_histogram_distance(plain, exemplars)
    assert sliced_wasserstein(styled, exemplars) == sliced_wasserstein(styled, exemplars)  # deterministic
    assert color_histogram_distance(exemplars, exemplars) == 0


def test_evaluate_outputs_uses_the_references_given(photos):
    photo_tensors = tensors(photos)
    targets = tensors([apply_artwork("grade", p) for p in photos])
    results = evaluate_outputs(photo_tensors, photos=photo_tensors, style_images=targets[:2], targets=targets)
    assert set(results) == {*METRICS, "style_distance"}
    assert results["style_distance"] == pytest.approx(1.0)  # the photo is exactly as far from the style as itself
    assert results["content_kept"] == pytest.approx(1.0, abs=1e-6)
    unpaired = evaluate_outputs(photo_tensors, photos=photo_tensors, style_images=targets[:2])
    assert "psnr" not in unpaired and "swd" in unpaired


def test_style_distance_rewards_the_style_not_the_photo(photos):
    """The photo scores 1 and the style's own rendering 0; a render with other brush noise is close to the style,
    while a colour-only change (Reinhard toward other paintings) or a blurred photo is not closer than the photo."""
    from stylegan_hub.artwork import oil_paint
    from stylegan_hub.baselines import reinhard_transfer

    photo_tensors = tensors(photos)
    targets = tensors([apply_artwork("oil", p) for p in photos])
    other_noise = [torch.from_numpy(oil_paint(t[0].permute(1, 2, 0).numpy(), seed=5)).permute(2, 0, 1)[None] for t in photo_tensors]
    recoloured = [reinhard_transfer(p, tensors([apply_artwork("oil", small(q)) for q in sample_photos("heldout")])) for p in photo_tensors]
    blurred = [torch.nn.functional.avg_pool2d(p, 3, 1, 1) for p in photo_tensors]
    assert style_distance(targets, photo_tensors, targets) == 0
    assert style_distance(photo_tensors, photo_tensors, targets) == pytest.approx(1.0)
    assert style_distance(other_noise, photo_tensors, targets) < 0.5
    assert style_distance(recoloured, photo_tensors, targets) > 1 and style_distance(blurred, photo_tensors, targets) > 1


class TinyInception(torch.nn.Module):
    """Stands in for inception-2015-12-05.pt: same call, uint8 NCHW in, a feature vector per image out."""

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = x.float() / 255
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3)), x[:, :, ::4, ::4].flatten(2).std(dim=2)], dim=1)


@pytest.fixture
def inception_file(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is the format the real weights come in
        path = tmp_path / "inception.pt"
        torch.jit.script(TinyInception()).save(str(path))
    return path


def test_frechet_and_kernel_distances_match_their_definitions():
    from stylegan_hub.metrics.inception import frechet_distance, kernel_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (20000, 1)), rng.normal(1, 2, (20000, 1))
    assert frechet_distance(a, b) == pytest.approx(1 + 1 + 4 - 2 * 2, abs=0.1)  # (mu_a-mu_b)^2 + s_a^2 + s_b^2 - 2 s_a s_b
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    first, second, shifted = rng.normal(0, 1, (400, 8)), rng.normal(0, 1, (400, 8)), rng.normal(0.5, 1, (400, 8))
    unbiased = kernel_distance(first, second, subsets=20, subset_size=200)
    assert abs(unbiased) < 0.1 * kernel_distance(shifted, second, subsets=20, subset_size=200)
    with pytest.raises(ValueError, match="at least 2"):
        kernel_distance(a[:1], b)


def test_fid_and_kid_only_with_local_inception_weights(photos, inception_file, monkeypatch, tmp_path):
    from stylegan_hub.metrics.inception import INCEPTION_ENV, InceptionUnavailable

    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    exemplars = tensors([apply_artwork("sketch", p) for p in photos])
    plain, sketched = tensors(photos), tensors([apply_artwork("sketch", p.rotate(180)) for p in photos])
    assert "fid" not in evaluate_outputs(plain, photos=plain, style_images=exemplars)
    near = evaluate_outputs(sketched, photos=plain, style_images=exemplars, inception_weights=str(inception_file))
    far = evaluate_outputs(plain, photos=plain, style_images=exemplars, inception_weights=str(inception_file))
    assert near["fid"] < far["fid"] and near["kid"] < far["kid"]
    from stylegan_hub.metrics.report import format_table

    table = format_table({"model": near, "photo": far})
    assert f"| fid | {near['fid']:.3f} | {far['fid']:.3f} | lower |" in table and "| kid |" in table and "| psnr |" not in table
    monkeypatch.setenv(INCEPTION_ENV, str(inception_file))
    assert evaluate_outputs(plain, photos=plain, style_images=exemplars)["fid"] == pytest.approx(far["fid"])
    with pytest.raises(InceptionUnavailable, match="not found"):
        evaluate_outputs(plain, photos=plain, style_images=exemplars, inception_weights=str(tmp_path / "missing.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a network")
    with pytest.raises(InceptionUnavailable, match="not a TorchScript"):
        evaluate_outputs(plain, photos=plain, style_images=exemplars, inception_weights=str(tmp_path / "junk.pt"))
