"""Rebuild the models shipped in `stylegan_hub/builtin/`: the general base model and the built-in styles.

Everything comes from this repository and from the photos that scikit-image and scikit-learn ship: the style
exemplars are those photos painted by the project's own non-photorealistic filters (`stylegan_hub.artwork`), the
base is pretrained with `train/pretrain.py` and each style is fine-tuned from it with the fine-tune loop.

    python train/make_builtins.py                  # everything (about 35 minutes on 2 CPU cores)
    python train/make_builtins.py --only oil       # one style, from the shipped base
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pretrain
from PIL import Image

from stylegan_hub import StyleGenerator
from stylegan_hub.artwork import apply_artwork
from stylegan_hub.data import sample_photos
from stylegan_hub.images import save_image
from stylegan_hub.inference import comparison_grid
from stylegan_hub.metrics.report import evaluate_model
from stylegan_hub.models.hub import BUILTIN_DIR, BUILTIN_PREFIX, DISCRIMINATOR_SUBFOLDER
from stylegan_hub.training import finetune
from stylegan_hub.training.card import METRICS_FILE, TRAINING_RECORD, write_model_card

REPO = Path(__file__).resolve().parent.parent
PRETRAIN_ARGS = ["--checkpointing-steps", "200", "--sample-every", "200"]
STYLES = {
    "oil": "Oil paint: flat painterly strokes with visible brush texture.",
    "sketch": "Pencil sketch: graphite lines and hatching on warm paper.",
    "cartoon": "Cartoon: flat colours with bold ink outlines.",
    "grade": "Film grade: teal shadows, orange highlights, lifted blacks and a vignette.",
}
FINETUNE_ARGS = ["--steps", "600"]
SHIPPED = ["config.json", "model.safetensors", "README.md", "sample.png", TRAINING_RECORD, DISCRIMINATOR_SUBFOLDER]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=["base", *STYLES], help="rebuild just these (default: all)")
    parser.add_argument("--work-dir", default="build/builtins", help="training outputs and checkpoints (default: %(default)s)")
    parser.add_argument(
        "--cards-only", action="store_true", help="only re-measure and re-render the shipped model cards (after a template change)"
    )
    return parser.parse_args(argv)


def ship(trained: Path, name: str, rebuild_command: str) -> Path:
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
    (target / TRAINING_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    if name in STYLES:
        write_metrics(name)
    write_builtin_card(name, record)
    return target


def write_metrics(style: str) -> None:
    """The style's quality on the held-out photos against its own filter (the ground truth), beside the photo's own
    scores: what the card shows as measured figures."""
    generator = StyleGenerator.from_pretrained(BUILTIN_PREFIX + style)
    scores = evaluate_model(generator, sample_photos("heldout"), exemplar_images(style), teacher=style)
    model, photo = scores["model"], scores["photo"]
    figures = {
        "PSNR vs the filter, held-out photos (256 px)": f"{model['psnr']:.2f} dB (the photo itself: {photo['psnr']:.2f})",
        "SSIM vs the filter": f"{model['ssim']:.3f} (the photo itself: {photo['ssim']:.3f})",
        "content kept": f"{model['content_kept']:.3f}",
    }
    (BUILTIN_DIR / style / METRICS_FILE).write_text(json.dumps(figures, indent=2) + "\n")


def write_builtin_card(name: str, record: dict) -> None:
    """The shipped card: built-in title and description, used as `builtin:NAME`."""
    if name == "base":
        record.update(title="stylegan-hub general base model", description=pretrain.BASE_DESCRIPTION)
    else:
        description = STYLES[name] + " Learned from photos bundled with scikit-image / scikit-learn, painted by `stylegan_hub.artwork`."
        record.update(title=f"{BUILTIN_PREFIX}{name}: a built-in stylegan-hub style", description=description)
    write_model_card(BUILTIN_DIR / name, record, model_id=f"{BUILTIN_PREFIX}{name}")


def exemplar_images(style: str) -> list[Image.Image]:
    """The style's exemplars: every bundled train photo, fitted into 384 px, painted by the style's filter."""
    photos = sample_photos("train")
    for photo in photos:
        photo.thumbnail((384, 384), Image.Resampling.LANCZOS)
    return [apply_artwork(style, photo) for photo in photos]


def make_exemplars(style: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for index, exemplar in enumerate(exemplar_images(style)):
        save_image(exemplar, directory / f"{style}-{index}.png")
    return directory


def styles_grid(path: Path) -> None:
    """README picture: each held-out photo, then each built-in style applied to it."""
    generators = [StyleGenerator.from_pretrained(BUILTIN_PREFIX + name) for name in STYLES]
    save_image(comparison_grid(sample_photos("heldout"), generators, height=224), path)


def main(args: argparse.Namespace) -> None:
    work = Path(args.work_dir)
    chosen = args.only or ["base", *STYLES]
    if args.cards_only:
        for name in chosen:
            if name in STYLES:
                write_metrics(name)
            write_builtin_card(name, json.loads((BUILTIN_DIR / name / TRAINING_RECORD).read_text()))
        return
    if "base" in chosen:
        trained = pretrain.main(pretrain.parse_args([*PRETRAIN_ARGS, "--output-dir", str(work / "base")]))
        ship(trained, "base", "python train/make_builtins.py --only base")
    for style in [s for s in chosen if s != "base"]:
        exemplars = make_exemplars(style, work / "exemplars" / style)
        output = work / style
        trained = finetune.main(finetune.parse_args(["--style-images", str(exemplars), "--output-dir", str(output), *FINETUNE_ARGS]))
        ship(trained, style, f"python train/make_builtins.py --only {style}")
    if all((BUILTIN_DIR / name / "config.json").exists() for name in STYLES):
        styles_grid(REPO / "docs" / "images" / "builtin-styles.png")


if __name__ == "__main__":
    main(parse_args())
