"""Pretrain the zero-shot model: any style from one picture of it, and the base personal fine-tunes start from.

A generator conditioned on a style code learns, by L1 against paired renderings, to draw hundreds of random styles
(the project's own filters at random parameters, some followed by a random tone map; `stylegan_hub.training.zeroshot`),
and an encoder learns to read each style's code from a picture of *another* photo in that style. No third-party
weights and no download: the photos come from the corpus. The discriminator of `--discriminator-from` is shipped beside
the generator, so `stylegan-hub finetune --base <this model>` works as from any base.

    python train/build_corpus.py --output-dir build/corpus                             # thousands of images, offline
    python train/pretrain_any.py --corpus build/corpus --output-dir outputs/any        # the L1 stage
    python train/make_builtins.py --only any --corpus build/corpus                     # how builtin:any was made (both stages)
    accelerate launch train/pretrain_any.py --corpus build/corpus --output-dir outputs/any   # many GPUs / nodes
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from diffusers.optimization import get_scheduler
from pretrain import corpus_summary

from stylegan_hub import StyleGenerator
from stylegan_hub.data import CORPUS_CATEGORIES, Corpus, sample_photos
from stylegan_hub.losses import paired_distribution_loss
from stylegan_hub.models.encoder import ENCODER_SIDE, fit_style_picture
from stylegan_hub.models.perceptual import RandomFilterBank
from stylegan_hub.training.config import ZeroShotConfig, command_line, parse_config
from stylegan_hub.training.finetune import load_base
from stylegan_hub.training.run import TrainingRun
from stylegan_hub.training.zeroshot import FAMILIES, StyleBank

BENCHMARK_SOURCES = ("scikit-image", "scikit-learn")  # the benchmark's photos: never trained on


def parse_args(argv: list[str] | None = None) -> ZeroShotConfig:
    return parse_config(ZeroShotConfig, argv, __doc__.split("\n\n")[0])


def content_photos(corpus: str | None) -> list:
    """The corpus's photos, less those the quality benchmark scores on; without a corpus, the bundled train photos."""
    if not corpus:
        return sample_photos("train")
    images = Corpus(corpus)
    photo = CORPUS_CATEGORIES.index("photo")
    keep = [i for i, (category, source) in enumerate(zip(images.categories, images.sources)) if category == photo and source not in BENCHMARK_SOURCES]
    if not keep:
        raise ValueError(f"{corpus}: the corpus has no photos to render styles on")
    return [images[i] for i in keep]


def style_bank(config: ZeroShotConfig, accelerator: Accelerator) -> StyleBank:
    """Rendered once by the main process and cached in the output folder (a resumed run reuses it)."""
    path = Path(config.output_dir) / "style-bank.pt"
    with accelerator.main_process_first():
        if not path.is_file() and accelerator.is_main_process:
            photos = content_photos(config.corpus)
            accelerator.print(f"rendering {config.styles} styles on {config.photos_per_style} of {len(photos)} photos each")
            bank = StyleBank.render(
                photos, styles=config.styles, photos_per_style=config.photos_per_style, side=config.bank_side, seed=config.seed, workers=config.bank_workers
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            bank.save(path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
        bank = StyleBank.load(path)
    styles, per_style, _, side, _ = bank.renders.shape
    if (styles, per_style, side) != (config.styles, config.photos_per_style, config.bank_side):
        raise ValueError(
            f"{path} holds {styles} styles on {per_style} photos at {side} px, not the --styles {config.styles}, "
            f"--photos-per-style {config.photos_per_style} and --bank-side {config.bank_side} asked for; "
            "give a new --output-dir, or delete that file to render the bank again"
        )
    return bank


def starting_weights(name: str, generator: StyleGenerator) -> dict:
    """The weights of zero-shot model `name`, refused in words unless its layout is the one `generator` was built with."""
    start = StyleGenerator.from_pretrained(name)
    layout, wanted = start._hub_mixin_config, generator._hub_mixin_config
    different = [f"{key}={value} (not {wanted.get(key)})" for key, value in layout.items() if wanted.get(key) != value]
    if different:
        raise ValueError(f"--init-from {name}: it has {', '.join(different)}; give the same layout options")
    return start.state_dict()


def main(config: ZeroShotConfig) -> Path:
    output_dir = Path(config.output_dir)
    accelerator = Accelerator(mixed_precision=config.mixed_precision, project_dir=str(output_dir))
    set_seed(config.seed, device_specific=True)
    bank = style_bank(config, accelerator)

    generator = StyleGenerator(**config.generator_layout(), style_dim=config.style_dim, encoder_channels=config.encoder_channels)
    if config.init_from:
        generator.load_state_dict(starting_weights(config.init_from, generator))
    filter_bank = RandomFilterBank().to(accelerator.device) if config.distribution_weight else None
    _, discriminator = load_base(config.discriminator_from)  # not trained here: saved for fine-tunes to start from
    optimizer = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=(0.9, 0.99))
    scheduler = get_scheduler(config.lr_scheduler, optimizer, num_warmup_steps=config.lr_warmup_steps, num_training_steps=config.steps)
    generator, optimizer, scheduler = accelerator.prepare(generator, optimizer, scheduler)
    unwrapped: StyleGenerator = accelerator.unwrap_model(generator)
    reference = bank.renders[0, 0].float().unsqueeze(0) / 255  # the style the samples (and the saved default) show
    record = {
        "task": "pretrain-any",
        "title": "stylegan-hub zero-shot model",
        "description": (
            "Applies any style from one picture of it (`stylize(photo, style_image=...)`), and is the base a personal "
            f"fine-tune starts from. Learned from {config.styles} random styles of the project's own filters "
            f"({', '.join(FAMILIES)}) rendered on the corpus's photos, by L1"
            + (" and a per-image distribution term in a random filter bank" if config.distribution_weight else "")
            + (f", continuing from `{config.init_from}`" if config.init_from else "")
            + f"; the discriminator is `{config.discriminator_from}`'s."
        ),
        "tags": ["stylegan-hub-base", "zero-shot"],
        "corpus": corpus_summary(config.corpus),
        "command": command_line("python train/pretrain_any.py", config),
        "arguments": config.to_dict(),
    }
    run = TrainingRun(accelerator, generator, discriminator, config, sample_photos("heldout"), record)

    for step in run.steps("zero-shot"):
        photos, targets, pictures = (t.to(accelerator.device) for t in bank.sample(config.batch_size, config.resolution))
        with accelerator.autocast():
            styled = generator(photos, style=fit_style_picture(pictures, ENCODER_SIDE) * 2 - 1)  # (B, 3, R, R)
            terms = {"l1": F.l1_loss(styled.float(), targets)}
            if filter_bank is not None:
                terms["distribution"] = paired_distribution_loss(filter_bank.features(styled.float()), filter_bank.features(targets))
            loss = terms["l1"] + config.distribution_weight * terms.get("distribution", 0.0)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if config.max_grad_norm > 0:
            accelerator.clip_grad_norm_(generator.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        if step % config.sample_every == 0 or step == config.steps:
            with torch.no_grad(), run.ema_generator() as ema:
                unwrapped.style_code.copy_(ema.encode_style(reference.to(accelerator.device)))
        run.end_step(step, {name: value.item() for name, value in terms.items()})

    return run.finish()


if __name__ == "__main__":
    main(parse_args())
