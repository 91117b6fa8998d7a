"""Losses for learning a style, measured in frozen features (the discriminator's or the random filter bank's).

content  — features of the output match those of the photo (structure is kept)
style    — the output's features match the exemplars': Gram matrices (Gatys et al., second moments), a sliced
           Wasserstein distance of whole distributions (Heitz et al. 2021), or each output feature its nearest
           exemplar feature (Li & Wand 2016), which draws brush strokes where matched statistics give a tint
colour   — the output's RGB values match the exemplars' (the palette): mean and covariance, or sliced Wasserstein
           plus the distance of the chroma channels' distributions
identity — an image that already is in the style passes through unchanged (CycleGAN's identity loss)
adversarial — non-saturating logistic GAN loss on differentiably augmented images
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .color import luma, rgb_to_yuv

COLOR_DIRECTIONS = 32  # random directions in RGB; 3 would match little more than a rotated histogram


@dataclass
class LossWeights:
    """How much each term counts in the generator's fine-tuning loss (pretraining uses content and adversarial)."""

    content: float = 1.0
    style: float = 5.0
    adversarial: float = 0.05
    identity: float = 1.0
    color: float = 1.0
    edges: float = 0.0


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C), averaged over positions so crops of any size compare."""
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width).float()
    return flat @ flat.transpose(1, 2) / (height * width)


def relative_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error relative to the target's energy: every layer weighs alike, whatever the scale of its
    features, so loss weights mean the same for any discriminator."""
    return (output.float() - target.float()).square().mean() / (target.float().square().mean() + 1e-8)


def instance_normalized(features: list[torch.Tensor]) -> list[torch.Tensor]:
    """Each map (B, C, H, W) with every channel's mean and deviation over the image removed: structure and texture
    stay, global tone and palette go."""
    return [F.instance_norm(f.float()) for f in features]


def content_loss(output_features: list[torch.Tensor], photo_features: list[torch.Tensor], normalized: bool = False) -> torch.Tensor:
    """Features of the output against the photo's. `normalized` compares them after removing each channel's mean
    and deviation over the image (instance normalisation), so structure is kept while the global tone and palette,
    which are the style's to change, are free."""
    if normalized:
        output_features, photo_features = instance_normalized(output_features), instance_normalized(photo_features)
    return sum(relative_error(out, ref) for out, ref in zip(output_features, photo_features)) / len(output_features)


def style_loss(output_features: list[torch.Tensor], target_grams: list[torch.Tensor]) -> torch.Tensor:
    """Each output's Gram matrices against targets of shape (1, C, C) (averaged over the exemplars)."""
    errors = [relative_error(gram_matrix(out), target.expand(out.shape[0], -1, -1)) for out, target in zip(output_features, target_grams)]
    return sum(errors) / len(errors)


def style_targets(exemplar_features: list[torch.Tensor]) -> list[torch.Tensor]:
    return [gram_matrix(f).mean(dim=0, keepdim=True) for f in exemplar_features]


def sliced_wasserstein_loss(
    output: torch.Tensor, target: torch.Tensor, num_directions: int | None = None, max_samples: int = 4096
) -> torch.Tensor:
    """Distance between the distributions of the feature vectors of two batches (B, C, H, W), relative to the target's
    energy. Up to `max_samples` random vectors of each are projected on random unit directions (as many as channels by
    default) and sorted, so each value meets its rank-mate. Unlike Gram matrices this matches whole distributions
    (Heitz et al. 2021), so a style's tone curve and palette are learned, not just its correlations."""
    channels = output.shape[1]
    output, target = (_sample_vectors(x, max_samples) for x in (output, target))  # (C, N), (C, M)
    directions = _unit_directions(num_directions or channels, channels, output.device)
    projected_output, projected_target = _rank_mates(directions @ output, directions @ target)  # (D, N) each
    return (projected_output - projected_target).square().mean() / (projected_target.square().mean() + 1e-8)


def _unit_directions(count: int, channels: int, device: torch.device) -> torch.Tensor:
    """(count, channels) random directions of length 1: the slices of a sliced Wasserstein distance."""
    directions = torch.randn(count, channels, device=device)
    return directions / directions.norm(dim=1, keepdim=True)


def _rank_mates(output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of 1-D samples (D, N) and (D, M), each sorted, the target's resampled to N quantiles: value i of one row
    meets value i of the other, as a 1-D Wasserstein distance pairs them."""
    output, target = output.sort(dim=1).values, target.sort(dim=1).values
    if target.shape[1] != output.shape[1]:  # compare quantiles when the counts differ
        target = F.interpolate(target[None], size=output.shape[1], mode="linear")[0]
    return output, target


def _sample_vectors(features: torch.Tensor, max_samples: int) -> torch.Tensor:
    """(B, C, H, W) -> (C, N): the feature vectors at up to `max_samples` random positions."""
    vectors = features.float().transpose(0, 1).reshape(features.shape[1], -1)
    if vectors.shape[1] > max_samples:
        vectors = vectors[:, torch.randperm(vectors.shape[1], device=vectors.device)[:max_samples]]
    return vectors


def chroma_distance(output: torch.Tensor, exemplars: torch.Tensor, max_samples: int = 4096) -> torch.Tensor:
    """Wasserstein-1 distance of each chroma channel (U, V) between the pixels of two batches, in absolute terms.

    The RGB distance is relative to the exemplars' energy and dominated by their spread in brightness, so a tint of a
    few levels barely counts: on grey hatching, making a green-and-purple output fully grey lowered it by only 14%,
    and fine-tunes kept the photo's hues (docs/benchmark-notes.md). This term sees the tint."""
    output, exemplars = (_sample_vectors(rgb_to_yuv(x.float())[:, 1:], max_samples) for x in (output, exemplars))  # (2, N), (2, M)
    output, exemplars = _rank_mates(output, exemplars)
    return (output - exemplars).abs().mean()


EDGE_SCALES = (1, 2, 4)


def _edge_magnitudes(images: torch.Tensor, scale: int, max_samples: int) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (1, N): absolute luma differences between neighbours (both directions) at `scale`."""
    y = luma((images.float() + 1) / 2)
    if scale > 1:
        y = F.avg_pool2d(y, scale)
    steps = torch.cat([(y[..., :, 1:] - y[..., :, :-1]).flatten(), (y[..., 1:, :] - y[..., :-1, :]).flatten()]).abs()
    if steps.numel() > max_samples:
        steps = steps[torch.randperm(steps.numel(), device=steps.device)[:max_samples]]
    return steps[None]


def edge_distribution_loss(output: torch.Tensor, exemplars: torch.Tensor, max_samples: int = 16384) -> torch.Tensor:
    """How far the output's edge statistics are from the exemplars': the Wasserstein-1 distance of the luma step
    sizes between neighbouring pixels at 1, 2 and 4 pixels' scale, relative to the exemplars' mean step.

    A cartoon's steps are mostly zero (flat fills) with a few large ones (outlines); a photo's are spread out
    (texture). Unlike feature distributions, which mix in what the few exemplars depict, this one number per scale
    says how flat and how sharp a picture is, whatever it shows: against six cartoon exemplars it ranks the cartoon
    filter's rendering of a held-out photo at 0.58 of the photo's distance, where the discriminator's features and
    pixel patches rank a tinted photo above it (docs/benchmark-notes.md)."""
    total = 0.0
    for scale in EDGE_SCALES:
        out, ref = _rank_mates(_edge_magnitudes(output, scale, max_samples), _edge_magnitudes(exemplars, scale, max_samples))
        total = total + (out - ref).abs().mean() / (ref.mean() + 1e-6)
    return total / len(EDGE_SCALES)


def color_distribution_loss(output: torch.Tensor, exemplars: torch.Tensor) -> torch.Tensor:
    """Sliced Wasserstein distance of RGB values (the palette as a whole, tone curve included), plus the chroma
    distance, which sees a tint the first misses."""
    return sliced_wasserstein_loss(output, exemplars, num_directions=COLOR_DIRECTIONS) + chroma_distance(output, exemplars)


def distribution_loss(output_features: list[torch.Tensor], exemplar_features: list[torch.Tensor]) -> torch.Tensor:
    """Sliced Wasserstein style loss averaged over layers."""
    return sum(sliced_wasserstein_loss(out, ref) for out, ref in zip(output_features, exemplar_features)) / len(output_features)


def paired_distribution_loss(
    output_features: list[torch.Tensor], target_features: list[torch.Tensor], max_samples: int = 1024
) -> torch.Tensor:
    """Each image's feature distributions against its own target's (maps (B, C, H, W) of the same size), for paired
    training where every image of a batch is another style. A pixel loss alone rewards the mean of what a style could
    draw (strokes smoothed away); this one rewards marks with the target's statistics, wherever they fall. The sliced
    Wasserstein distance of `sliced_wasserstein_loss`, relative to each target's energy, for the whole batch at once,
    on `max_samples` positions (the same in both; sorting is the cost, and 1024 quantiles per image are plenty)."""
    errors = []  # per image: (B,) for each map
    for out, ref in zip(output_features, target_features):
        channels = out.shape[1]
        out, ref = out.flatten(2), ref.flatten(2)  # (B, C, N)
        if out.shape[2] > max_samples:
            keep = torch.randperm(out.shape[2], device=out.device)[:max_samples]
            out, ref = out[..., keep], ref[..., keep]
        directions = _unit_directions(channels, channels, out.device)
        projected_output = torch.einsum("dc,bcn->bdn", directions, out).sort(dim=2).values
        projected_target = torch.einsum("dc,bcn->bdn", directions, ref).sort(dim=2).values
        errors.append((projected_output - projected_target).square().mean(dim=(1, 2)) / (projected_target.square().mean(dim=(1, 2)) + 1e-8))
    return torch.stack(errors).mean()


def nearest_neighbour_loss(output_features: list[torch.Tensor], exemplar_features: list[torch.Tensor], max_samples: int = 4096) -> torch.Tensor:
    """Each output feature vector pulled to its most similar exemplar vector (cosine similarity), averaged over the
    maps (B, C, H, W) and relative to the exemplars' energy (CNNMRF, Li & Wand 2016, on single vectors).

    Matching statistics can be met by a colour shift: a painting's features, averaged, differ from a photo's mostly
    by palette. Asking every part of the output to look like *some* part of an exemplar instead makes it copy local
    appearance (strokes, flat patches, outlines), while the content term keeps where things are. Up to `max_samples`
    random positions of each side are compared, so the cost stays a (max_samples x max_samples) product per map.
    """
    errors = []
    for out, ref in zip(output_features, exemplar_features):
        output, target = _sample_vectors(out, max_samples), _sample_vectors(ref, max_samples)  # (C, N), (C, M)
        with torch.no_grad():
            similarity = F.normalize(output, dim=0).T @ F.normalize(target, dim=0)  # (N, M)
            nearest = target[:, similarity.argmax(dim=1)]  # (C, N)
        errors.append((output - nearest).square().mean() / (target.square().mean() + 1e-8))
    return sum(errors) / len(errors)


def color_statistics(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and covariance (3, 3) of all pixels of a batch (B, 3, H, W)."""
    pixels = images.float().permute(1, 0, 2, 3).reshape(3, -1)
    mean = pixels.mean(dim=1)
    centered = pixels - mean[:, None]
    return mean, centered @ centered.T / pixels.shape[1]


def color_loss(output: torch.Tensor, exemplars: torch.Tensor) -> torch.Tensor:
    out_mean, out_cov = color_statistics(output)
    ref_mean, ref_cov = color_statistics(exemplars)
    return F.mse_loss(out_mean, ref_mean) + F.mse_loss(out_cov, ref_cov)


def identity_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(output.float(), target.float())


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_logits.float()).mean()


def discriminator_adversarial_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()
