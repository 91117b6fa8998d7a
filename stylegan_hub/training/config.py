"""Typed training settings, and the command-line parsers built from them.

The library takes these dataclasses: the app, the job and the benchmarks construct them directly, while
`stylegan-hub finetune`, `train/finetune.py` and `train/pretrain.py` build their parsers from the same fields
(`build_parser`), so a name, default, type or help text is written once. Every value is JSON-safe, so a run's
settings round-trip through `training_args.json` (`to_dict` / `from_dict`) and through the exact command that
reproduces it (`command_line`).

This module imports nothing of the training stack (accelerate, diffusers): building a parser must stay fast for the CLI.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

DEFAULT_BASE = "builtin:any"
"""Where a fine-tune starts: the zero-shot model, from the style code it reads from the exemplars (docs/zeroshot.md)."""
PRETRAINED_BASE = "builtin:base"
"""The general base model: its discriminator is the zero-shot model's, and the shipped styles were fine-tuned from it."""
STYLE_DISTANCES = ("gram", "swd", "nearest")
FEATURE_SPACES = ("random", "discriminator")
CONTENT_SPACES = (*FEATURE_SPACES, "luminance")
FEATURE_KINDS = ("raw", "normalized")
COLOR_TARGETS = ("batch", "palette")
CONTENT_TARGETS = ("photo", "base")
PAIR_CROPS = ("rescaled", "native")
PAIR_NOISE = ("fresh", "field")
FULL_STYLE_WEIGHT, FULL_STYLE_EXEMPLARS = 5.0, 6
"""The style term's default weight, and from how many exemplars on it applies in full (`FinetuneConfig.style_weight_for`)."""
FINETUNE_STEPS, PAIRED_STEPS = 200, 600
"""A fine-tune's default steps, from style images alone and from before/after pairs (`FinetuneConfig.steps_to_run`):
a paired step costs about a third of the time, and what depends on the place in the frame (a vignette) is learned
late, through position inputs that start at zero (docs/benchmark-notes.md)."""
TEXTURE_STYLE_WEIGHT = 10.0
"""The style term's default weight with a texture input: one picture, but all of it texture, so the style term is what
draws it (docs/benchmark-notes.md)."""
TEXTURE_SETTINGS = {"texture_side": 256, "style_space": "random", "learning_rate": 1e-3, "ema_decay": 0.0}
"""How a texture (one picture: bricks, pebbles, canvas) is learned: the picture itself as the generator's texture input,
the style term (TEXTURE_STYLE_WEIGHT) in the random filter bank, whose scales carry texture, and a higher learning rate
with no weight average, since in 200 steps the input's weights must grow from zero and the average lags behind them
(docs/benchmark-notes.md). The app's "A texture" box and the benchmark's texture method use these; on the command line
they are the four options the README shows."""


def option_flag(name: str) -> str:
    """A setting's command-line flag: `--batch-size` for `batch_size`."""
    return "--" + name.replace("_", "-")


TEXTURE_OPTIONS = " ".join(f"{option_flag(name)} {value}" for name, value in TEXTURE_SETTINGS.items())
"""TEXTURE_SETTINGS as command-line options, for the help that names them."""
MIXED_PRECISIONS = ("no", "fp16", "bf16")
PUBLISHING = "publishing"
LOSS_DESIGN = "loss design"
GROUP_HELP = {
    PUBLISHING: "the token comes from `hf auth login` or HF_TOKEN, never from the command line",
    LOSS_DESIGN: "the choices the quality benchmark's ablations compare",
}


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    choices: tuple | None = None,
    minimum: int | None = None,
    group=None,
    always_recorded: bool = False,
):
    """A config field with what its command-line option needs: help, allowed values, lower bound, option group.

    `always_recorded` puts the option in `command_line` even at its default, for settings whose default is expected
    to change (where a run starts from): a recorded command must reproduce the run after that change too."""
    metadata = {"help": help, "choices": choices, "minimum": minimum, "group": group, "always_recorded": always_recorded}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(kw_only=True)
class TrainingConfig:
    """Settings every training run shares: schedule, optimisation, checkpoints, samples and publishing."""

    output_dir: str = option(help="where the model, samples, logs and checkpoints go")
    steps: int = option(400, "optimisation steps", minimum=1)
    resolution: int = option(128, "training crop size in pixels", minimum=8)
    batch_size: int = option(4, "images per step and process", minimum=1)
    learning_rate: float = option(5e-4, "generator learning rate")
    d_learning_rate: float | None = option(None, "discriminator learning rate (default: the generator's)")
    lr_scheduler: str = option("constant_with_warmup", "a diffusers get_scheduler name")
    lr_warmup_steps: int = option(20, "", minimum=0)
    max_grad_norm: float = option(1.0, "clip gradient norms to this; 0 disables")
    ema_decay: float = option(0.995, "EMA of the generator's weights; 0 disables")
    augment: str = option("color,translation,cutout", "DiffAugment policy for the discriminator")
    mixed_precision: str = option("no", "", choices=MIXED_PRECISIONS)
    seed: int = option(0, "")
    checkpointing_steps: int = option(250, "save a resumable checkpoint every N steps", minimum=1)
    checkpoints_total_limit: int = option(2, "checkpoints to keep", minimum=1)
    resume: str | None = option(None, "'latest' or a checkpoint folder to continue from")
    sample_every: int = option(100, "save a before/after sample grid every N steps", minimum=1)
    log_every: int = option(10, "write losses every N steps", minimum=1)
    push_to_hub: str | None = option(None, "publish the trained model to this Hub repo (e.g. you/my-style)", group=PUBLISHING)
    hub_private: bool = option(False, "create the Hub repo as private", group=PUBLISHING)
    push_checkpoints: bool = option(False, "also publish the model at every checkpoint", group=PUBLISHING)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for spec in dataclasses.fields(self):
            value, meta = getattr(self, spec.name), spec.metadata
            if value is None and _is_optional(hints[spec.name]):
                continue
            flag = option_flag(spec.name)
            if _base_type(hints[spec.name]) is list:
                if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
                    raise ValueError(f"{flag}: give one or more values, got {value!r}")
                setattr(self, spec.name, [str(item) for item in value])
            if meta.get("choices") and value not in meta["choices"]:
                raise ValueError(f"{flag} {value}: choose one of {', '.join(meta['choices'])}")
            if meta.get("minimum") is not None and value < meta["minimum"]:
                raise ValueError(f"{flag} {value}: must be at least {meta['minimum']}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[Config], values: dict[str, Any]) -> Config:
        """A config from recorded settings; names this version does not know are refused with their names."""
        known = {spec.name for spec in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training settings {unknown}; this version knows {sorted(known)}")
        return cls(**values)

    def replace(self: Config, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


Config = TypeVar("Config", bound=TrainingConfig)


@dataclass(kw_only=True)
class FinetuneConfig(TrainingConfig):
    """A personal style learned from a few images, starting from a pretrained base model."""

    style_images: list[str] = option(help="folder(s), files or globs of 1-N style images")
    base: str = option(DEFAULT_BASE, "model to start from: built-in name, folder or Hub id", always_recorded=True)
    content_images: list[str] | None = option(None, "photos to learn on (default: the photos bundled with scikit-image/scikit-learn)")
    original_images: list[str] | None = option(
        None,
        "the photos the style images were made from, each with its style image's file name (extension aside): the "
        "fine-tune then learns the exact change from these before/after pairs (L1), instead of the style's statistics",
    )
    pair_crops: str = option(
        "rescaled",
        "with --original-images: crops of half to all of a pair's shorter side rescaled to --resolution, or windows at "
        "the pictures' own scale, so a filter's radius in pixels is learned as it is (sharper; the built-in filter styles)",
        choices=PAIR_CROPS,
    )
    pair_noise: str = option(
        "fresh",
        "with --original-images and noise inputs: fresh noise for every crop, or the field a stylegan-hub model with "
        "as many noise inputs draws at inference, at each crop's place: for pairs rendered by such a model (distilling "
        "it into another layout), whose texture is a function of that field; needs --pair-crops native",
        choices=PAIR_NOISE,
    )
    freeze_blocks: int = option(2, "lower discriminator blocks kept frozen (FreezeD)", minimum=0)
    noise_channels: int = option(
        0,
        "per-pixel noise inputs the generator can draw texture from (hatching, grain; use 8 with --style-space "
        "random); a base with fewer gets zero-weighted ones added, which leave its output unchanged until trained",
        minimum=0,
    )
    texture_side: int = option(
        0,
        "for a texture (one style image: bricks, pebbles, canvas): the generator is also given that picture, its "
        "shorter side fitted to this many pixels, mirrored and repeated over the frame, and learns to lay it over the "
        f"photo ({TEXTURE_OPTIONS}, as the README shows; the style weight then defaults to {TEXTURE_STYLE_WEIGHT:g}); 0: off",
        minimum=0,
    )
    palette_colors: int | None = option(
        None,
        "snap the output to this many colours, chosen per picture by k-means: flat fills and hard steps, as a cartoon "
        "or a poster has (the cartoon teacher uses 12); 0 turns a base's snap off; such models do not export to ONNX "
        "(default: the base's; the built-ins have none)",
        minimum=0,
    )
    from_scratch: bool = option(
        False,
        "use only the base's architecture, not its weights (worse from style images alone; from pairs, with "
        "--residual-output, how the built-in filter styles are made)",
    )
    residual_output: bool = option(
        False,
        "with --from-scratch: the generator adds its output to the photo, so it starts as the identity and learns only "
        "the change (the layout that learns before/after pairs best, docs/benchmark-notes.md)",
    )
    style_space: str = option(
        "discriminator",
        "features the style is compared in: the frozen discriminator's, or a frozen bank of random multi-scale "
        "filters, which draws texture but loses a sketch's lines (docs/feature-space.md)",
        choices=FEATURE_SPACES,
        group=LOSS_DESIGN,
    )
    content_space: str = option(
        "discriminator",
        "features the content is kept in: the frozen discriminator's (two middle layers), every map of the random "
        "filter bank, or the luminance at 1/4 and 1/8 scale (the layout only: fine texture is the style's to redraw)",
        choices=CONTENT_SPACES,
        group=LOSS_DESIGN,
    )
    style_distance: str = option(
        "swd",
        "output vs exemplar features and colours: Gram matrices and RGB mean/covariance, sliced Wasserstein "
        "distances of whole distributions, or each output feature its nearest exemplar feature (draws brush strokes "
        "in the random space; colours by sliced Wasserstein)",
        choices=STYLE_DISTANCES,
        group=LOSS_DESIGN,
    )
    content_features: str = option(
        "normalized",
        "content loss on raw features, or on instance-normalised ones, which leave global tone and palette free",
        choices=FEATURE_KINDS,
        group=LOSS_DESIGN,
    )
    style_features: str = option(
        "raw",
        "style loss on raw features, or on instance-normalised ones (texture only; tone and palette left to the colour term)",
        choices=FEATURE_KINDS,
        group=LOSS_DESIGN,
    )
    content_target: str = option(
        "base",
        "what the content term compares the output with: the base model's rendering of the photo, so a zero-shot base's "
        "style (read from the exemplars) is kept and refined rather than pulled back to the photo, or the photo itself",
        choices=CONTENT_TARGETS,
        group=LOSS_DESIGN,
    )
    color_target: str = option(
        "palette",
        "colour statistics to match: each batch's exemplar crops, or all exemplars' pixels",
        choices=COLOR_TARGETS,
        group=LOSS_DESIGN,
    )
    content_weight: float = option(1.0, "")
    style_weight: float | None = option(
        None,
        f"default: {FULL_STYLE_WEIGHT:g} with {FULL_STYLE_EXEMPLARS} or more style images, less with fewer and 0 with one: "
        "the statistics of one picture's crops hold its content (its colours, how much sky) as much as its style",
    )
    adversarial_weight: float = option(0.05, "")
    identity_weight: float = option(1.0, "")
    color_weight: float = option(1.0, "")
    edges_weight: float = option(
        0.0, "the edge-statistics term: how flat and how sharp the exemplars are (a cartoon's fills and outlines)"
    )
    steps: int | None = option(
        None, f"optimisation steps (default: {FINETUNE_STEPS}, or {PAIRED_STEPS} with --original-images, whose steps take a third of the time)", minimum=1
    )  # from builtin:any, 200 scored as well as 400 or better

    @property
    def steps_to_run(self) -> int:
        """The steps set, or the default for this kind of fine-tune (pairs or style images alone)."""
        if self.steps is not None:
            return self.steps
        return PAIRED_STEPS if self.original_images else FINETUNE_STEPS

    def style_weight_for(self, exemplar_count: int) -> float:
        """The style term's weight when learning from `exemplar_count` images: the one set, or by default a share of
        the full weight that grows from none with one image to all of it with six (docs/benchmark-notes.md)."""
        if self.style_weight is not None:
            return self.style_weight
        if self.texture_side:
            return TEXTURE_STYLE_WEIGHT
        share = min(max(exemplar_count - 1, 0), FULL_STYLE_EXEMPLARS - 1) / (FULL_STYLE_EXEMPLARS - 1)
        return FULL_STYLE_WEIGHT * share

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.palette_colors == 1:
            raise ValueError("--palette-colors 1: one colour draws nothing; give 0 (no snap) or at least 2")
        if self.pair_crops != "rescaled" and not self.original_images:
            raise ValueError(f"--pair-crops {self.pair_crops}: it crops before/after pairs; give --original-images too")
        if self.pair_noise == "field":
            if not self.original_images:
                raise ValueError("--pair-noise field: it gives the noise of rendered pairs; give --original-images too")
            if self.pair_crops != "native":
                raise ValueError(f"--pair-crops {self.pair_crops}: the noise field lies on the pairs at their own scale; give --pair-crops native")
            if not self.noise_channels:
                raise ValueError("--pair-noise field: give --noise-channels, the count of the model that rendered the pairs")
        if 0 < self.texture_side < 16:
            raise ValueError(f"--texture-side {self.texture_side}: a texture needs at least 16 pixels; give 16 or more, or 0 for none")
        if self.texture_side and self.original_images:
            raise ValueError("--texture-side: a texture is learned from the style image alone; leave out --original-images")
        if self.residual_output and not self.from_scratch:
            raise ValueError("--residual-output changes how the base's weights are read: give it with --from-scratch")
        if self.original_images and self.content_images:
            raise ValueError("--original-images and --content-images: give one; with pairs the originals are the photos learned on")


@dataclass(kw_only=True)
class GeneratorLayoutConfig(TrainingConfig):
    """Settings of runs that build a generator from nothing: its layout, written once for both pretraining scripts."""

    base_channels: int = option(16, "generator width", minimum=1)
    num_downsamples: int = option(3, "generator scales below the full one", minimum=0)
    num_res_blocks: int = option(6, "generator residual blocks at its lowest scale", minimum=0)
    decoder_blocks: int = option(1, "generator residual blocks after each upsampling", minimum=0)
    residual_output: bool = option(False, "the generator adds its output to the photo: it learns the change, from the identity")

    def generator_layout(self) -> dict[str, Any]:
        """The layout as `StyleGenerator` arguments."""
        shared = {spec.name for spec in dataclasses.fields(TrainingConfig)}
        return {spec.name: getattr(self, spec.name) for spec in dataclasses.fields(GeneratorLayoutConfig) if spec.name not in shared}


@dataclass(kw_only=True)
class PretrainConfig(GeneratorLayoutConfig):
    """The general base model, learned from a folder of images, a Hugging Face dataset or the bundled photos."""

    corpus: str | None = option(None, "a corpus built by train/build_corpus.py; its photo/artwork/texture kinds become discriminator domains")
    train_data_dir: list[str] | None = option(None, "folder(s), files or globs of images (default: the bundled sample photos)")
    dataset: str | None = option(None, "a Hugging Face dataset id, or a builder such as 'imagefolder' with --dataset-data-dir")
    dataset_data_dir: str | None = option(None, "data_dir passed to datasets.load_dataset")
    dataset_split: str = option("train", "")
    image_column: str | None = option(None, "the dataset's image column (default: its first Image feature)")
    d_channels: list[int] = option([32, 64, 128, 128], "discriminator widths")
    content_weight: float = option(1.0, "")
    adversarial_weight: float = option(0.01, "")
    steps: int = option(1200, "optimisation steps", minimum=1)
    batch_size: int = option(8, "images per step and process", minimum=1)
    augment: str = option("translation,cutout", "DiffAugment policy for the discriminator")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.d_channels = [int(width) for width in self.d_channels]
        if sum(bool(source) for source in (self.corpus, self.train_data_dir, self.dataset)) > 1:
            raise ValueError("--corpus, --train-data-dir and --dataset are alternatives; give one")


@dataclass(kw_only=True)
class ZeroShotConfig(GeneratorLayoutConfig):
    """The zero-shot model: a generator conditioned on a style code and the encoder that reads the code from a style
    picture, learned from paired renderings of many random styles (`stylegan_hub.training.zeroshot`)."""

    corpus: str | None = option(None, "a corpus built by train/build_corpus.py; its photos are rendered (default: the bundled sample photos)")
    styles: int = option(384, "random styles rendered before training", minimum=1)
    photos_per_style: int = option(8, "photos each style is rendered on", minimum=2)
    bank_side: int = option(256, "side of the square photos and renderings, in pixels", minimum=16)
    bank_workers: int = option(2, "processes rendering the styles", minimum=1)
    discriminator_from: str = option(PRETRAINED_BASE, "model whose discriminator is shipped beside the generator, for fine-tunes")
    init_from: str | None = option(None, "a zero-shot model of the same layout to continue training from (e.g. builtin:any)")
    distribution_weight: float = option(
        0.0, "weight of the per-image sliced Wasserstein distance to the target in the random filter bank, beside the L1"
    )
    style_dim: int = option(64, "length of the style code", minimum=1)
    encoder_channels: int = option(32, "style encoder width", minimum=1)
    steps: int = option(6000, "optimisation steps", minimum=1)
    batch_size: int = option(8, "images per step and process", minimum=1)
    learning_rate: float = option(1e-3, "learning rate")
    ema_decay: float = option(0.999, "EMA of the weights; 0 disables")
    checkpointing_steps: int = option(500, "save a resumable checkpoint every N steps", minimum=1)
    sample_every: int = option(500, "save a sample grid every N steps", minimum=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.resolution > self.bank_side:
            raise ValueError(f"--resolution {self.resolution}: crops come from {self.bank_side}-px renderings; lower it or raise --bank-side")


# --------------------------------------------------------------------------- parsers built from the fields


def _is_optional(hint: Any) -> bool:
    return isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)


def _base_type(hint: Any) -> Any:
    """`list[str] | None` -> list, `int | None` -> int."""
    if _is_optional(hint):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return typing.get_origin(hint) or hint


def _item_type(hint: Any) -> Any:
    """The element type of `list[X]` (or `list[X] | None`), else the type itself."""
    if _is_optional(hint):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return typing.get_args(hint)[0] if typing.get_origin(hint) is list else hint


def _at_least(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer of at least {minimum}, got {text}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its "invalid integer value" message
    return parse


def _default(spec: dataclasses.Field) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return dataclasses.MISSING


def add_config_arguments(parser: argparse.ArgumentParser, config_class: type[TrainingConfig]) -> None:
    """One option per field of `config_class`: `--batch-size` for `batch_size`, with its type, default and help."""
    hints = typing.get_type_hints(config_class)
    groups: dict[str, argparse._ArgumentGroup] = {}
    for spec in dataclasses.fields(config_class):
        meta, hint, default = spec.metadata, hints[spec.name], _default(spec)
        target = parser
        if meta.get("group"):
            target = groups.get(meta["group"]) or groups.setdefault(meta["group"], parser.add_argument_group(meta["group"], GROUP_HELP[meta["group"]]))
        flag = option_flag(spec.name)
        kwargs: dict[str, Any] = {"dest": spec.name, "help": meta.get("help", "")}
        if hint is bool:
            target.add_argument(flag, action="store_true", **kwargs)
            continue
        if default is dataclasses.MISSING:
            kwargs["required"] = True
        else:
            kwargs["default"] = default
            if default is not None:
                kwargs["help"] = (kwargs["help"] + " (default: %(default)s)").strip()
        item = _item_type(hint)
        kwargs["type"] = _at_least(meta["minimum"]) if item is int and meta.get("minimum") is not None else item
        if _base_type(hint) is list:
            kwargs["nargs"] = "+"
        if meta.get("choices"):
            kwargs["choices"] = meta["choices"]
        target.add_argument(flag, **kwargs)


def build_parser(config_class: type[TrainingConfig], description: str | None = None, add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description or config_class.__doc__, add_help=add_help)
    add_config_arguments(parser, config_class)
    return parser


def config_from_namespace(config_class: type[Config], namespace: argparse.Namespace) -> Config:
    """The config from parsed options (a wrapping CLI may have added names of its own; they are left out)."""
    names = {spec.name for spec in dataclasses.fields(config_class)}
    return config_class(**{name: value for name, value in vars(namespace).items() if name in names})


def parse_config(config_class: type[Config], argv: list[str] | None = None, description: str | None = None) -> Config:
    parser = build_parser(config_class, description)
    namespace = parser.parse_args(argv)
    try:
        return config_from_namespace(config_class, namespace)
    except ValueError as error:
        parser.error(str(error))


def command_line(program: str, config: TrainingConfig) -> str:
    """`program` followed by every option whose value differs from its default (and those always recorded),
    shell-quoted: the exact command that reproduces the run."""
    words = program.split()
    for spec in dataclasses.fields(config):
        value = getattr(config, spec.name)
        if value == _default(spec) and not spec.metadata.get("always_recorded"):
            continue
        flag = option_flag(spec.name)
        if isinstance(value, bool):
            words.append(flag)
        elif isinstance(value, list):
            words += [flag, *map(str, value)]
        else:
            words += [flag, str(value)]
    return shlex.join(words)
