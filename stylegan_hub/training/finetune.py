"""Fine-tune a personal style from a few images: the loop behind `stylegan-hub finetune` and `train/finetune.py`.

Start from a base (by default the zero-shot builtin:any, drawing the exemplars' style as read by its encoder), train
the generator, keep the discriminator's lower blocks frozen (FreezeD) and measure content and style (sliced
Wasserstein by default, Gram as an option) in the pretrained discriminator's frozen features (as JoJoGAN does), with
differentiable augmentation so a handful of exemplars is enough. Given the photos the style images were made from
(`original_images`), it learns the change itself from those before/after pairs by L1 instead. Runs as is on a CPU, a
GPU or many GPUs and nodes under `accelerate launch`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from accelerate import Accelerator
from accelerate.utils import set_seed

from ..augment import parse_policy
from ..data import ImageFolder, PairedCrops, RandomCrops, before_after_pairs, palette, sample_photos
from ..errors import ModelLoadError
from ..inference import pil_to_tensor
from ..losses import LossWeights
from ..models import StyleDiscriminator, StyleGenerator, resolve_model_dir
from ..models.hub import DISCRIMINATOR_SUBFOLDER
from ..models.perceptual import LuminancePyramid, RandomFilterBank
from .config import DEFAULT_BASE, FinetuneConfig, command_line, parse_config
from .run import TrainingRun, make_optimizers
from .steps import GanModels, finetune_step, freeze_lower_blocks, frozen_copy, paired_step


def parse_args(argv: list[str] | None = None) -> FinetuneConfig:
    return parse_config(FinetuneConfig, argv, "Learn a personal style from a few images.")


def load_base(base: str) -> tuple[StyleGenerator, StyleDiscriminator]:
    directory = resolve_model_dir(base)
    if not (directory / DISCRIMINATOR_SUBFOLDER).is_dir():
        raise ModelLoadError(
            f"{base}: has no {DISCRIMINATOR_SUBFOLDER}/ folder, which fine-tuning starts from; "
            f"use a model saved by stylegan-hub's training (e.g. {DEFAULT_BASE})"
        )
    return StyleGenerator.from_directory(directory), StyleDiscriminator.from_directory(directory / DISCRIMINATOR_SUBFOLDER)


def with_config_layout(generator: StyleGenerator, config: FinetuneConfig) -> StyleGenerator:
    """The base generator with the layout changes `config` asks for: noise inputs added, the palette snap set."""
    generator = generator.with_noise_channels(max(config.noise_channels, generator.noise_channels))
    return generator if config.palette_colors is None else generator.with_palette_colors(config.palette_colors)


def main(config: FinetuneConfig, on_step: Callable[[TrainingRun, int, dict[str, float]], None] | None = None) -> Path:
    """Run the fine-tune described by `config`; returns the output directory, loadable with `from_pretrained`.

    `on_step(run, step, losses)` is called after every step on the main process (progress, previews, stopping).
    """
    config = config.replace(steps=config.steps_to_run)  # recorded as run
    output_dir = Path(config.output_dir)
    augment = parse_policy(config.augment)
    accelerator = Accelerator(mixed_precision=config.mixed_precision, project_dir=str(output_dir))
    set_seed(config.seed, device_specific=True)  # each process draws different crops

    style_folder = ImageFolder(config.style_images)
    style_images = list(style_folder)  # decoded once: crops, palette and style code share them
    if config.texture_side and len(style_images) != 1:
        raise ValueError(f"--texture-side: the texture is one style image, got {len(style_images)}; give one picture or leave it at 0")
    paired = bool(config.original_images)

    # Models: the generator trains; the discriminator keeps its lower blocks and is also the perceptual space.
    generator, discriminator = load_base(config.base)
    generator = with_config_layout(generator, config)
    if config.texture_side:
        generator = generator.with_texture(pil_to_tensor(style_images[0])[0], config.texture_side)
    if paired:  # the pairs show where in the frame a change happens (a vignette): let it see that too
        generator = generator.with_position_inputs()
    if hasattr(generator, "encoder"):  # a zero-shot base: start from the exemplars' style, only the rest is left to learn
        generator = generator.with_style(generator.style_code_of(style_images))
        generator.encoder.requires_grad_(False)  # unused once the code is read: DDP refuses parameters without gradients
        # With the code fixed, the modulation is a per-channel affine the convolutions already express; trained by
        # the unpaired terms, its wide last layer moved all of them at once and the outputs blew up. L1 on pairs
        # trains it smoothly, and better (docs/benchmark-notes.md).
        generator.modulation.requires_grad_(paired)

    # Data: before/after pairs, or the user's exemplars (few, kept in memory) and content photos; crops carry their
    # places in their pictures for a generator that sees them (one learned from pairs, fine-tuned further).
    if paired:
        befores, afters = before_after_pairs(style_folder, ImageFolder(config.original_images))
        scale = None if config.pair_crops == "native" else 0.5
        if config.pair_noise == "field" and generator.noise_channels != config.noise_channels:
            raise ValueError(
                f"--noise-channels {config.noise_channels}: the base {config.base} has {generator.noise_channels} noise inputs, "
                "and a field of another count is another field; choose a base with at most the rendering model's count"
            )
        noise_field = generator.noise_field[0] if config.pair_noise == "field" else None  # (C, P, P), the same in every model with C
        pairs = PairedCrops(befores, afters, config.resolution, min_scale=scale, positions=True, noise_field=noise_field)
    else:
        config = config.replace(style_weight=config.style_weight_for(len(style_images)))  # recorded as used
        weights = LossWeights(**{name: getattr(config, f"{name}_weight") for name in vars(LossWeights())})
        exemplars = RandomCrops(style_images, config.resolution, min_scale=0.35, positions=generator.position_inputs)
        exemplar_palette = palette(style_images).to(accelerator.device) if config.color_target == "palette" else None
        photo_set = ImageFolder(config.content_images) if config.content_images else sample_photos("train")
        photos = RandomCrops(photo_set, config.resolution, positions=generator.position_inputs)
        # The content target: the photo, or the start's own rendering of it (a frozen copy, taken before any step).
        content_reference = frozen_copy(generator).to(accelerator.device) if config.content_target == "base" else None
    if config.from_scratch:  # the base's architecture with fresh weights: what pretraining buys, or a paired model's start
        residual = config.residual_output or generator.residual_output
        fresh = StyleGenerator(**{**generator._hub_mixin_config, "residual_output": residual})
        if generator.texture_side:  # the texture is the style's picture, not a weight
            fresh.texture.copy_(generator.texture)
        generator = fresh
        if not paired:  # pairs never train the discriminator: the base's stays, the space of later fine-tunes from this model
            discriminator = StyleDiscriminator(**discriminator._hub_mixin_config)
    generator.train()
    discriminator.train()
    feature_net = frozen_copy(discriminator).to(accelerator.device)
    bank = RandomFilterBank().to(accelerator.device) if "random" in (config.style_space, config.content_space) else None
    content_net = {"random": bank, "luminance": LuminancePyramid()}.get(config.content_space)
    freeze_lower_blocks(discriminator, config.freeze_blocks)
    generator_optimizer, discriminator_optimizer, scheduler = make_optimizers(generator, discriminator, config, adversarial=not paired)
    generator, discriminator, generator_optimizer, discriminator_optimizer, scheduler = accelerator.prepare(
        generator, discriminator, generator_optimizer, discriminator_optimizer, scheduler
    )
    models = GanModels(accelerator, generator, discriminator, generator_optimizer, discriminator_optimizer, augment, config.max_grad_norm)
    heldout = sample_photos("heldout")
    run = TrainingRun(accelerator, generator, discriminator, config, heldout, describe(config, len(style_images)), on_step)

    for step in run.steps("fine-tune"):
        if paired:
            batch = pairs.sample(config.batch_size)[0].to(accelerator.device)  # (B, 8 [+ C], R, R): original, styled, position[, noise]
            losses = paired_step(models, batch[:, :3], batch[:, 3:6], batch[:, 6:8], batch[:, 8:] if noise_field is not None else None)
        else:
            photo_batch = photos.sample(config.batch_size)[0].to(accelerator.device)  # (B, 3 or 5, R, R): + positions
            exemplar_batch = exemplars.sample(config.batch_size)[0].to(accelerator.device)
            losses = finetune_step(
                models,
                feature_net,
                photo_batch[:, :3],
                exemplar_batch[:, :3],
                weights,
                style_distance=config.style_distance,
                palette=exemplar_palette,
                normalized_content=config.content_features == "normalized",
                normalized_style=config.style_features == "normalized",
                style_net=bank if config.style_space == "random" else None,
                content_net=content_net,
                content_reference=content_reference,
                positions=(photo_batch[:, 3:], exemplar_batch[:, 3:]) if photos.positions else None,
            )
        scheduler.step()
        run.end_step(step, losses)

    return run.finish()


def describe(config: FinetuneConfig, count: int) -> dict:
    """What the model card says about this fine-tune (learned from `count` images), and the command that reproduces it."""
    name = Path(config.output_dir).resolve().name
    return {
        "task": "finetune",
        "title": f"{name}: a stylegan-hub style",
        "description": f"A style learned with stylegan-hub from {count} {'before/after pair' if config.original_images else 'image'}(s), "
        f"fine-tuned from `{config.base}`.",
        "base": config.base,
        "tags": ["stylegan-hub-style"],
        "command": command_line("stylegan-hub finetune", config),
        "arguments": config.to_dict(),
    }
