"""Losses, augmentation, data and checkpoint bookkeeping: the pieces the training loops are made of."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan_hub import losses
from stylegan_hub.augment import diff_augment, parse_policy
from stylegan_hub.data import (
    HELDOUT_PHOTOS,
    TRAIN_PHOTOS,
    DatasetImages,
    ImageFolder,
    PairedCrops,
    RandomCrops,
    before_after_pairs,
    sample_photos,
)
from stylegan_hub.models import StyleGenerator
from stylegan_hub.training.checkpoint import checkpoint_dirs, resolve_resume


def test_gram_style_loss_is_zero_for_the_same_texture_and_positive_otherwise():
    torch.manual_seed(0)
    texture = [torch.rand(1, 8, 16, 16)]
    targets = losses.style_targets(texture)
    assert losses.style_loss(texture, targets) < 1e-6
    assert losses.style_loss([torch.rand(1, 8, 16, 16) * 3], targets) > 0.5
    # Gram matrices ignore where things are: a shuffled texture has the same style.
    shuffled = [texture[0].flatten(2)[..., torch.randperm(256)].reshape(1, 8, 16, 16)]
    assert losses.style_loss(shuffled, targets) < 1e-6


def test_content_and_color_losses():
    x = torch.rand(2, 8, 16, 16)
    assert losses.content_loss([x], [x]) == 0 and losses.content_loss([x * 2], [x]) > 0.1
    image = torch.rand(2, 3, 16, 16)
    assert losses.color_loss(image, image) < 1e-8
    assert losses.color_loss(image * 0.5, image) > 1e-3


def test_sliced_wasserstein_loss_matches_whole_distributions_where_gram_matrices_see_only_second_moments():
    torch.manual_seed(0)
    gaussian = torch.randn(1, 4, 64, 64)
    shuffled = gaussian.flatten(2)[..., torch.randperm(64 * 64)].reshape(1, 4, 64, 64)
    assert losses.sliced_wasserstein_loss(shuffled, gaussian) < 1e-6  # where things are does not matter
    two_valued = torch.randn(1, 4, 64, 64).sign()  # +-1: the same mean (0) and covariance (identity) as the gaussian
    gram = losses.style_loss([two_valued], losses.style_targets([gaussian]))
    swd = losses.sliced_wasserstein_loss(two_valued, gaussian, max_samples=64 * 64)
    assert gram < 0.005 and swd > 20 * gram
    assert losses.sliced_wasserstein_loss(gaussian * 2, gaussian) > 0.5
    # Different sample counts compare by quantiles; the gradient moves the output's values toward the target's.
    small = torch.randn(1, 4, 8, 8, requires_grad=True)
    losses.sliced_wasserstein_loss(small, gaussian + 3).backward()
    assert (small.grad < 0).float().mean() > 0.9


def test_paired_distribution_loss_compares_each_image_with_its_own_target_wherever_its_marks_fall():
    torch.manual_seed(0)
    targets = torch.cat([torch.randn(1, 4, 32, 32), torch.randn(1, 4, 32, 32).sign() * 3])  # two styles in one batch
    moved = targets.roll(shifts=(5, 7), dims=(2, 3))  # the same marks elsewhere: as close as can be
    assert losses.paired_distribution_loss([moved], [targets], max_samples=32 * 32) < 1e-6
    swapped = targets.flip(0)  # each image given the other's statistics
    assert losses.paired_distribution_loss([swapped], [targets]) > 0.3
    assert losses.paired_distribution_loss([targets.mean(dim=(2, 3), keepdim=True).expand_as(targets)], [targets]) > 0.3  # flat


def test_colour_term_sees_a_tint_on_grey_exemplars():
    """Guards the chroma distance: on grey hatching, a fine-tune kept the photo's hues because the RGB distance alone
    scored a tinted output barely above the same output in grey."""
    torch.manual_seed(0)
    grey_exemplars = (torch.rand(2, 1, 64, 64) * 2 - 1).expand(2, 3, 64, 64)  # spread along the grey axis, like ink
    grey = (torch.rand(2, 1, 64, 64) * 2 - 1).expand(2, 3, 64, 64)
    tinted = grey + torch.tensor([0.06, -0.04, 0.06]).view(1, 3, 1, 1)  # purple: a few levels off grey
    rgb_only = [losses.sliced_wasserstein_loss(x, grey_exemplars, num_directions=losses.COLOR_DIRECTIONS).item() for x in (grey, tinted)]
    assert rgb_only[1] < 5 * rgb_only[0] + 0.01  # the RGB distance hardly notices
    assert losses.chroma_distance(grey, grey_exemplars) < 1e-6 and losses.chroma_distance(tinted, grey_exemplars) > 0.03
    with_chroma = [losses.color_distribution_loss(x, grey_exemplars).item() for x in (grey, tinted)]
    assert with_chroma[1] > with_chroma[0] + 0.03


def test_nearest_neighbour_loss_asks_each_output_vector_to_look_like_some_exemplar_vector():
    """Every output vector is scored against its most similar exemplar vector, so a copy of one exemplar part costs
    nothing (where distribution matching would ask for the other parts too), and a vector between two exemplar
    vectors costs its distance to the nearer one."""
    exemplar = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).T.reshape(1, 2, 1, 2)  # two vectors: (1, 0) and (0, 1)
    all_first = torch.tensor([1.0, 0.0]).reshape(1, 2, 1, 1).expand(1, 2, 3, 3)
    assert losses.nearest_neighbour_loss([all_first], [exemplar]).item() == pytest.approx(0.0, abs=1e-7)
    assert losses.distribution_loss([all_first], [exemplar]).item() > 0.1
    between = torch.tensor([0.9, 0.2]).reshape(1, 2, 1, 1)
    energy = exemplar.square().mean()
    expected = ((0.9 - 1.0) ** 2 + 0.2**2) / 2 / energy
    assert losses.nearest_neighbour_loss([between], [exemplar]).item() == pytest.approx(expected.item(), rel=1e-5)
    between.requires_grad_(True)
    losses.nearest_neighbour_loss([between], [exemplar]).backward()
    assert between.grad[0, 0] < 0 and between.grad[0, 1] > 0  # descent moves it toward (1, 0), not toward the mean


def test_edge_statistics_tell_flat_fills_and_outlines_from_texture_whatever_the_picture_shows():
    """Cartoon-like exemplars (flat regions, sharp borders) against outputs of other content: another flat picture
    is close, the same layout with photo-like texture on it is far, and descent flattens the texture."""

    def flat(seed: int) -> torch.Tensor:  # random rectangles of flat grey, in [-1, 1]
        generator = torch.Generator().manual_seed(seed)
        image = torch.zeros(2, 1, 64, 64)
        for _ in range(12):
            top, left = torch.randint(0, 48, (2,), generator=generator).tolist()
            image[..., top : top + 16, left : left + 16] = torch.rand(1, generator=generator) * 2 - 1
        return image.expand(-1, 3, -1, -1).clone()

    torch.manual_seed(0)
    exemplars, other = flat(0), flat(1)
    textured = (other + 0.15 * torch.randn(2, 1, 64, 64)).clamp(-1, 1)
    assert losses.edge_distribution_loss(exemplars, exemplars).item() == pytest.approx(0.0, abs=1e-6)
    assert losses.edge_distribution_loss(other, exemplars).item() < 0.5 * losses.edge_distribution_loss(textured, exemplars).item()
    image = textured.clone().requires_grad_(True)
    losses.edge_distribution_loss(image, exemplars).backward()
    with torch.no_grad():
        stepped = image - 0.05 * image.grad / image.grad.abs().max()
    assert losses.edge_distribution_loss(stepped, exemplars) < losses.edge_distribution_loss(textured, exemplars)


def test_normalized_content_loss_keeps_structure_and_frees_tone():
    torch.manual_seed(0)
    features = torch.rand(2, 8, 16, 16)
    toned = features * 3 + 1  # a global tone change of every channel
    assert losses.content_loss([toned], [features], normalized=True) < 1e-6
    assert losses.content_loss([toned], [features], normalized=False) > 1
    assert losses.content_loss([features.flip(-1)], [features], normalized=True) > 0.5  # moved structure still counts


def test_palette_holds_every_pixel_of_the_set():
    from stylegan_hub.data import palette

    red, blue = Image.new("RGB", (300, 150), (255, 0, 0)), Image.new("RGB", (20, 10), (0, 0, 255))
    pixels = palette([red, blue], max_side=128)
    assert pixels.shape == (1, 3, 128 * 64 + 200, 1)
    assert pixels[0, :, 0, 0].tolist() == [1.0, -1.0, -1.0] and pixels[0, :, -1, 0].tolist() == [-1.0, -1.0, 1.0]


def test_reinhard_moves_lab_statistics_and_gatys_optimisation_moves_toward_the_style():
    import numpy as np
    from skimage.color import rgb2lab

    from stylegan_hub.artwork import apply_artwork
    from stylegan_hub.baselines import optimize_transfer, reinhard_transfer
    from stylegan_hub.inference import pil_to_tensor
    from stylegan_hub.models import StyleDiscriminator

    photos = [p.resize((64, 48)) for p in sample_photos("train")[:2]]
    photo = pil_to_tensor(photos[0])
    exemplars = [pil_to_tensor(apply_artwork("sketch", p)) for p in photos[1:]]
    moved = reinhard_transfer(photo, exemplars)
    lab = rgb2lab(moved[0].permute(1, 2, 0).double().numpy()).reshape(-1, 3)
    reference = rgb2lab(exemplars[0][0].permute(1, 2, 0).double().numpy()).reshape(-1, 3)
    assert np.allclose(lab.mean(0), reference.mean(0), atol=1.5) and moved.shape == photo.shape

    torch.manual_seed(0)
    feature_net = StyleDiscriminator(channels=[8, 8, 8])
    optimized = optimize_transfer(photo, exemplars, feature_net, steps=30, learning_rate=0.05)
    assert optimized.shape == photo.shape and 0 <= optimized.min() and optimized.max() <= 1

    def style_error(image):
        with torch.no_grad():
            targets = losses.style_targets(feature_net.features(exemplars[0] * 2 - 1))
            return losses.style_loss(feature_net.features(image * 2 - 1), targets) + losses.color_loss(image, exemplars[0])

    assert style_error(optimized) < 0.5 * style_error(photo)


def test_adversarial_losses_have_the_right_direction():
    confident_real, confident_fake = torch.full((4, 1), 5.0), torch.full((4, 1), -5.0)
    assert losses.discriminator_adversarial_loss(confident_real, confident_fake) < 0.1
    assert losses.generator_adversarial_loss(confident_fake) > 4
    assert losses.generator_adversarial_loss(confident_real) < 0.1


def test_diff_augment_keeps_shape_and_gradients_and_checks_policy():
    x = torch.rand(3, 3, 32, 32, requires_grad=True)
    y = diff_augment(x, parse_policy("color,translation,cutout"))
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(diff_augment(x, parse_policy("none")), x)
    with pytest.raises(ValueError, match="unknown augmentation"):
        parse_policy("color,zoom")


def test_random_crops_are_in_range_and_vary():
    torch.manual_seed(0)
    crops = RandomCrops([Image.new("RGB", (50, 40), (255, 0, 0)), sample_photos("heldout")[0]], 24)
    batch, indices = crops.sample(6)
    assert batch.shape == (6, 3, 24, 24) and batch.min() >= -1 and batch.max() <= 1
    assert len(set(indices.tolist())) == 2
    red = crops.crop(0)
    assert torch.allclose(red[0], torch.ones(24, 24)) and torch.allclose(red[1], -torch.ones(24, 24))
    with pytest.raises(ValueError, match="no training images"):
        RandomCrops([], 24)


def test_crops_at_the_pictures_own_scale_are_windows_of_it_not_resamplings():
    torch.manual_seed(0)
    noise = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    picture = torch.from_numpy(noise).permute(2, 0, 1).float() / 127.5 - 1
    windows = picture.unfold(1, 16, 1).unfold(2, 16, 1).permute(1, 2, 0, 3, 4).reshape(-1, 3, 16, 16)  # every 16x16 window
    crops = RandomCrops([Image.fromarray(noise), Image.new("RGB", (10, 12), (0, 0, 255))], 16, min_scale=None)
    for _ in range(6):
        crop = crops.crop(0)
        assert any(torch.allclose(crop, window, atol=1e-5) or torch.allclose(crop.flip(-1), window, atol=1e-5) for window in windows)
    small = crops.crop(1)  # smaller than a window: taken whole and enlarged
    assert small.shape == (3, 16, 16) and torch.allclose(small[2], torch.ones(16, 16))


def pair_folders(root, originals: dict, styled: dict):
    """Two folders of pictures written from {file name: PIL image}: the originals and the styled versions."""
    for folder, pictures in (("originals", originals), ("styled", styled)):
        (root / folder).mkdir(parents=True)
        for name, picture in pictures.items():
            picture.save(root / folder / name)
    return ImageFolder(root / "styled"), ImageFolder(root / "originals")


def test_pairs_are_matched_by_name_and_the_original_takes_the_styled_size(tmp_path):
    red, blue = Image.new("RGB", (60, 40), (255, 0, 0)), Image.new("RGB", (60, 40), (0, 0, 255))
    styled, originals = pair_folders(
        tmp_path, {"beach.jpg": red, "city.png": blue}, {"city.png": Image.new("RGB", (30, 20)), "beach.png": Image.new("RGB", (30, 20))}
    )
    befores, afters = before_after_pairs(styled, originals)
    by_name = dict(zip((Path(path).stem for path in styled.paths), befores))
    assert by_name["beach"].getpixel((5, 5))[0] > 200 and by_name["city"].getpixel((5, 5))[2] > 200  # by name, not order
    assert [before.size for before in befores] == [after.size for after in afters] == [(30, 20), (30, 20)]


def test_a_style_image_without_its_original_or_of_another_shape_is_named(tmp_path):
    styled, originals = pair_folders(tmp_path / "unmatched", {"one.png": Image.new("RGB", (40, 30))}, {"two.png": Image.new("RGB", (40, 30))})
    with pytest.raises(ValueError, match=r"no original for two\.png.*originals are one\.png"):
        before_after_pairs(styled, originals)
    styled, originals = pair_folders(tmp_path / "turned", {"one.png": Image.new("RGB", (40, 30))}, {"one.png": Image.new("RGB", (30, 40))})
    with pytest.raises(ValueError, match=r"one\.png is 30x40 but its original one\.png is 40x30"):
        before_after_pairs(styled, originals)


def test_crops_with_positions_say_where_each_pixel_came_from():
    """The picture's red is its column and its green its row; the position channels of any crop must agree."""
    torch.manual_seed(0)
    columns, rows = np.meshgrid(np.arange(256), np.arange(256))
    picture = Image.fromarray(np.stack([columns, rows, np.zeros_like(rows)], axis=-1).astype(np.uint8))
    batch, _ = RandomCrops([picture], 16, positions=True).sample(8)
    assert batch.shape == (8, 5, 16, 16)
    assert torch.allclose(batch[:, 3], batch[:, 1], atol=0.02) and torch.allclose(batch[:, 4], batch[:, 0], atol=0.02)


def test_paired_crops_cut_both_pictures_at_the_same_place():
    """The styled picture is the original inverted; every crop, at any place, scale and flip, must stay so."""
    torch.manual_seed(0)
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8))
    inverted = Image.fromarray(255 - np.array(noise))
    batch, _ = PairedCrops([noise], [inverted], 16).sample(8)
    assert batch.shape == (8, 6, 16, 16)
    assert torch.allclose(batch[:, 3:], -batch[:, :3], atol=1e-5)
    placed, _ = PairedCrops([noise], [inverted], 16, positions=True).sample(4)  # what a paired fine-tune slices
    assert placed.shape == (4, 8, 16, 16) and torch.allclose(placed[:, 3:6], -placed[:, :3], atol=1e-5)
    assert placed[:, 6:].abs().max() <= 1 and not torch.allclose(placed[:, 6], placed[:, 7])
    with pytest.raises(ValueError, match="2 originals for 1 styled"):
        PairedCrops([noise, noise], [inverted], 16)
    with pytest.raises(ValueError, match="styled picture's size"):
        PairedCrops([noise], [inverted.resize((20, 20))], 16)


def test_paired_crops_carry_the_noise_a_model_draws_at_their_place_unflipped_and_unclamped():
    """Pairs rendered by a model with noise inputs: each crop must carry exactly the noise that model saw there at
    inference, or the texture it drew is unlearnable noise to the student."""
    torch.manual_seed(0)
    model = StyleGenerator(base_channels=4, num_downsamples=1, num_res_blocks=1, noise_channels=2).eval()
    rows, columns = np.indices((290, 300)) % 256  # a pixel's value tells its place (the field's period is 256 too)
    picture = Image.fromarray(np.stack([columns, rows, columns], axis=-1).astype(np.uint8))
    crops = PairedCrops([picture], [picture], 16, min_scale=None, positions=True, noise_field=model.noise_field[0])
    batch, _ = crops.sample(6)
    assert batch.shape == (6, 3 + 3 + 2 + 2, 16, 16)
    larger_than_kept = PairedCrops([picture], [picture], 16, min_scale=None, max_side=100, positions=True, noise_field=model.noise_field[0])
    for crop in torch.cat([batch, larger_than_kept.sample(6)[0]]):  # never shrunk off the field
        place = ((crop[:3] + 1) * 127.5).round().long()
        top, left = int(place[1, 0, 0]), int(place[0, 0, 0])
        assert torch.equal(place[0, 0], torch.arange(left, left + 16) % 256)  # unflipped
        with torch.no_grad():
            drawn = model.noise_like(torch.zeros(1, 3, 16, 16), origin=(top, left))[0]
        assert torch.equal(crop[8:], drawn)
    assert batch[:, 8:].abs().max() > 1.5  # the noise is not clamped to the pictures' range
    with pytest.raises(ValueError, match="3 noise channels given to a model with 2 noise inputs"):
        model(torch.zeros(1, 3, 16, 16), noise=torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="min_scale=None"):
        PairedCrops([picture], [picture], 16, noise_field=model.noise_field[0])
    small = picture.resize((12, 12))
    with pytest.raises(ValueError, match="12x12 picture is smaller than the 16-px crops"):
        PairedCrops([picture, small], [picture, small], 16, min_scale=None, noise_field=model.noise_field[0])


def test_bundled_photos_split_and_folders(tmp_path):
    assert not set(TRAIN_PHOTOS) & set(HELDOUT_PHOTOS)
    photos = sample_photos("heldout")
    assert len(photos) == len(HELDOUT_PHOTOS) and all(p.mode == "RGB" for p in photos)
    with pytest.raises(ValueError, match="split"):
        sample_photos("test")
    photos[0].save(tmp_path / "one.png")
    assert len(ImageFolder(tmp_path)) == 1 and ImageFolder(tmp_path)[0].size == photos[0].size


def test_dataset_images_need_an_image_column(tmp_path):
    from datasets import Dataset

    with pytest.raises(ValueError, match="no image column"):
        DatasetImages(Dataset.from_dict({"text": ["a"]}))
    with pytest.raises(ValueError, match="no column 'picture'"):
        DatasetImages(Dataset.from_dict({"text": ["a"]}), "picture")


def test_checkpoint_discovery_ignores_partial_saves(tmp_path):
    root = tmp_path / "checkpoints"
    for name in ["checkpoint-10", "checkpoint-2", ".partial-checkpoint-20", "checkpoint-x"]:
        (root / name).mkdir(parents=True)
    assert [p.name for p in checkpoint_dirs(tmp_path)] == ["checkpoint-2", "checkpoint-10"]
    assert resolve_resume(tmp_path, "latest") == (root / "checkpoint-10", 10)
    assert resolve_resume(tmp_path / "fresh", "latest") is None  # nothing to resume yet: start from scratch
    assert resolve_resume(tmp_path, None) is None
