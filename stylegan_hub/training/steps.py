"""One optimisation step of each training task: all the GAN maths, written once.

The loops in `stylegan_hub/training/finetune.py` and `train/pretrain.py` (and so the CLI and the app) only call these.
Each step updates the generator, then the discriminator (the paired step has none to update), and returns the losses
as floats for logging.

Under DistributedDataParallel the generator's losses call the *unwrapped* discriminator: its gradients from that pass
are thrown away (zeroed before the discriminator's own step), so they need no all-reduce.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.nn.functional as F
from accelerate import Accelerator

from .. import losses
from ..augment import diff_augment
from ..losses import LossWeights
from ..models import StyleDiscriminator
from ..models.perceptual import LuminancePyramid, RandomFilterBank
from .config import STYLE_DISTANCES

ModelT = TypeVar("ModelT", bound=torch.nn.Module)


@dataclass
class GanModels:
    """What a step needs; `generator` and `discriminator` as returned by `accelerator.prepare`."""

    accelerator: Accelerator
    generator: torch.nn.Module
    discriminator: torch.nn.Module
    generator_optimizer: torch.optim.Optimizer
    discriminator_optimizer: torch.optim.Optimizer
    augment: list[str]
    max_grad_norm: float = 1.0

    def unwrapped_discriminator(self) -> StyleDiscriminator:
        return self.accelerator.unwrap_model(self.discriminator)

    def optimize(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """Backward, clip the gradient norm (one bad batch must not wreck a GAN), step."""
        optimizer.zero_grad(set_to_none=True)
        self.accelerator.backward(loss)
        if self.max_grad_norm:
            self.accelerator.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], self.max_grad_norm)
        optimizer.step()


def freeze_lower_blocks(discriminator: StyleDiscriminator, num_blocks: int) -> None:
    """FreezeD (Mo et al. 2020): keep the general lower features; the domain head is unused when fine-tuning."""
    if not 0 <= num_blocks < len(discriminator.blocks):
        raise ValueError(f"freeze_blocks must be between 0 and {len(discriminator.blocks) - 1}, got {num_blocks}")
    for block in discriminator.blocks[:num_blocks]:
        block.requires_grad_(False)
    discriminator.domain_head.requires_grad_(False)


def frozen_copy(model: ModelT) -> ModelT:
    """A frozen snapshot of a model as it starts: the discriminator as the fixed perceptual space of the content and
    style losses, the generator as the fixed reference of the content term (`--content-target base`)."""
    return copy.deepcopy(model).requires_grad_(False).eval()


def finetune_step(
    models: GanModels,
    feature_net: StyleDiscriminator,
    photos: torch.Tensor,
    exemplars: torch.Tensor,
    weights: LossWeights,
    content_layers: tuple[int, ...] = (1, 2),
    style_distance: str = "swd",
    palette: torch.Tensor | None = None,
    normalized_content: bool = True,
    normalized_style: bool = False,
    style_net: RandomFilterBank | None = None,
    content_net: RandomFilterBank | LuminancePyramid | None = None,
    content_reference: torch.nn.Module | None = None,
    positions: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, float]:
    """Learn the exemplars' style: photos (B, 3, R, R) and exemplar crops (B, 3, R, R), both in [-1, 1], and for a
    generator with position inputs where each crop's pixels were in their pictures, ((B, 2, R, R), (B, 2, R, R)).

    The style is compared in `style_net`'s features (the random filter bank, which can draw texture) or, without
    one, in the frozen discriminator's; content likewise in `content_net`'s features (all of its maps) or, without
    one, in the frozen discriminator's `content_layers`.
    `style_distance` compares the output's features and colours with the exemplars' by Gram matrices and colour
    mean/covariance ("gram"), as whole distributions ("swd"), or each output vector with its nearest exemplar
    vector ("nearest", colours as whole distributions). `palette` (1, 3, N, 1) holds pixels of all
    exemplars: the colour target is then the whole set's palette, not just this batch's crops. `normalized_content`
    measures content on instance-normalised features, and `normalized_style` the style too (texture only). The
    quality benchmark's ablations compare these choices. With `content_reference` (the frozen base generator) the
    content target is its rendering of the photos instead of the photos themselves.
    """
    if style_distance not in STYLE_DISTANCES:
        raise ValueError(f"style_distance must be one of {STYLE_DISTANCES}, got {style_distance!r}")
    accelerator = models.accelerator
    with accelerator.autocast():
        # One pass over photos and exemplars: the exemplars' outputs feed the identity loss.
        places = torch.cat(positions) if positions is not None else None
        output, exemplar_output = models.generator(torch.cat([photos, exemplars]), positions=places).chunk(2)
        with torch.no_grad():  # what the output's content is compared with
            photo_places = positions[0] if positions is not None else None
            reference = photos if content_reference is None else content_reference(photos, positions=photo_places)
        if content_net is None or style_net is None:  # one pass through the discriminator serves both terms
            output_features = feature_net.features(output)
        if content_net is None:
            with torch.no_grad():
                reference_content = [feature_net.features(reference)[i] for i in content_layers]
            output_content = [output_features[i] for i in content_layers]
        else:
            with torch.no_grad():
                reference_content = content_net.features(reference)
            output_content = content_net.features(output)
        if style_net is None:
            with torch.no_grad():
                style_target = feature_net.features(exemplars)
            style_output = output_features
        else:  # the nearest-neighbour distance compares whole scales: a vector holds every kernel's response there
            style_features = style_net.features_by_scale if style_distance == "nearest" else style_net.features
            style_output = style_features(output)
            with torch.no_grad():
                style_target = style_features(exemplars)
        if normalized_style:  # texture only: tone and palette are left to the colour term
            style_output, style_target = losses.instance_normalized(style_output), losses.instance_normalized(style_target)
        color_target = exemplars if palette is None else palette
        if style_distance == "gram":
            style = losses.style_loss(style_output, losses.style_targets(style_target))
            color = losses.color_loss(output, color_target)
        else:
            distance = losses.nearest_neighbour_loss if style_distance == "nearest" else losses.distribution_loss
            style = distance(style_output, style_target)
            color = losses.color_distribution_loss(output, color_target)
        terms = {
            "content": losses.content_loss(output_content, reference_content, normalized_content),
            "style": style,
            "color": color,
            "identity": losses.identity_loss(exemplar_output, exemplars),
            "adversarial": losses.generator_adversarial_loss(models.unwrapped_discriminator()(diff_augment(output, models.augment))[0]),
        }
        if weights.edges:  # off by default: no sort of every step's edge statistics for nothing
            terms["edges"] = losses.edge_distribution_loss(output, exemplars)
        generator_loss = sum(getattr(weights, name) * value for name, value in terms.items())
    models.optimize(models.generator_optimizer, generator_loss)

    with accelerator.autocast():
        real_logits, _ = models.discriminator(diff_augment(exemplars, models.augment))
        fake_logits, _ = models.discriminator(diff_augment(output.detach(), models.augment))
        discriminator_loss = losses.discriminator_adversarial_loss(real_logits, fake_logits)
    models.optimize(models.discriminator_optimizer, discriminator_loss)

    logged = {name: value.item() for name, value in terms.items()}
    return {"generator": generator_loss.item(), "discriminator": discriminator_loss.item(), **logged}


def paired_step(
    models: GanModels,
    originals: torch.Tensor,
    styled: torch.Tensor,
    positions: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> dict[str, float]:
    """Learn the change from before/after pairs: crops of originals and their styled versions (B, 3, R, R) in [-1, 1],
    taken at the same place, and for a generator with `position_inputs` that place (B, 2, R, R); `noise` (B, C, R, R)
    is the noise the pictures were rendered with, where a model with noise inputs rendered them (else fresh draws).
    The pairs say exactly what the style does, so L1 to them is the whole objective: no feature space, no
    discriminator step."""
    with models.accelerator.autocast():
        loss = F.l1_loss(models.generator(originals, positions=positions, noise=noise).float(), styled.float())
    models.optimize(models.generator_optimizer, loss)
    return {"generator": loss.item(), "l1": loss.item()}


def corrupt(images: torch.Tensor, max_noise: float = 0.1) -> torch.Tensor:
    """Gaussian noise of a random strength per image: pretraining the generator as a denoiser teaches it image
    structure instead of a copy of its input."""
    sigma = torch.rand(images.shape[0], 1, 1, 1, device=images.device) * max_noise * 2  # images span [-1, 1]
    return images + sigma * torch.randn_like(images)


def pretrain_step(
    models: GanModels,
    images: torch.Tensor,
    domains: torch.Tensor,
    weights: LossWeights,
) -> dict[str, float]:
    """Learn the general model: images (B, 3, R, R) in [-1, 1] of photos and artwork, labelled by domain (B,).

    The generator reconstructs each image from a noisy copy (pixel L1 + perceptual + a little adversarial loss);
    the discriminator tells real from reconstructed and, through its domain head, photos from kinds of artwork,
    so its features learn colour, texture and edges.
    """
    accelerator = models.accelerator
    with accelerator.autocast():
        output = models.generator(corrupt(images))
        discriminator = models.unwrapped_discriminator()
        with torch.no_grad():
            image_features = discriminator.features(images)
        terms = {
            "pixel": F.l1_loss(output.float(), images.float()),
            "content": losses.content_loss(discriminator.features(output), image_features),
            "adversarial": losses.generator_adversarial_loss(discriminator(diff_augment(output, models.augment))[0]),
        }
        generator_loss = terms["pixel"] + weights.content * terms["content"] + weights.adversarial * terms["adversarial"]
    models.optimize(models.generator_optimizer, generator_loss)

    with accelerator.autocast():
        real_logits, domain_logits = models.discriminator(diff_augment(images, models.augment))
        fake_logits, _ = models.discriminator(diff_augment(output.detach(), models.augment))
        adversarial = losses.discriminator_adversarial_loss(real_logits, fake_logits)
        domain = F.cross_entropy(domain_logits.float(), domains)
        discriminator_loss = adversarial + domain
    models.optimize(models.discriminator_optimizer, discriminator_loss)

    accuracy = (domain_logits.argmax(dim=1) == domains).float().mean()
    logged = {name: value.item() for name, value in terms.items()}
    return {
        "generator": generator_loss.item(),
        "discriminator": adversarial.item(),
        "domain": domain.item(),
        "domain_accuracy": accuracy.item(),
        **logged,
    }
