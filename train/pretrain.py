"""Pretrain the general base model: a content-faithful generator and a discriminator with general features.

The generator learns to rebuild photos and artwork from noisy copies; the discriminator learns to tell real images
from rebuilt ones and photos from several kinds of artwork, which are made on the fly by the project's own
non-photorealistic filters (`stylegan_hub.artwork`). The result is the starting point of every fine-tune.

    python train/pretrain.py --output-dir outputs/base                             # bundled sample photos
    python train/pretrain.py --train-data-dir photos/ --output-dir outputs/base    # a folder of photos
    python train/pretrain.py --dataset org/photos --output-dir outputs/base        # a Hugging Face dataset
    accelerate launch train/pretrain.py --dataset org/photos --output-dir outputs/base   # many GPUs / nodes
    python train/pretrain.py --output-dir outputs/base --push-to-hub you/stylegan-hub-base     # and publish it
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from stylegan_hub import StyleDiscriminator, StyleGenerator
from stylegan_hub.artwork import ARTWORK_FILTERS
from stylegan_hub.augment import parse_policy
from stylegan_hub.data import ImageFolder, RandomCrops, load_hf_dataset, sample_photos
from stylegan_hub.losses import LossWeights
from stylegan_hub.models.hub import DISCRIMINATOR_SUBFOLDER
from stylegan_hub.training.options import add_common_arguments, command_line, recorded_arguments
from stylegan_hub.training.run import TrainingRun, make_optimizers
from stylegan_hub.training.steps import GanModels, pretrain_step

DOMAINS = ("photo", *ARTWORK_FILTERS)  # domain 0 is the photo itself, then one per artwork filter
BASE_DESCRIPTION = (
    "The general model every stylegan-hub style is fine-tuned from: a generator that keeps content faithfully and a "
    f"discriminator (in `{DISCRIMINATOR_SUBFOLDER}/`) whose features tell photos from kinds of artwork "
    f"({', '.join(DOMAINS)}). Fine-tune it with `stylegan-hub finetune --base <this model>`."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--train-data-dir", nargs="+", help="folder(s), files or globs of photos (default: the bundled sample photos)")
    source.add_argument("--dataset", help="a Hugging Face dataset id, or a builder such as 'imagefolder' with --dataset-data-dir")
    parser.add_argument("--dataset-data-dir", help="data_dir passed to datasets.load_dataset")
    parser.add_argument("--dataset-split", default="train")
    parser.add_argument("--image-column", default=None, help="the dataset's image column (default: its first Image feature)")
    parser.add_argument("--base-channels", type=int, default=16, help="generator width (default: %(default)s)")
    parser.add_argument("--num-res-blocks", type=int, default=4, help="generator depth (default: %(default)s)")
    parser.add_argument("--num-downsamples", type=int, default=2, help="(default: %(default)s)")
    parser.add_argument("--d-channels", type=int, nargs="+", default=[32, 64, 128, 128], help="discriminator widths (default: %(default)s)")
    parser.add_argument("--content-weight", type=float, default=1.0, help="(default: %(default)s)")
    parser.add_argument("--adversarial-weight", type=float, default=0.01, help="(default: %(default)s)")
    add_common_arguments(parser, steps=1200, resolution=128, batch_size=8, learning_rate=5e-4, augment="translation,cutout")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def with_artwork(crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn each crop (B, 3, R, R) in [-1, 1] into a random domain: left as a photo, or painted by a filter."""
    domains = torch.randint(0, len(DOMAINS), (crops.shape[0],))
    images = []
    for crop, domain in zip(crops, domains.tolist()):
        if domain:
            array = ((crop.permute(1, 2, 0).numpy() + 1) / 2).astype(np.float32)
            crop = torch.from_numpy(ARTWORK_FILTERS[DOMAINS[domain]](array)).permute(2, 0, 1) * 2 - 1
        images.append(crop)
    return torch.stack(images), domains


def main(args: argparse.Namespace) -> Path:
    output_dir = Path(args.output_dir)
    accelerator = Accelerator(mixed_precision=args.mixed_precision, project_dir=str(output_dir))
    set_seed(args.seed, device_specific=True)

    if args.dataset:
        images = load_hf_dataset(args.dataset, data_dir=args.dataset_data_dir, split=args.dataset_split, column=args.image_column)
    elif args.train_data_dir:
        images = ImageFolder(args.train_data_dir)
    else:
        images = sample_photos("train")
    crops = RandomCrops(images, args.resolution, min_scale=0.25)

    generator = StyleGenerator(base_channels=args.base_channels, num_downsamples=args.num_downsamples, num_res_blocks=args.num_res_blocks)
    discriminator = StyleDiscriminator(channels=args.d_channels, num_domains=len(DOMAINS))
    generator_optimizer, discriminator_optimizer, scheduler = make_optimizers(generator, discriminator, args)
    generator, discriminator, generator_optimizer, discriminator_optimizer, scheduler = accelerator.prepare(
        generator, discriminator, generator_optimizer, discriminator_optimizer, scheduler
    )
    models = GanModels(
        accelerator, generator, discriminator, generator_optimizer, discriminator_optimizer, parse_policy(args.augment), args.max_grad_norm
    )
    weights = LossWeights(content=args.content_weight, adversarial=args.adversarial_weight)
    heldout = sample_photos("heldout")
    record = {
        "task": "pretrain",
        "title": "stylegan-hub general base model",
        "description": BASE_DESCRIPTION,
        "tags": ["stylegan-hub-base"],
        "datasets": [args.dataset] if args.dataset and "/" in args.dataset else [],
        "domains": list(DOMAINS),
        "command": command_line("python train/pretrain.py", build_parser(), args),
        "arguments": recorded_arguments(build_parser(), args),
    }
    run = TrainingRun(accelerator, generator, discriminator, args, heldout, record)

    for step in run.steps("pretrain"):
        batch, domains = with_artwork(crops.sample(args.batch_size)[0])
        losses = pretrain_step(models, batch.to(accelerator.device), domains.to(accelerator.device), weights)
        scheduler.step()
        run.end_step(step, losses)

    return run.finish()


if __name__ == "__main__":
    main(parse_args())
