"""Rebuild the models shipped in `stylegan_hub/builtin/`: the general base model, the zero-shot model and the styles.

Nothing is downloaded. The base is pretrained with `train/pretrain.py` on the corpus `train/build_corpus.py` builds
from Debian's image packages, and the zero-shot model `any` with `train/pretrain_any.py` on the same corpus's photos
(L1, then the distribution term).
Two kinds of styles are then fine-tuned with the fine-tune loop:

- filter styles (oil, sketch, cartoon, grade): the exemplars are the photos scikit-image and scikit-learn ship,
  painted by the project's own non-photorealistic filters (`stylegan_hub.artwork`), so the pairs are free: each is
  learned from those before/after pairs alone, in its small layout from fresh weights (`--original-images
  --from-scratch`); their quality is measured against the filter on held-out photos;
- artwork styles (painting, ink, clipart): the exemplars are real artwork that Debian packages ship, listed with
  their licences on each card.

    apt-get install wesnoth-1.16-data krita-data tuxpaint-stamps-default  # the artwork styles' exemplars
    python train/make_builtins.py --corpus build/corpus   # everything (hours on 2 CPU cores)
    python train/make_builtins.py --only oil ink          # some styles, from the shipped base
    python train/make_builtins.py --only any              # the zero-shot model (about 90 min on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pretrain
import pretrain_any
from PIL import Image

from stylegan_hub import StyleGenerator
from stylegan_hub.artwork import apply_artwork
from stylegan_hub.data import TRAIN_PHOTOS, sample_photos
from stylegan_hub.images import load_image, save_image
from stylegan_hub.inference import comparison_grid
from stylegan_hub.metrics.report import evaluate_model
from stylegan_hub.models.hub import BUILTIN_DIR, BUILTIN_PREFIX, DISCRIMINATOR_SUBFOLDER
from stylegan_hub.training import finetune
from stylegan_hub.training.card import METRICS_FILE, TRAINING_RECORD, write_model_card
from stylegan_hub.training.config import DEFAULT_BASE, PRETRAINED_BASE, FinetuneConfig

REPO = Path(__file__).resolve().parent.parent
PRETRAIN_ARGS = ["--steps", "1500", "--checkpointing-steps", "250", "--sample-every", "250"]
FILTER_STYLES = {
    "oil": "Oil paint: flat painterly strokes with visible brush texture.",
    "sketch": "Pencil sketch: graphite lines and hatching on warm paper.",
    "cartoon": "Cartoon: flat colours with bold ink outlines.",
    "grade": "Film grade: teal shadows, orange highlights, lifted blacks and a vignette.",
}


@dataclass(frozen=True)
class ArtworkStyle:
    """A style learned from artwork a Debian package ships: the files, their package and licence (from
    /usr/share/doc/<package>/copyright), the Hub licence the style is published under, and the fine-tune settings
    that differ from the defaults."""

    description: str
    package: str
    licence: str
    hub_license: str
    files: tuple[str, ...]
    settings: tuple[tuple[str, object], ...] = ()
    sheets: int = 0
    """With sheets, the files are cut-outs on a transparent background (clip art), laid overlapping on this many
    square sheets (`stamp_sheets`): crops of a lone cut-out would be mostly empty paper."""
    distilled: bool = False
    """Fine-tuned in the base layout, then distilled into the filter styles' small layout (`distil`): on 2 cores the
    base layout runs 3.5-4.5x faster than TransformerNet, under the 5x the project keeps, the small one 6-7x."""


# Brush strokes and hatching are texture, which the random filter bank can draw and the discriminator's features
# cannot (docs/feature-space.md). The painting still comes out as a tint (docs/benchmark-notes.md).
PAINTING_SETTINGS = (("style_space", "random"), ("style_weight", 10.0))
# Hatching: each output vector pulled to its nearest exemplar vector, drawn from the generator's noise inputs; no
# adversarial or identity term and no EMA, a stronger palette term (its chroma distance greys the photo's hues)
# (docs/benchmark-notes.md).
HATCHING_SETTINGS = (
    ("noise_channels", 8),
    ("style_space", "random"),
    ("style_distance", "nearest"),
    ("style_weight", 1.0),
    ("color_weight", 5.0),
    ("adversarial_weight", 0.0),
    ("identity_weight", 0.0),
    ("ema_decay", 0.0),
    ("steps", 300),
)
# Clip art: flat fills from the palette snap and dark outlines from the edge-statistics term, starting from the
# zero-shot model's reading of the sheets (docs/benchmark-notes.md).
CLIPART_SETTINGS = (("base", DEFAULT_BASE), ("palette_colors", 12), ("edges_weight", 1.0), ("steps", 300))
WESNOTH_STORY = "/usr/share/games/wesnoth/1.16/data/core/images/story/"
KRITA_PATTERNS = "/usr/share/krita/patterns/"
TUXPAINT_STAMPS = "/usr/share/tuxpaint/stamps/"
SHEET_SIDE = 512
ARTWORK_STYLES = {
    "painting": ArtworkStyle(
        "Painted landscape: broad brush strokes and simplified forms, after the story art of Battle for Wesnoth.",
        "wesnoth-1.16-data",
        "GPL-2+",
        "gpl-2.0",
        tuple(
            WESNOTH_STORY + name
            for name in (
                "landscape-bridge.jpg",
                "landscape-castle.jpg",
                "landscape-coast.jpg",
                "landscape-hills-01.jpg",
                "landscape-mountains-01.jpg",
                "landscape-mountains-03.jpg",
                "landscape-mountains-04.jpg",
                "swamp-02.jpg",
            )
        ),
        PAINTING_SETTINGS,
    ),
    "ink": ArtworkStyle(
        "Ink drawing: the photo redrawn in grey lines over an embossed, hatched paper texture, after the hand-drawn "
        "hatching patterns Krita ships.",
        "krita-data",
        "GPL-2+ and LGPL-2+",
        "gpl-2.0",
        tuple(KRITA_PATTERNS + name for name in ("09b_drawed-CrossedLines.png", "09_drawed_crosshatched.png", "12_drawed_vertical.png")),
        HATCHING_SETTINGS,
        distilled=True,
    ),
    "clipart": ArtworkStyle(
        "Clip art: the photo posterised into flat, saturated fills with dark outlines, after the cartoon stamps of "
        "Tux Paint.",
        "tuxpaint-stamps-default",
        "GPL-2",
        "gpl-2.0",
        tuple(
            TUXPAINT_STAMPS + name
            for name in (
                "food/fruit/cartoon/apple.png",
                "food/fruit/cartoon/cherries.png",
                "food/fruit/cartoon/grapes.png",
                "food/fruit/cartoon/pear.png",
                "food/fruit/cartoon/prune.png",
                "food/fruit/cartoon/strawberry.png",
                "food/fruit/cartoon/blueberry.png",
                "food/fruit/cartoon/lemon.png",
                "animals/insects/cartoon/ladybug.png",
                "animals/insects/cartoon/snail2.png",
                "animals/birds/cartoon/tux.png",
                "people/cartoon/mermaid.png",
                "vehicles/masstransit/cartoon/double_decker_bus.png",
                "town/houses/cartoon/igloo.png",
                "town/houses/cartoon/tent.png",
                "town/houses/cartoon/swisshome.png",
            )
        ),
        CLIPART_SETTINGS,
        sheets=6,
        distilled=True,
    ),
}
STYLES = {**FILTER_STYLES, **{name: style.description for name, style in ARTWORK_STYLES.items()}}
# The zero-shot model: L1 alone (6000 steps) draws the mean of a style's strokes; 1200 more steps with the per-image
# distribution term draw marks (style distance with one exemplar 0.67 against 0.99, docs/zeroshot.md).
ANY_DISTRIBUTION_ARGS = ["--distribution-weight", "1.0", "--steps", "1200", "--learning-rate", "3e-4", "--sample-every", "300", "--checkpointing-steps", "300"]
ARTWORK_STEPS = 600  # the artwork styles start from builtin:base (PRETRAINED_BASE), as their cards record
# The filter styles learn from before/after pairs alone: their shipped layout (small enough for 4K in under 3 s) with
# fresh weights and a residual output, the pairs cropped at their own scale, learning rate 1e-3, 2000 steps
# (docs/benchmark-notes.md). Chosen by eye: the oil keeps rescaled crops and the sketch a direct output. The cartoon
# is snapped to 12 colours (the filter's count) once trained (`learn_pairs`), which turns its smooth fills flat.
PAIRED_SETTINGS = dict(from_scratch=True, residual_output=True, pair_crops="native", learning_rate=1e-3, steps=2000)
STYLE_SETTINGS = {
    "oil": (("pair_crops", "rescaled"),),  # at their own scale, the oil's patches came out smoother than the filter's
    "sketch": (("residual_output", False),),
    "grade": (),
    "cartoon": (),
}
SNAPPED_AFTER_TRAINING = {"cartoon": 12}
DISTILLED_LAYOUT = BUILTIN_PREFIX + "cartoon"
"""The small layout (0.34 M parameters) a distilled artwork style is learned in, from fresh weights."""
FILTER_SIDES = (256, 384, 512)
"""The filters' strokes scale with the picture: each bundled photo is painted at each of these sizes, so a model that
learns at the pictures' own scale sees the sizes it is used at."""
SHIPPED = ["config.json", "model.safetensors", "README.md", "sample.png", TRAINING_RECORD, DISCRIMINATOR_SUBFOLDER]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=["base", "any", *STYLES], help="rebuild just these (default: all)")
    parser.add_argument("--corpus", default="build/corpus", help="the pretraining corpus (train/build_corpus.py) (default: %(default)s)")
    parser.add_argument("--work-dir", default="build/builtins", help="training outputs and checkpoints (default: %(default)s)")
    parser.add_argument(
        "--cards-only", action="store_true", help="only re-measure and re-render the shipped model cards (after a template change)"
    )
    return parser.parse_args(argv)


def ship(trained: Path, name: str, rebuild_command: str, extra_record: dict | None = None) -> Path:
    """Copy what users need (no checkpoints or logs) into the package and record the command that rebuilt it."""
    target = BUILTIN_DIR / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for item in SHIPPED:
        source = trained / item
        if source.is_dir():
            shutil.copytree(source, target / item)
        elif source.exists():
            shutil.copy2(source, target / item)
    record = json.loads((target / TRAINING_RECORD).read_text())
    record["command"] = f"{rebuild_command}  # runs: {record['command']}"
    record.update(extra_record or {})
    (target / TRAINING_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    write_metrics(name)
    write_builtin_card(name, record)
    return target


def write_metrics(name: str) -> None:
    """Measured figures for the card: for a filter style, PSNR and SSIM against its filter on the held-out photos;
    for every style, its style distance to its exemplars and the content kept, each beside the photo's own."""
    if name not in STYLES:
        return
    generator = StyleGenerator.from_pretrained(BUILTIN_PREFIX + name)
    teacher = name if name in FILTER_STYLES else None
    scores = evaluate_model(generator, sample_photos("heldout"), exemplar_images(name), teacher=teacher)
    model, photo = scores["model"], scores["photo"]
    figures = {}
    if teacher:
        figures["PSNR vs the filter, held-out photos (256 px)"] = f"{model['psnr']:.2f} dB (the photo itself: {photo['psnr']:.2f})"
        figures["SSIM vs the filter"] = f"{model['ssim']:.3f} (the photo itself: {photo['ssim']:.3f})"
        figures["style distance to the filter's renderings (photo = 1)"] = f"{model['style_distance']:.2f}"
    else:
        figures["style distance to the exemplars (photo = 1)"] = f"{model['style_distance']:.2f}"
    figures["content kept"] = f"{model['content_kept']:.3f}"
    (BUILTIN_DIR / name / METRICS_FILE).write_text(json.dumps(figures, indent=2) + "\n")


def write_builtin_card(name: str, record: dict) -> None:
    """The shipped card: built-in title and description, used as `builtin:NAME`."""
    if name == "base":
        record.update(title="stylegan-hub general base model", description=pretrain.BASE_DESCRIPTION)
    elif name == "any":
        record.update(title=f"{BUILTIN_PREFIX}any: the stylegan-hub zero-shot model")
    elif name in FILTER_STYLES:
        description = STYLES[name] + " Learned from photos bundled with scikit-image / scikit-learn, painted by `stylegan_hub.artwork`."
        if name in SNAPPED_AFTER_TRAINING:
            colors = SNAPPED_AFTER_TRAINING[name]
            description += f" Trained without a palette, then its output snapped to {colors} colours chosen per picture."
        record.update(title=f"{BUILTIN_PREFIX}{name}: a built-in stylegan-hub style", description=description)
    else:
        style = ARTWORK_STYLES[name]
        description = f"{style.description} Learned from {len(style.files)} images of the Debian package `{style.package}` ({style.licence})"
        if style.sheets:
            description += f", laid overlapping on {style.sheets} sheets"
        description += "."
        if style.distilled:
            sides = ", ".join(str(side) for side in FILTER_SIDES)
            description += (
                f" Fine-tuned from `{record['distilled_from']['base']}`, then distilled into the small layout of the filter styles,"
                f" from its renderings of the {len(TRAIN_PHOTOS)} bundled photos at {sides} px"
            )
            if record["arguments"].get("pair_noise") == "field":
                description += ", seeing the teacher's noise field where the teacher saw it (so it keeps the grain drawn from it)"
            description += "."
        record.update(title=f"{BUILTIN_PREFIX}{name}: a built-in stylegan-hub style", description=description, license=style.hub_license)
    write_model_card(BUILTIN_DIR / name, record, model_id=f"{BUILTIN_PREFIX}{name}")


def filter_photos() -> list[Image.Image]:
    """The photos a filter style learns from: every bundled train photo, fitted into each of FILTER_SIDES."""
    photos = []
    for side in FILTER_SIDES:
        for photo in sample_photos("train"):
            photo.thumbnail((side, side), Image.Resampling.LANCZOS)
            photos.append(photo)
    return photos


def exemplar_images(name: str) -> list[Image.Image]:
    """A filter style's exemplars: the filter photos painted by its filter; an artwork style's: its files, fitted
    into 768 px."""
    if name in FILTER_STYLES:
        return [apply_artwork(name, photo) for photo in filter_photos()]
    style = ARTWORK_STYLES[name]
    missing = [path for path in style.files if not Path(path).is_file()]
    if missing:
        raise SystemExit(f"{name}: {missing[0]} is missing; install its exemplars with: apt-get install {style.package}")
    if style.sheets:
        return stamp_sheets([load_image(path) for path in style.files], style.sheets)
    images = [load_image(path).convert("RGB") for path in style.files]
    for image in images:
        image.thumbnail((768, 768), Image.Resampling.LANCZOS)
    return images


def stamp_sheets(stamps: list[Image.Image], count: int, side: int = SHEET_SIDE, seed: int = 0) -> list[Image.Image]:
    """`count` square sheets of white paper, each with every cut-out laid twice in a shuffled order at a random place
    and 30-50 % of the sheet's side, overlapping and running off the edges: pages of clip art, outlines and fills
    everywhere, that the same seed rebuilds exactly."""
    rng = random.Random(seed)
    cutouts = [stamp.convert("RGBA") for stamp in stamps]
    sheets = []
    for _ in range(count):
        sheet = Image.new("RGBA", (side, side), "white")
        order = list(range(len(cutouts)))
        rng.shuffle(order)
        for index in order * 2:
            cutout = cutouts[index].copy()
            size = rng.randint(side * 3 // 10, side // 2)
            cutout.thumbnail((size, size), Image.Resampling.LANCZOS)
            left = rng.randint(-cutout.width // 3, side - 2 * cutout.width // 3)
            top = rng.randint(-cutout.height // 3, side - 2 * cutout.height // 3)
            sheet.alpha_composite(cutout, (max(left, 0), max(top, 0)), (max(-left, 0), max(-top, 0)))
        sheets.append(sheet.convert("RGB"))
    return sheets


def exemplar_record(name: str) -> dict:
    """What the card lists about the exemplars of an artwork style."""
    if name not in ARTWORK_STYLES:
        return {}
    style = ARTWORK_STYLES[name]
    return {"exemplars": [{"name": Path(path).name, "source": f"{style.package}: {path}", "licence": style.licence} for path in style.files]}


def make_exemplars(name: str, directory: Path, originals: bool = False) -> Path:
    """The style's exemplars as files, or with `originals` a filter style's unpainted photos under the same names."""
    directory.mkdir(parents=True, exist_ok=True)
    for index, exemplar in enumerate(filter_photos() if originals else exemplar_images(name)):
        save_image(exemplar, directory / f"{name}-{index}.png")
    return directory


def learn_pairs(styled: Path, name: str, work: Path, output_dir: Path, base: str, snap_colors: int = 0, **settings) -> Path:
    """A model learned from before/after pairs alone (PAIRED_SETTINGS, then `settings`) in the layout of `base`:
    `styled` holds the after of each of `filter_photos()`, under `make_exemplars`' names. It trains without a palette
    snap (from fresh weights the snap made the cartoon's loss diverge) and, with `snap_colors`, gets one once trained:
    the snap has no weights, the trained model's output is quantised."""
    originals = make_exemplars(name, work / "originals" / name, originals=True)
    settings = {**PAIRED_SETTINGS, **settings, "palette_colors": 0}
    config = FinetuneConfig(style_images=[str(styled)], original_images=[str(originals)], output_dir=str(output_dir), base=base, **settings)
    trained = finetune.main(config)
    if snap_colors:
        StyleGenerator.from_pretrained(trained).with_palette_colors(snap_colors).save_pretrained(trained)
    return trained


def distil(teacher: Path, name: str, work: Path) -> Path:
    """The fine-tuned `teacher`'s renderings of the filter photos, learned as a filter style learns its pairs in
    DISTILLED_LAYOUT, with the teacher's palette snap. A teacher with noise inputs draws its texture from its fixed
    noise field: the student gets as many inputs and sees that field where the teacher saw it, so the texture is a
    function it can learn, not a random draw whose mean L1 would learn."""
    model = StyleGenerator.from_pretrained(teacher)
    if model.texture_side:  # its texture is a picture the student would not be given: L1 would learn its mean
        raise ValueError(f"{teacher}: a texture model draws from its own picture, which a distilled student is not given; set distilled=False for it")
    renderings = work / "renderings" / name
    renderings.mkdir(parents=True, exist_ok=True)
    for index, photo in enumerate(filter_photos()):
        save_image(model.stylize(photo, precision="float32"), renderings / f"{name}-{index}.png")
    noise = dict(noise_channels=model.noise_channels, pair_noise="field") if model.noise_channels else {}
    return learn_pairs(renderings, name, work, work / f"{name}-distilled", DISTILLED_LAYOUT, model.palette_colors, **noise)


def styles_grid(path: Path) -> None:
    """README picture: each held-out photo, then each shipped built-in style applied to it."""
    generators = [StyleGenerator.from_pretrained(BUILTIN_PREFIX + name) for name in STYLES if (BUILTIN_DIR / name / "config.json").exists()]
    save_image(comparison_grid(sample_photos("heldout"), generators, height=224), path)


def main(args: argparse.Namespace) -> None:
    work = Path(args.work_dir)
    chosen = args.only or ["base", "any", *STYLES]
    if args.cards_only:
        for name in chosen:
            write_metrics(name)
            write_builtin_card(name, json.loads((BUILTIN_DIR / name / TRAINING_RECORD).read_text()))
        return
    if "base" in chosen:
        trained = pretrain.main(pretrain.parse_args([*PRETRAIN_ARGS, "--corpus", args.corpus, "--output-dir", str(work / "base")]))
        ship(trained, "base", f"python train/make_builtins.py --only base --corpus {args.corpus}")
    if "any" in chosen:
        first = pretrain_any.main(pretrain_any.parse_args(["--corpus", args.corpus, "--output-dir", str(work / "any-l1")]))
        second = ["--corpus", args.corpus, "--output-dir", str(work / "any"), "--init-from", str(first), *ANY_DISTRIBUTION_ARGS]
        trained = pretrain_any.main(pretrain_any.parse_args(second))
        ship(trained, "any", f"python train/make_builtins.py --only any --corpus {args.corpus}")
    for name in [s for s in chosen if s not in ("base", "any")]:
        exemplars = make_exemplars(name, work / "exemplars" / name)
        extra_record = exemplar_record(name)
        if name in FILTER_STYLES:  # the pairs are free: the style is learned from them alone
            snap_colors = SNAPPED_AFTER_TRAINING.get(name, 0)
            trained = learn_pairs(exemplars, name, work, work / name, BUILTIN_PREFIX + name, snap_colors, **dict(STYLE_SETTINGS[name]))
        else:
            style = ARTWORK_STYLES[name]
            settings = {"base": PRETRAINED_BASE, "steps": ARTWORK_STEPS, **dict(style.settings)}
            trained = finetune.main(FinetuneConfig(style_images=[str(exemplars)], output_dir=str(work / name), **settings))
            if style.distilled:
                extra_record["distilled_from"] = json.loads((trained / TRAINING_RECORD).read_text())  # the fine-tune's settings
                trained = distil(trained, name, work)
        ship(trained, name, f"python train/make_builtins.py --only {name}", extra_record)
    styles_grid(REPO / "docs" / "images" / "builtin-styles.png")


if __name__ == "__main__":
    main(parse_args())
