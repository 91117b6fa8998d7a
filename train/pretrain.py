"""Pretrain the general base model: a content-faithful generator and a discriminator with general features.

The generator learns to rebuild photos, artwork and textures from noisy copies; the discriminator learns to tell real
images from rebuilt ones and, through a domain head, the corpus's photos, artwork and textures apart, and from photos
painted on the fly by the project's own non-photorealistic filters (`stylegan_hub.artwork`). The result is the
starting point of every fine-tune.

    python train/build_corpus.py --output-dir build/corpus                         # thousands of images, offline
    python train/pretrain.py --corpus build/corpus --output-dir outputs/base       # pretrain on the corpus
    python train/make_builtins.py --only base --corpus build/corpus               # how builtin:base was made
    python train/pretrain.py --output-dir outputs/base                             # bundled sample photos
    python train/pretrain.py --train-data-dir photos/ --output-dir outputs/base    # a folder of photos
    python train/pretrain.py --dataset org/photos --output-dir outputs/base        # a Hugging Face dataset
    accelerate launch train/pretrain.py --dataset org/photos --output-dir outputs/base   # many GPUs / nodes
    python train/pretrain.py --output-dir outputs/base --push-to-hub you/stylegan-hub-base     # and publish it
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from stylegan_hub import StyleDiscriminator, StyleGenerator
from stylegan_hub.artwork import ARTWORK_FILTERS
from stylegan_hub.augment import parse_policy
from stylegan_hub.data import CORPUS_CATEGORIES, Corpus, ImageFolder, RandomCrops, load_hf_dataset, sample_photos
from stylegan_hub.losses import LossWeights
from stylegan_hub.models.hub import DISCRIMINATOR_SUBFOLDER
from stylegan_hub.training.config import PretrainConfig, command_line, parse_config
from stylegan_hub.training.run import TrainingRun, make_optimizers
from stylegan_hub.training.steps import GanModels, pretrain_step

DOMAINS = (*CORPUS_CATEGORIES, *ARTWORK_FILTERS)  # the corpus's kinds (photo first), then photos painted by each filter
BASE_DESCRIPTION = (
    "The general model every stylegan-hub style is fine-tuned from: a generator that keeps content faithfully and a "
    f"discriminator (in `{DISCRIMINATOR_SUBFOLDER}/`) whose features tell photos from kinds of artwork "
    f"({', '.join(DOMAINS)}). Fine-tune it with `stylegan-hub finetune --base <this model>`."
)


def parse_args(argv: list[str] | None = None) -> PretrainConfig:
    return parse_config(PretrainConfig, argv, __doc__.split("\n\n")[0])


def with_artwork(crops: torch.Tensor, categories: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Label each crop (B, 3, R, R) in [-1, 1] by its corpus category; half of the photos are painted by a random
    filter first and labelled by it, so the domains hold real and made artwork alike."""
    filters = list(ARTWORK_FILTERS)
    domains, images = [], []
    for crop, category in zip(crops, categories.tolist()):
        domain = category
        if category == 0 and torch.rand(()) < 0.5:
            name = filters[int(torch.randint(0, len(filters), ()))]
            array = ((crop.permute(1, 2, 0).numpy() + 1) / 2).astype(np.float32)
            crop = torch.from_numpy(ARTWORK_FILTERS[name](array)).permute(2, 0, 1) * 2 - 1
            domain = DOMAINS.index(name)
        domains.append(domain)
        images.append(crop)
    return torch.stack(images), torch.tensor(domains)


def main(config: PretrainConfig) -> Path:
    output_dir = Path(config.output_dir)
    accelerator = Accelerator(mixed_precision=config.mixed_precision, project_dir=str(output_dir))
    set_seed(config.seed, device_specific=True)

    if config.corpus:
        images = Corpus(config.corpus)
        categories = torch.tensor(images.categories)
    elif config.dataset:
        images = load_hf_dataset(config.dataset, data_dir=config.dataset_data_dir, split=config.dataset_split, column=config.image_column)
    elif config.train_data_dir:
        images = ImageFolder(config.train_data_dir)
    else:
        images = sample_photos("train")
    if not config.corpus:
        categories = torch.zeros(len(images), dtype=torch.long)  # photos
    crops = RandomCrops(images, config.resolution, min_scale=0.25)

    generator = StyleGenerator(**config.generator_layout())
    discriminator = StyleDiscriminator(channels=config.d_channels, num_domains=len(DOMAINS))
    generator_optimizer, discriminator_optimizer, scheduler = make_optimizers(generator, discriminator, config)
    generator, discriminator, generator_optimizer, discriminator_optimizer, scheduler = accelerator.prepare(
        generator, discriminator, generator_optimizer, discriminator_optimizer, scheduler
    )
    models = GanModels(
        accelerator, generator, discriminator, generator_optimizer, discriminator_optimizer, parse_policy(config.augment), config.max_grad_norm
    )
    weights = LossWeights(content=config.content_weight, adversarial=config.adversarial_weight)
    heldout = sample_photos("heldout")
    record = {
        "task": "pretrain",
        "title": "stylegan-hub general base model",
        "description": BASE_DESCRIPTION,
        "tags": ["stylegan-hub-base"],
        "datasets": [config.dataset] if config.dataset and "/" in config.dataset else [],
        "corpus": corpus_summary(config.corpus),
        "domains": list(DOMAINS),
        "command": command_line("python train/pretrain.py", config),
        "arguments": config.to_dict(),
    }
    run = TrainingRun(accelerator, generator, discriminator, config, heldout, record)

    for step in run.steps("pretrain"):
        batch, indices = crops.sample(config.batch_size)
        batch, domains = with_artwork(batch, categories[indices])
        losses = pretrain_step(models, batch.to(accelerator.device), domains.to(accelerator.device), weights)
        scheduler.step()
        run.end_step(step, losses)

    return run.finish()


def corpus_summary(corpus: str | None) -> dict | None:
    """The corpus's counts by category and source, with each source's licence, for the model card."""
    if not corpus:
        return None
    return json.loads((Path(corpus) / "corpus.json").read_text())


if __name__ == "__main__":
    main(parse_args())
