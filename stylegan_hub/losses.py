"""Losses for learning a style, measured in the pretrained discriminator's frozen feature space.

content  — features of the output match those of the photo (structure is kept)
style    — Gram matrices of the output's features match the exemplars' (Gatys et al.: texture, strokes, tone)
colour   — mean and covariance of the output's RGB match the exemplars' (the palette)
identity — an image that already is in the style passes through unchanged (CycleGAN's identity loss)
adversarial — non-saturating logistic GAN loss on differentiably augmented images
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class LossWeights:
    """How much each term counts in the generator's fine-tuning loss (pretraining uses content and adversarial)."""

    content: float = 1.0
    style: float = 5.0
    adversarial: float = 0.05
    identity: float = 1.0
    color: float = 1.0


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C), averaged over positions so crops of any size compare."""
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width).float()
    return flat @ flat.transpose(1, 2) / (height * width)


def relative_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error relative to the target's energy: every layer weighs alike, whatever the scale of its
    features, so loss weights mean the same for any discriminator."""
    return (output.float() - target.float()).square().mean() / (target.float().square().mean() + 1e-8)


def content_loss(output_features: list[torch.Tensor], photo_features: list[torch.Tensor]) -> torch.Tensor:
    return sum(relative_error(out, ref) for out, ref in zip(output_features, photo_features)) / len(output_features)


def style_loss(output_features: list[torch.Tensor], target_grams: list[torch.Tensor]) -> torch.Tensor:
    """Each output's Gram matrices against targets of shape (1, C, C) (averaged over the exemplars)."""
    errors = [relative_error(gram_matrix(out), target.expand(out.shape[0], -1, -1)) for out, target in zip(output_features, target_grams)]
    return sum(errors) / len(errors)


def style_targets(exemplar_features: list[torch.Tensor]) -> list[torch.Tensor]:
    return [gram_matrix(f).mean(dim=0, keepdim=True) for f in exemplar_features]


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
