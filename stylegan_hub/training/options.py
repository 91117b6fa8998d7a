"""Command-line options shared by pretraining and fine-tuning, and the exact command that reproduces a run."""

from __future__ import annotations

import argparse
import shlex

from ..losses import LossWeights
from .steps import COLOR_TARGETS, CONTENT_FEATURES, STYLE_DISTANCES, STYLE_FEATURES

DEFAULT_BASE = "builtin:base"


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_common_arguments(
    parser: argparse.ArgumentParser, *, steps: int, resolution: int, batch_size: int, learning_rate: float, augment: str
) -> None:
    parser.add_argument("--output-dir", required=True, help="where the model, samples, logs and checkpoints go")
    parser.add_argument("--steps", type=positive_int, default=steps, help="optimisation steps (default: %(default)s)")
    parser.add_argument("--resolution", type=positive_int, default=resolution, help="training crop size in pixels (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=batch_size, help="images per step and process (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=learning_rate, help="generator learning rate (default: %(default)s)")
    parser.add_argument("--d-learning-rate", type=float, default=None, help="discriminator learning rate (default: the generator's)")
    parser.add_argument("--lr-scheduler", default="constant_with_warmup", help="a diffusers get_scheduler name (default: %(default)s)")
    parser.add_argument("--lr-warmup-steps", type=int, default=20, help="(default: %(default)s)")
    parser.add_argument("--max-grad-norm", type=float, default=1.0, help="clip gradient norms to this; 0 disables (default: %(default)s)")
    parser.add_argument("--ema-decay", type=float, default=0.995, help="EMA of the generator's weights; 0 disables (default: %(default)s)")
    parser.add_argument("--augment", default=augment, help="DiffAugment policy for the discriminator (default: %(default)s)")
    parser.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default="no", help="(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.add_argument(
        "--checkpointing-steps", type=positive_int, default=250, help="save a resumable checkpoint every N steps (default: %(default)s)"
    )
    parser.add_argument("--checkpoints-total-limit", type=positive_int, default=2, help="checkpoints to keep (default: %(default)s)")
    parser.add_argument("--resume", default=None, help="'latest' or a checkpoint folder to continue from")
    parser.add_argument(
        "--sample-every", type=positive_int, default=100, help="save a before/after sample grid every N steps (default: %(default)s)"
    )
    parser.add_argument("--log-every", type=positive_int, default=10, help="write losses every N steps (default: %(default)s)")
    hub = parser.add_argument_group("publishing", "the token comes from `hf auth login` or HF_TOKEN, never from the command line")
    hub.add_argument(
        "--push-to-hub", metavar="REPO_ID", default=None, help="publish the trained model to this Hub repo (e.g. you/my-style)"
    )
    hub.add_argument("--hub-private", action="store_true", help="create the Hub repo as private")
    hub.add_argument("--push-checkpoints", action="store_true", help="also publish the model at every checkpoint")


def command_line(program: str, parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """`program` followed by every option whose value differs from its default, shell-quoted."""
    words = program.split()
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        value = getattr(args, action.dest, None)
        if value == action.default:
            continue
        flag = action.option_strings[-1] if action.option_strings[-1].startswith("--") else action.option_strings[0]
        if action.nargs == 0:
            words.append(flag)
        elif isinstance(value, (list, tuple)):
            words += [flag, *map(str, value)]
        else:
            words += [flag, str(value)]
    return shlex.join(words)


def recorded_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """The values of `parser`'s own options (not what a wrapping CLI added to the namespace), for the record."""
    return {action.dest: getattr(args, action.dest) for action in parser._actions if action.dest != "help" and hasattr(args, action.dest)}


def build_finetune_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Learn a personal style from a few images.", add_help=add_help)
    parser.add_argument("--style-images", required=True, nargs="+", help="folder(s), files or globs of 1-N style images")
    parser.add_argument("--base", default=DEFAULT_BASE, help="model to start from: built-in name, folder or Hub id (default: %(default)s)")
    parser.add_argument(
        "--content-images", nargs="+", default=None, help="photos to learn on (default: the photos bundled with scikit-image/scikit-learn)"
    )
    parser.add_argument(
        "--freeze-blocks", type=int, default=2, help="lower discriminator blocks kept frozen (FreezeD) (default: %(default)s)"
    )
    parser.add_argument(
        "--from-scratch", action="store_true", help="use only the base's architecture, not its weights (an ablation; worse results)"
    )
    design = parser.add_argument_group("loss design", "the choices the quality benchmark's ablations compare")
    design.add_argument(
        "--style-distance",
        choices=STYLE_DISTANCES,
        default="swd",
        help="output vs exemplar features and colours: Gram matrices and RGB mean/covariance, or sliced Wasserstein "
        "distances of whole distributions (default: %(default)s)",
    )
    design.add_argument(
        "--content-features",
        choices=CONTENT_FEATURES,
        default="normalized",
        help="content loss on raw features, or on instance-normalised ones, which leave global tone and palette free "
        "(default: %(default)s)",
    )
    design.add_argument(
        "--style-features",
        choices=STYLE_FEATURES,
        default="raw",
        help="style loss on raw features, or on instance-normalised ones (texture only; tone and palette left to the "
        "colour term) (default: %(default)s)",
    )
    design.add_argument(
        "--color-target",
        choices=COLOR_TARGETS,
        default="palette",
        help="colour statistics to match: each batch's exemplar crops, or all exemplars' pixels (default: %(default)s)",
    )
    for name, default in vars(LossWeights()).items():
        parser.add_argument(f"--{name}-weight", type=float, default=default, help="(default: %(default)s)")
    add_common_arguments(parser, steps=400, resolution=128, batch_size=4, learning_rate=5e-4, augment="color,translation,cutout")
    return parser
