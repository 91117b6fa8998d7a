"""The zero-shot benchmark: any style from one picture, style mixing, and how fast both are.

    python bench/zeroshot.py                                  # builtin:any; writes docs/zeroshot.md and its pictures
    python bench/zeroshot.py --corpus build/corpus            # also real artwork from the corpus as style pictures
    python bench/zeroshot.py --style-pictures painting.jpg    # and any pictures you give

Style pictures: scikit-image's textures, the teacher filters on a train photo and (with --corpus) artwork from the
corpus. For each: the held-out photos in that style, and the style distance (patch SWD to the picture as a share of
the photo's; lower is closer). Mixing: two styles blended at 0, 0.25, 0.5, 0.75 and 1; a 50/50 mix must sit between
its parents (its distance to each parent between the parents' own). Speed: 512x512 with a cached style code and
reading a code from a picture, medians on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from stylegan_hub import StyleGenerator
from stylegan_hub.artwork import apply_artwork
from stylegan_hub.data import CORPUS_CATEGORIES, HELDOUT_PHOTOS, TRAIN_PHOTOS, Corpus, sample_photo
from stylegan_hub.images import load_image
from stylegan_hub.inference import pil_to_tensor, stylize
from stylegan_hub.metrics import style_distance
from stylegan_hub.metrics.report import fit_image
from stylegan_hub.mixing import mix_styles

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import style_code_seconds  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TEXTURES = ("brick", "grass", "gravel")
TEACHERS = ("oil", "sketch", "cartoon", "grade")
MIX_STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="builtin:any", help="the zero-shot model (default: %(default)s)")
    parser.add_argument("--corpus", default=None, help="a corpus from train/build_corpus.py: its artwork joins the style pictures")
    parser.add_argument("--artworks", type=int, default=3, help="corpus artworks to use (default: %(default)s)")
    parser.add_argument(
        "--mix", nargs=2, default=["teacher sketch", "teacher oil"], metavar="NAME", help="the two style pictures mixed (default: %(default)s)"
    )
    parser.add_argument("--style-pictures", nargs="*", default=[], help="more style pictures (files), e.g. artwork a package ships")
    parser.add_argument("--eval-side", type=int, default=256, help="held-out photos are fitted into this many pixels")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per speed figure (default: %(default)s)")
    parser.add_argument("--docs", default=str(REPO / "docs"), help="where zeroshot.md and its images go (default: %(default)s)")
    return parser.parse_args(argv)


def style_pictures(corpus: str | None, artworks: int, side: int, files: list[str]) -> dict[str, Image.Image]:
    """Named style pictures: textures, teacher renderings of the first train photo, corpus artwork, given files."""
    import skimage.data

    pictures = {f"texture {name}": Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in TEXTURES}
    photo = fit_image(sample_photo(TRAIN_PHOTOS[0]), side)
    pictures.update({f"teacher {name}": apply_artwork(name, photo) for name in TEACHERS})
    if corpus:
        images = Corpus(corpus)
        artwork = [i for i, category in enumerate(images.categories) if category == CORPUS_CATEGORIES.index("artwork")]
        for index in artwork[:: max(1, len(artwork) // artworks)][:artworks]:
            pictures[f"artwork {images.paths[index].stem}"] = images[index]
    pictures.update({f"picture {Path(file).stem}": load_image(file).convert("RGB") for file in files})
    return pictures


def tile_row(images: list[Image.Image], labels: list[str], height: int) -> Image.Image:
    tiles = []
    for image in images:
        tile = image.convert("RGB").copy()
        tile.thumbnail((round(height * 1.5), height), Image.Resampling.LANCZOS)
        tiles.append(tile)
    row = Image.new("RGB", (sum(t.width for t in tiles), height + 18), "white")
    draw, x = ImageDraw.Draw(row), 0
    for tile, label in zip(tiles, labels):
        row.paste(tile, (x, 18))
        draw.text((x + 3, 3), label, fill="black")
        x += tile.width
    return row


def stack(rows: list[Image.Image]) -> Image.Image:
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    y = 0
    for row in rows:
        sheet.paste(row, (0, y))
        y += row.height
    return sheet


def median_seconds(run, repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(args: argparse.Namespace) -> dict:
    docs = Path(args.docs)
    (docs / "images").mkdir(parents=True, exist_ok=True)
    model = StyleGenerator.from_pretrained(args.model).eval()
    photos = [fit_image(sample_photo(name), args.eval_side) for name in HELDOUT_PHOTOS]
    photo_tensors = [pil_to_tensor(photo) for photo in photos]
    pictures = style_pictures(args.corpus, args.artworks, args.eval_side, args.style_pictures)

    # Any style from one picture.
    scores, rows, styled = {}, [], {}
    for name, picture in pictures.items():
        styled[name] = model.with_style(model.style_code_of(picture))
        outputs = [stylize(styled[name], photo, precision="float32") for photo in photos]
        reference = [pil_to_tensor(fit_image(picture, args.eval_side))]
        scores[name] = style_distance([pil_to_tensor(o) for o in outputs], photo_tensors, reference)
        rows.append(tile_row([picture, *outputs], [f"{name} ({scores[name]:.2f})", *HELDOUT_PHOTOS], 160))
        print(f"{name}: style distance {scores[name]:.3f}", flush=True)
    stack(rows).save(docs / "images" / "zeroshot-grid.jpg", quality=90)

    # Mixing: two looks far apart (by default a pencil sketch and a colourful oil paint).
    first, second = args.mix
    if first not in styled or second not in styled:
        raise SystemExit(f"--mix {first!r} {second!r}: choose two of {', '.join(styled)}")
    strip, mixed_outputs = [], {}
    for weight in MIX_STEPS:
        mixed = mix_styles({styled[first]: 1 - weight, styled[second]: weight})
        mixed_outputs[weight] = [pil_to_tensor(stylize(mixed, photo, precision="float32")) for photo in photos]
        strip.append(stylize(mixed, photos[0], precision="float32"))
    stack([tile_row([pictures[first], *strip, pictures[second]], [first, *map(str, MIX_STEPS), second], 160)]).save(
        docs / "images" / "mixing-strip.jpg", quality=90
    )
    # Distances to each parent's picture, and to each parent's own outputs: a parent the model draws only partly can
    # sit farther from its picture than a blend does, while its outputs are what the blend should move away from.
    mixing = {}
    for parent, own in ((first, mixed_outputs[MIX_STEPS[0]]), (second, mixed_outputs[MIX_STEPS[-1]])):
        reference = [pil_to_tensor(fit_image(pictures[parent], args.eval_side))]
        mixing[f"{parent} (picture)"] = {str(w): style_distance(mixed_outputs[w], photo_tensors, reference) for w in MIX_STEPS}
        mixing[f"{parent} (its outputs)"] = {str(w): style_distance(mixed_outputs[w], photo_tensors, own) for w in MIX_STEPS}
    between = {
        reference: all(min(d["0.0"], d["1.0"]) <= d["0.5"] <= max(d["0.0"], d["1.0"]) for d in (mixing[f"{first} ({reference})"], mixing[f"{second} ({reference})"]))
        for reference in ("picture", "its outputs")
    }

    # Speed.
    photo_512 = torch.rand(1, 3, 512, 512)
    cached = styled[second]
    stylize_seconds = median_seconds(lambda: stylize(cached, photo_512), args.repeats)
    code_seconds = style_code_seconds(args.model, args.repeats)

    lines = [
        "# Zero-shot styles and mixing",
        "",
        f"Generated by `python bench/zeroshot.py` with `{args.model}` on the held-out photos ({', '.join(HELDOUT_PHOTOS)}) "
        f"fitted into {args.eval_side} px. Style distance: patch SWD of the outputs to the style picture as a share of "
        "the photos' (1 = no closer than the photo, lower is closer).",
        "",
        "| style picture | style distance |",
        "|---|---|",
        *[f"| {name} | {value:.2f} |" for name, value in scores.items()],
        "",
        "![zero-shot grid](images/zeroshot-grid.jpg)",
        "",
        f"## Mixing: {first} to {second}",
        "",
        "| mix weight of the second | " + " | ".join(map(str, MIX_STEPS)) + " |",
        "|---|" + "---|" * len(MIX_STEPS),
        *[f"| distance to {parent} | " + " | ".join(f"{v:.2f}" for v in d.values()) + " |" for parent, d in mixing.items()],
        "",
        "The 50/50 mix lies between its parents (its distance to each parent between the parents' own), measured "
        + "; ".join(f"against {'their pictures' if reference == 'picture' else 'their own outputs'}: {'yes' if ok else 'no'}" for reference, ok in between.items())
        + ".",
        "",
        "![mixing strip](images/mixing-strip.jpg)",
        "",
        "## Speed",
        "",
        f"- 512x512 with a cached style code (`stylize`, as users run it): {stylize_seconds:.3f} s median.",
        f"- Reading a style code from a 1024x768 picture: {code_seconds:.3f} s median.",
        "",
    ]
    notes = docs / "zeroshot-notes.md"  # hand-written findings, kept across re-renders
    (docs / "zeroshot.md").write_text("\n".join(lines) + ("\n" + notes.read_text() if notes.exists() else ""))
    summary = {"style_distance": scores, "mixing": mixing, "between": between, "stylize_512_s": stylize_seconds, "style_code_s": code_seconds}
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    sys.exit(0 if main(parse_args())["between"]["its outputs"] else 1)  # a blend that is not in between fails
