"""Build the pretraining corpus, offline, from image collections that Debian packages ship and the photos and
textures that scikit-image and scikit-learn ship.

    apt-get install plasma-workspace-wallpapers gnome-backgrounds mate-backgrounds desktop-base ukui-wallpapers \
        lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 endless-sky-data wesnoth-1.16-data tuxpaint-stamps-default \
        supertuxkart-data gimp-data krita-data
    python train/build_corpus.py --output-dir build/corpus
    python train/pretrain.py --train-data-dir build/corpus --output-dir outputs/base

Every file is decoded with the library's own loader (`stylegan_hub.images.load_image`; GIMP/Krita `.pat` patterns
with the small reader below), cut to its opaque part when it has transparency, refused when it is too small or
nearly flat, fitted into `--max-side` pixels and written as PNG into `photo/`, `artwork/` or `texture/`. Exact and
near duplicates (the same wallpaper at several resolutions) are found by a difference hash and only the largest is
kept. A source's category is fixed where the source says what it is (painted game art, patterns) and measured where
it mixes kinds (wallpapers, clip-art stamps): photos have almost no pixel equal to its neighbours and many colours.

`manifest.jsonl` has one line per image (file, category, source package and version, original path, licence, size
and bytes); `corpus.json` has the counts by source and category and each source's licence. The images are not part
of the repository: this script rebuilds them on any machine with the packages. Sources that are not installed are
skipped with a note. Held-out benchmark photos and the benchmark's texture styles are left out, so evaluations stay
unseen.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import shutil
import struct
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from stylegan_hub.data import HELDOUT_PHOTOS
from stylegan_hub.errors import ImageLoadError
from stylegan_hub.images import load_image

CATEGORIES = ("photo", "artwork", "texture")
READABLE = frozenset({".png", ".jpg", ".jpeg", ".webp", ".pat"})
BENCHMARK_TEXTURES = ("brick", "grass", "gravel")  # texture styles of bench/quality.py: never trained on


@dataclass(frozen=True)
class Source:
    """Files of one package: glob patterns under /, their category ("auto": measured) and licence.

    Licences were read from /usr/share/doc/<package>/copyright (recorded with each image; check them again before
    shipping anything made from a source).
    """

    name: str
    patterns: tuple[str, ...]
    category: str
    licence: str
    exclude: tuple[str, ...] = ()
    owned: bool = False  # the folder is shared with other packages: keep only the files this package installed


SOURCES = (
    Source("plasma-workspace-wallpapers", ("usr/share/wallpapers/*/contents/images/*",), "auto", "GPL-2+"),
    Source("gnome-backgrounds", ("usr/share/backgrounds/gnome/*",), "artwork", "CC-BY-SA-3.0"),
    Source("mate-backgrounds", ("usr/share/backgrounds/mate/nature/*",), "photo", "GPL-2+"),
    Source("mate-backgrounds", ("usr/share/backgrounds/mate/abstract/*", "usr/share/backgrounds/mate/desktop/*"), "artwork", "GPL-2+"),
    Source("desktop-base", ("usr/share/desktop-base/*-theme/wallpaper/contents/images/*",), "artwork", "GPL-2+ or CC-BY-SA-3.0"),
    Source("ukui-wallpapers", ("usr/share/backgrounds/*",), "auto", "CC-BY-SA-3.0 or GPL-3+", owned=True),
    Source("lomiri-wallpapers-16.04", ("usr/share/backgrounds/*",), "auto", "CC-BY-4.0, CC-BY-SA-3.0/4.0 or CC0-1.0 (per file)", owned=True),
    Source("lomiri-wallpapers-20.04", ("usr/share/backgrounds/*",), "auto", "CC-BY-4.0, CC-BY-SA-3.0/4.0 or CC0-1.0 (per file)", owned=True),
    Source("endless-sky-data", ("usr/share/games/endless-sky/images/land/*",), "photo", "public-domain or CC-BY-SA-3.0/4.0 (per file)"),
    Source(
        "endless-sky-data", ("usr/share/games/endless-sky/images/ship/*", "usr/share/games/endless-sky/images/outfit/*"), "artwork", "CC-BY-SA-3.0/4.0 (per file)"
    ),
    Source(
        "wesnoth-1.16-data",
        (
            "usr/share/games/wesnoth/1.16/data/core/images/portraits/**/*.png",
            "usr/share/games/wesnoth/1.16/data/core/images/story/*.jpg",
            "usr/share/games/wesnoth/1.16/data/core/images/maps/*.*",
            "usr/share/games/wesnoth/1.16/data/campaigns/*/images/story/*.*",
            "usr/share/games/wesnoth/1.16/data/campaigns/*/images/portraits/**/*.png",
        ),
        "artwork",
        "GPL-2+",
    ),
    Source("supertuxkart-data", ("usr/share/games/supertuxkart/data/textures/*",), "texture", "CC-BY-SA-3.0, CC-BY-3.0 or CC0 (per file)"),
    Source("tuxpaint-stamps-default", ("usr/share/tuxpaint/stamps/**/*.png",), "auto", "GPL-2", exclude=("/symbols/",)),
    Source("gimp-data", ("usr/share/gimp/2.0/patterns/**/*.pat",), "texture", "GPL-3+"),
    Source("krita-data", ("usr/share/krita/patterns/*.pat", "usr/share/krita/patterns/*.png"), "texture", "GPL-2+ and LGPL-2+"),
)


# --------------------------------------------------------------------------- reading


def read_gimp_pattern(path: Path) -> Image.Image:
    """A GIMP/Krita `.pat` pattern: a big-endian header (size, version, width, height, bytes per pixel, 'GPAT',
    name) followed by raw pixels."""
    data = path.read_bytes()
    header_size, version, width, height, depth = struct.unpack(">5I", data[:20])
    if data[20:24] != b"GPAT" or version != 1 or depth not in (1, 2, 3, 4) or header_size > len(data):
        raise ImageLoadError(f"{path.name}: not a GIMP pattern")
    pixels = data[header_size : header_size + width * height * depth]
    if len(pixels) != width * height * depth:
        raise ImageLoadError(f"{path.name}: truncated GIMP pattern")
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[depth]
    return load_image(Image.frombytes(mode, (width, height), pixels))


def read(path: Path) -> Image.Image:
    return read_gimp_pattern(path) if path.suffix.lower() == ".pat" else load_image(path)


def tiled(image: Image.Image, min_side: int) -> Image.Image:
    """A seamless pattern repeated until both sides reach `min_side`: small tiles are textures too."""
    repeats = (-(-min_side // image.width), -(-min_side // image.height))
    if repeats == (1, 1):
        return image
    canvas = Image.new(image.mode, (image.width * repeats[0], image.height * repeats[1]))
    for i in range(repeats[0]):
        for j in range(repeats[1]):
            canvas.paste(image, (i * image.width, j * image.height))
    return canvas


def opaque_part(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> tuple[Image.Image, Image.Image | None] | None:
    """An RGBA image cut to the box around its opaque pixels and laid on `background`, with its opacity mask (None
    for an opaque image); None if little is opaque (sprites and cut-outs: only what is drawn counts)."""
    if image.mode != "RGBA":
        return image, None
    alpha = np.asarray(image.getchannel("A"))
    rows, cols = np.nonzero(alpha > 16)
    if len(rows) < 0.02 * alpha.size:
        return None
    box = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    cut = image.crop(box)
    flat = Image.new("RGBA", cut.size, (*background, 255))
    flat.alpha_composite(cut)
    return flat.convert("RGB"), cut.getchannel("A")


# --------------------------------------------------------------------------- measuring


def thumbnail_array(image: Image.Image, side: int = 256) -> np.ndarray:
    small = image.copy()
    small.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.int16)


def measures(image: Image.Image, alpha: Image.Image | None = None) -> dict[str, float]:
    """What tells a photo from drawn or rendered art, and a flat image from one with content.

    flat: share of pixels equal to both their right and lower neighbours (large areas of one colour: drawn art);
    colours: distinct colours per pixel of a 256-px thumbnail (photos use many); detail: mean absolute difference
    between neighbours in 8-bit levels (near 0 for gradients and empty backgrounds).
    """
    array = thumbnail_array(image.convert("RGB"))
    opaque = np.ones(array.shape[:2], bool) if alpha is None else thumbnail_array(alpha) > 250  # cut-outs: the drawn part
    inside = opaque[:-1, :-1] & opaque[1:, :-1] & opaque[:-1, 1:]
    if inside.sum() < 64:
        return {"flat": 1.0, "colours": 0.0, "detail": 0.0}
    dx = np.abs(np.diff(array, axis=1))[:-1].sum(axis=2)[inside]
    dy = np.abs(np.diff(array, axis=0))[:, :-1].sum(axis=2)[inside]
    colours = len(np.unique(array[opaque].reshape(-1, 3), axis=0)) / opaque.sum()
    return {"flat": float(((dx == 0) & (dy == 0)).mean()), "colours": float(colours), "detail": float((dx + dy).mean() / 6)}


def looks_like_photo(figures: dict[str, float]) -> bool:
    return figures["flat"] < 0.15 and figures["colours"] > 0.25


def difference_hash(image: Image.Image) -> int:
    """64-bit dHash: the signs of horizontal differences of a 9x8 greyscale copy; near-equal for resized copies."""
    grey = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).flatten()
    return int("".join("1" if bit else "0" for bit in bits), 2)


def near_duplicates(hashes: list[int], max_distance: int) -> list[int]:
    """For each hash, the index of the first earlier hash within `max_distance` differing bits (itself if none)."""
    values = np.array(hashes, dtype=np.uint64)
    keep: list[int] = []
    owner = []
    for index, value in enumerate(values):
        if keep:
            differing = np.bitwise_xor(values[keep], value)
            distances = np.unpackbits(differing.view(np.uint8)).reshape(len(keep), 64).sum(axis=1)
            match = int(np.argmin(distances))
            if distances[match] <= max_distance:
                owner.append(keep[match])
                continue
        keep.append(index)
        owner.append(index)
    return owner


# --------------------------------------------------------------------------- collecting


@dataclass
class Candidate:
    image: Image.Image
    category: str
    source: str
    original: str
    licence: str
    figures: dict[str, float]
    original_bytes: int


def source_version(source: str) -> str | None:
    """The installed version of a Debian package or of a Python distribution (scikit-image, scikit-learn)."""
    try:
        return importlib.metadata.version(source)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", source], capture_output=True, text=True)
    except OSError:  # not a Debian system
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def installed_files(package: str) -> set[str]:
    try:
        result = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True)
    except OSError:
        return set()
    return set(result.stdout.split("\n")) if result.returncode == 0 else set()


def source_files(source: Source, root: Path) -> list[Path]:
    """The source's raster images (and patterns) under `root`."""
    files = {path for pattern in source.patterns for path in root.glob(pattern) if path.is_file()}
    files = {path for path in files if path.suffix.lower() in READABLE and not any(part in str(path) for part in source.exclude)}
    if source.owned:
        owned = installed_files(source.name)
        files = {path for path in files if "/" + str(path.relative_to(root)) in owned}
    return sorted(files)


def bundled_images() -> list[tuple[str, str, Image.Image]]:
    """(name, category, image) of the photos and textures inside scikit-image and scikit-learn, except those the
    benchmarks hold out. Data that scikit-image would download is skipped (offline)."""
    import skimage.data
    from sklearn.datasets import load_sample_image

    found = []
    for name in ("china", "flower"):
        if name not in HELDOUT_PHOTOS:
            found.append((f"scikit-learn/{name}.jpg", "photo", Image.fromarray(load_sample_image(f"{name}.jpg"))))
    photos = ("astronaut", "camera", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "moon", "cat", "horse", "coins", "clock")
    for name in (*photos, *BENCHMARK_TEXTURES):
        if name in HELDOUT_PHOTOS or name in BENCHMARK_TEXTURES:
            continue
        try:
            array = getattr(skimage.data, name)()
        except Exception:  # a data file scikit-image would fetch from the network
            continue
        if array.dtype == bool:
            continue
        found.append((f"scikit-image/{name}", "photo", Image.fromarray(array)))
    return found


def classify(source_category: str, figures: dict[str, float]) -> str:
    if source_category != "auto":
        return source_category
    return "photo" if looks_like_photo(figures) else "artwork"


def collect(root: Path, min_side: int, min_detail: float, include_bundled: bool, log) -> tuple[list[Candidate], Counter]:
    candidates: list[Candidate] = []
    refused: Counter = Counter()
    for source in SOURCES:
        files = source_files(source, root)
        if not files:
            log(f"  {source.name}: not installed here (or nothing matched); skipped")
            continue
        for path in files:
            try:
                found = opaque_part(read(path))
            except (ImageLoadError, OSError, ValueError, struct.error):
                refused["unreadable"] += 1
                continue
            if found is None:
                refused["mostly transparent"] += 1
                continue
            image, alpha = found
            if source.category == "texture":
                image, alpha = tiled(image, min_side), None
            if min(image.size) < min_side:
                refused[f"shorter side under {min_side} px"] += 1
                continue
            figures = measures(image, alpha)
            if figures["detail"] < min_detail:
                refused["nearly flat"] += 1
                continue
            category = classify(source.category, figures)
            candidates.append(Candidate(image, category, source.name, "/" + str(path.relative_to(root)), source.licence, figures, path.stat().st_size))
        log(f"  {source.name}: {len(files)} files looked at")
    if include_bundled:
        for name, category, image in bundled_images():
            candidates.append(Candidate(image.convert("RGB"), category, name.split("/")[0], name, "BSD-3-Clause (package data)", measures(image), 0))
    return candidates, refused


# --------------------------------------------------------------------------- writing


def fit(image: Image.Image, max_side: int) -> Image.Image:
    if max(image.size) <= max_side:
        return image
    image = image.copy()
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def build(output_dir: Path, root: Path, max_side: int, min_side: int, min_detail: float, max_hash_distance: int, include_bundled: bool, log=print) -> dict:
    candidates, refused = collect(root, min_side, min_detail, include_bundled, log)
    # Largest first, so among duplicates the best copy is the one kept.
    candidates.sort(key=lambda c: -c.image.size[0] * c.image.size[1])
    owners = near_duplicates([difference_hash(c.image) for c in candidates], max_hash_distance)
    kept = [c for index, c in enumerate(candidates) if owners[index] == index]
    refused["duplicate"] += len(candidates) - len(kept)

    staging = output_dir.with_name(output_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for category in CATEGORIES:
        (staging / category).mkdir(parents=True)
    versions: dict[str, str | None] = {}
    counts: Counter = Counter()
    with (staging / "manifest.jsonl").open("w") as manifest:
        for number, candidate in enumerate(sorted(kept, key=lambda c: (c.category, c.source, c.original))):
            image = fit(candidate.image, max_side)
            stem = Path(candidate.original).stem.replace(" ", "_")[:40]
            relative = f"{candidate.category}/{number:05d}-{candidate.source}-{stem}.png"
            image.save(staging / relative, optimize=False, compress_level=6)
            data = (staging / relative).read_bytes()
            if candidate.source not in versions:
                versions[candidate.source] = source_version(candidate.source)
            record = {
                "file": relative,
                "category": candidate.category,
                "source": candidate.source,
                "version": versions[candidate.source],
                "original": candidate.original,
                "licence": candidate.licence,
                "width": image.size[0],
                "height": image.size[1],
                "bytes": len(data),
                "original_bytes": candidate.original_bytes,
                "sha256": hashlib.sha256(data).hexdigest(),
                **{key: round(value, 4) for key, value in candidate.figures.items()},
            }
            manifest.write(json.dumps(record) + "\n")
            counts[(candidate.source, candidate.category)] += 1
    summary = {
        "images": sum(counts.values()),
        "by_category": {category: sum(n for (_, c), n in counts.items() if c == category) for category in CATEGORIES},
        "by_source": {
            source: {
                "licence": next(c.licence for c in kept if c.source == source),
                "version": versions.get(source),
                **{category: counts[(source, category)] for category in CATEGORIES if counts[(source, category)]},
            }
            for source in sorted({s for s, _ in counts})
        },
        "refused": dict(refused),
        "settings": {"max_side": max_side, "min_side": min_side, "min_detail": min_detail, "max_hash_distance": max_hash_distance},
    }
    (staging / "corpus.json").write_text(json.dumps(summary, indent=2) + "\n")
    if output_dir.exists():
        shutil.rmtree(output_dir)
    staging.rename(output_dir)
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="build/corpus", help="where photo/, artwork/, texture/ and the manifest go (default: %(default)s)")
    parser.add_argument("--root", default="/", help="file-system root the packages are installed under (default: %(default)s)")
    parser.add_argument("--max-side", type=int, default=768, help="images are fitted into this many pixels (default: %(default)s)")
    parser.add_argument("--min-side", type=int, default=128, help="smaller images are left out (default: %(default)s)")
    parser.add_argument("--min-detail", type=float, default=1.0, help="images flatter than this are left out (default: %(default)s)")
    parser.add_argument("--max-hash-distance", type=int, default=4, help="dHash bits within which images are duplicates (default: %(default)s)")
    parser.add_argument("--no-bundled", action="store_true", help="leave out the photos scikit-image and scikit-learn ship")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> int:
    summary = build(
        Path(args.output_dir), Path(args.root), args.max_side, args.min_side, args.min_detail, args.max_hash_distance, not args.no_bundled
    )
    print(f"{summary['images']} images in {args.output_dir}: " + ", ".join(f"{n} {c}" for c, n in summary["by_category"].items()))
    for source, entry in summary["by_source"].items():
        counts = ", ".join(f"{entry[c]} {c}" for c in CATEGORIES if c in entry)
        print(f"  {source} ({entry['licence']}): {counts}")
    print("  left out: " + ", ".join(f"{n} {why}" for why, n in summary["refused"].items()))
    return 0 if summary["images"] else 1


if __name__ == "__main__":
    sys.exit(main(parse_args()))
