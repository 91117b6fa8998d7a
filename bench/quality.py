"""The style-learning benchmark: does a style learned from a few images look right on new photos, against baselines?

    python bench/quality.py                        # everything below, 3 seeds (hours on 2 CPU cores; resumable)
    python bench/quality.py --seeds 1 --shots 6    # a quicker pass
    python bench/quality.py --report-only          # re-render docs/benchmark.md and the plots from saved results

Teacher styles (the filters in `stylegan_hub.artwork`) give a ground truth: the fine-tune sees only the exemplars
teacher(train photo) for the first 1, 3 or 6 train photos (unpaired, few-shot) and is scored by PSNR/SSIM of
model(held-out photo) against teacher(held-out photo). Texture styles (scikit-image's brick, grass, gravel) have no
ground truth and are scored by SWD to the texture and content kept. Baselines run on the same data in the same run:
the photo itself, Reinhard colour transfer, Gatys-style per-photo optimisation in the same feature space, the
fine-tune given the exemplars' own photos as before/after pairs (`--original-images`: the *paired* bound, what
unpaired learning can approach), on the textures the fine-tune with the texture option (`TEXTURE_SETTINGS`: the picture
as the generator's input), the fine-tune from scratch
(what pretraining buys), the fine-tune from the general base instead of the zero-shot model (what that start buys) and
ablations of the fine-tune. Every run's scores are appended to results.jsonl as it ends,
so an interrupted benchmark resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from report_quality import DETERMINISTIC, write_report

from stylegan_hub.artwork import ARTWORK_FILTERS, apply_artwork
from stylegan_hub.baselines import optimize_transfer, reinhard_transfer
from stylegan_hub.data import HELDOUT_PHOTOS, TRAIN_PHOTOS, sample_photo
from stylegan_hub.inference import pil_to_tensor, stylize, tensor_to_pil
from stylegan_hub.metrics import evaluate_outputs
from stylegan_hub.metrics.report import fit_image
from stylegan_hub.models import StyleGenerator
from stylegan_hub.models.perceptual import RandomFilterBank
from stylegan_hub.training import finetune
from stylegan_hub.training.config import DEFAULT_BASE, PRETRAINED_BASE, TEXTURE_SETTINGS, FinetuneConfig
from stylegan_hub.training.finetune import load_base

REPO = Path(__file__).resolve().parent.parent
TEXTURES = ("brick", "grass", "gravel")
METHODS = ("identity", "reinhard", "gatys", "ours", "texture", "paired", "scratch", "zeroshot", "from-base")
TEACHER_ONLY, TEXTURE_ONLY = {"paired"}, {"texture"}  # the texture option learns one picture as a texture
FIRST_DESIGN = dict(style_distance="gram", content_features="raw", color_target="batch")
ABLATIONS = {  # fine-tune variants: the settings that differ from the default fine-tune
    "gram": dict(style_distance="gram"),
    "raw-content": dict(content_features="raw"),
    "batch-color": dict(color_target="batch"),
    "first-design": FIRST_DESIGN,  # Gram style and colour statistics of each batch, content on raw features
    "first-design+no-color": dict(FIRST_DESIGN, color_weight=0.0),
    "more-content": dict(content_weight=3.0),
    "normalized-style": dict(style_features="normalized", style_weight=5.0),  # texture only, at the full weight
    "no-style": dict(style_weight=0.0),
    "no-color": dict(color_weight=0.0),
    "no-adversarial": dict(adversarial_weight=0.0),
    "no-identity": dict(identity_weight=0.0),
    "no-color-augment": dict(augment="translation,cutout"),
    "random-space": dict(style_space="random"),  # the style compared in the random filter bank
    "more-style": dict(style_weight=15.0),
    "less-style": dict(style_weight=1.0),  # with one exemplar the style term is what hurts (docs/benchmark-notes.md)
    "nearest-random": dict(style_space="random", style_distance="nearest"),  # each output vector its nearest exemplar's
    "all-random": dict(style_space="random", content_space="random", style_distance="nearest"),
    "noise": dict(noise_channels=8),  # noise inputs the generator can draw texture from
    "luminance-content": dict(content_space="luminance"),  # content = the layout only, fine texture left to the style
    "edges": dict(content_space="luminance", edges_weight=2.0),  # + the exemplars' edge statistics (flat fills, outlines)
    "palette": dict(palette_colors=12),  # the output snapped to 12 colours chosen per picture (the cartoon teacher's count)
    "photo-content": dict(content_target="photo"),  # content kept against the photo, not the start's rendering of it
    "full-style": dict(style_weight=5.0),  # the full weight whatever the exemplar count (the default before 2026-12-06)
    "lr-2e-4": dict(learning_rate=2e-4),  # the default steps at a lower learning rate (docs/benchmark-notes.md: loss spikes)
}
TRAJECTORY_STEPS = 8  # points on the SWD-vs-steps curve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="build/bench-quality", help="runs, images and results.jsonl (default: %(default)s)")
    parser.add_argument("--styles", nargs="+", default=list(ARTWORK_FILTERS), choices=list(ARTWORK_FILTERS), help="teacher styles")
    parser.add_argument("--textures", nargs="*", default=list(TEXTURES), choices=list(TEXTURES), help="texture styles")
    parser.add_argument("--shots", nargs="+", type=int, default=[1, 3, 6], help="exemplar counts (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per learned method (default: %(default)s)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--full-methods-shots", nargs="+", type=int, default=[6], help="shots at which paired/scratch also run")
    parser.add_argument("--ablations", nargs="*", default=list(ABLATIONS), choices=list(ABLATIONS), help="at the largest shot count")
    parser.add_argument("--texture-ablations", action="store_true", help="run the ablations on the texture styles too")
    parser.add_argument("--steps", type=int, default=None, help="fine-tune steps (default: the fine-tune's own default)")
    parser.add_argument("--resolution", type=int, default=None, help="fine-tune crop size (default: the fine-tune's own)")
    parser.add_argument("--base", default=None, help="base model (default: the fine-tune's default base)")
    parser.add_argument("--zero-shot-model", default="builtin:any", help="the zero-shot model of zeroshot (default: %(default)s)")
    parser.add_argument(
        "--pretrained-base", default=PRETRAINED_BASE, help="the base of from-base, the fine-tune the default is compared with (default: %(default)s)"
    )
    parser.add_argument("--eval-side", type=int, default=256, help="held-out photos are fitted into this many pixels")
    parser.add_argument("--gatys-steps", type=int, default=200, help="optimisation steps per photo (default: %(default)s)")
    parser.add_argument("--picture-side", type=int, default=512, help="side of the per-style picture grids (default: %(default)s)")
    parser.add_argument("--docs", default=str(REPO / "docs"), help="where benchmark.md and its images go (default: %(default)s)")
    parser.add_argument("--readme", default=str(REPO / "README.md"), help="README whose benchmark section is rewritten")
    parser.add_argument("--report-only", action="store_true", help="only render the report from results.jsonl")
    args = parser.parse_args(argv)
    if not all(1 <= count <= len(TRAIN_PHOTOS) for count in args.shots + args.full_methods_shots):
        parser.error(f"--shots and --full-methods-shots take counts from 1 to {len(TRAIN_PHOTOS)} (the train photos)")
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    return args


# --------------------------------------------------------------------------- data


def texture(name: str) -> Image.Image:
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def teacher_photos(shots: int, side: int) -> list[Image.Image]:
    """The train photos the exemplars and the paired bound are made from, fitted into the held-out photos' side.

    The teachers' strokes, fills and lines scale with the picture (`artwork.REFERENCE_SIDE`), so rendering these at
    any other size would teach marks of another size in pixels than the held-out targets are scored on."""
    return [fit_image(sample_photo(name), side) for name in TRAIN_PHOTOS[:shots]]


def written_once(folder: Path, pictures: Callable[[], dict[str, Image.Image]]) -> Path:
    """`folder` holding `pictures()` ({file name: picture}), made once and whole (staged, then renamed)."""
    if not folder.is_dir():
        staging = folder.with_suffix(".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, picture in pictures().items():
            picture.save(staging / name)
        staging.rename(folder)
    return folder


def exemplar_dir(root: Path, kind: str, style: str, shots: int, side: int) -> Path:
    """The exemplar images as files (what a user would upload): teacher(train photos) or the texture itself."""
    if kind != "teacher":  # textures have one scale
        return written_once(root / "exemplars" / f"{kind}-{style}-{shots}", lambda: {f"{style}.png": texture(style)})
    return written_once(
        root / "exemplars" / f"{kind}-{style}-{shots}-{side}px",
        lambda: {f"{name}.png": apply_artwork(style, photo) for name, photo in zip(TRAIN_PHOTOS, teacher_photos(shots, side))},
    )


def originals_dir(root: Path, shots: int, side: int) -> Path:
    """The photos the teacher exemplars were made from, under the exemplars' file names: the paired fine-tune's pairs."""
    return written_once(
        root / "exemplars" / f"originals-{shots}-{side}px",
        lambda: {f"{name}.png": photo for name, photo in zip(TRAIN_PHOTOS, teacher_photos(shots, side))},
    )


class Task:
    """One style at one exemplar count: the exemplars, the held-out photos and (for teachers) their ground truth."""

    def __init__(self, root: Path, kind: str, style: str, shots: int, eval_side: int):
        self.root, self.kind, self.style, self.shots = root, kind, style, shots
        self.exemplar_dir = exemplar_dir(root, kind, style, shots, eval_side)
        self.photos = [fit_image(sample_photo(name), eval_side) for name in HELDOUT_PHOTOS]
        self.photo_tensors = [pil_to_tensor(photo) for photo in self.photos]
        self.exemplars = [pil_to_tensor(fit_image(Image.open(path), eval_side)) for path in sorted(self.exemplar_dir.iterdir())]
        self.targets = [pil_to_tensor(apply_artwork(style, photo)) for photo in self.photos] if kind == "teacher" else None

    def score(self, outputs: list[torch.Tensor]) -> dict[str, float]:
        return evaluate_outputs(outputs, photos=self.photo_tensors, style_images=self.exemplars, targets=self.targets)


# --------------------------------------------------------------------------- methods


def finetune_config(args: argparse.Namespace, task: Task, output_dir: Path, seed: int, changes: dict) -> FinetuneConfig:
    """The default fine-tune on the task's exemplars, with the benchmark's steps, resolution and base if given."""
    overrides = {name: value for name in ("steps", "resolution", "base") if (value := getattr(args, name)) is not None}
    return FinetuneConfig(
        style_images=[str(task.exemplar_dir)], output_dir=str(output_dir), seed=seed, sample_every=100000, checkpointing_steps=100000
    ).replace(**{**overrides, **changes})


def outputs_of(generator: StyleGenerator, task: Task) -> list[torch.Tensor]:
    """The generator's outputs on the held-out photos, computed in float32 so scores are the same on any machine."""
    return [pil_to_tensor(stylize(generator, photo, precision="float32")) for photo in task.photos]


def run_finetune(args: argparse.Namespace, task: Task, output_dir: Path, seed: int, changes: dict) -> tuple[StyleGenerator, list]:
    """The fine-tune exactly as users run it; returns the model and its SWD/PSNR on the held-out photos along the way."""
    config = finetune_config(args, task, output_dir, seed, changes)
    checkpoints = set(np.linspace(0, config.steps_to_run, TRAJECTORY_STEPS + 1).round().astype(int)[1:])
    trajectory = []

    def on_step(run, step, losses):
        if step in checkpoints:
            with run.ema_generator() as generator:
                scores = task.score(outputs_of(generator, task))
            trajectory.append({"step": step, **scores})

    finetune.main(config, on_step=on_step)
    shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
    return StyleGenerator.from_pretrained(str(output_dir)), trajectory


Filter = Callable[[torch.Tensor], torch.Tensor]


def run_method(args: argparse.Namespace, task: Task, method: str, seed: int, workdir: Path) -> tuple[list[torch.Tensor], list, Filter | None]:
    """Outputs on the held-out photos (each (1, 3, H, W) in [0, 1]), for fine-tunes the trajectory of the scores along
    the steps, and the method as a filter on a photo (B, 3, H, W) in [0, 1] of any size, for the pictures (None for
    Gatys optimisation, too slow at picture size)."""
    photos = task.photo_tensors
    if method == "identity":
        return photos, [], lambda photo: photo
    if method == "reinhard":
        return [reinhard_transfer(photo, task.exemplars) for photo in photos], [], lambda photo: reinhard_transfer(photo, task.exemplars)
    if method == "gatys":
        _, discriminator = load_base(args.base or DEFAULT_BASE)
        outputs = [optimize_transfer(photo, task.exemplars, discriminator, RandomFilterBank(), steps=args.gatys_steps) for photo in photos]
        return outputs, [], None
    if method == "zeroshot":  # the exemplars' style as the encoder reads it, no training
        zero_shot = StyleGenerator.from_pretrained(args.zero_shot_model)
        generator = zero_shot.with_style(zero_shot.style_code_of(sorted(task.exemplar_dir.iterdir())))
        return outputs_of(generator, task), [], as_filter(generator)
    changes = ABLATIONS.get(method.removeprefix("ours:"), {})
    if method == "texture":  # what a user picks for a texture: the picture as the generator's texture input
        changes = TEXTURE_SETTINGS
    if method == "paired":  # the upper bound: the fine-tune told exactly what the style does, by the exemplars' own photos
        changes = {"original_images": [str(originals_dir(task.root, task.shots, args.eval_side))]}
    if method in ("scratch", "from-base"):
        changes = dict(from_scratch=True) if method == "scratch" else dict(base=args.pretrained_base)
    generator, trajectory = run_finetune(args, task, workdir, seed, changes)
    return outputs_of(generator, task), trajectory, as_filter(generator)


def as_filter(generator: StyleGenerator) -> Filter:
    return lambda photo: pil_to_tensor(stylize(generator, tensor_to_pil(photo), precision="float32"))


def save_picture(root: Path, task: Task, method: str, apply: Filter | None, side: int) -> None:
    """The method on the first held-out photo fitted into `side` pixels (and the ground truth, once), for the grids."""
    images = root / "images"
    images.mkdir(exist_ok=True)
    photo = fit_image(sample_photo(HELDOUT_PHOTOS[0]), side)
    stem = f"{task.kind}-{task.style}-{task.shots}"
    if task.kind == "teacher" and not (images / f"{stem}-target-{side}.png").exists():
        apply_artwork(task.style, photo).save(images / f"{stem}-target-{side}.png")
    if apply is not None:
        tensor_to_pil(apply(pil_to_tensor(photo))).save(images / f"{stem}-{method.replace(':', '-')}-{side}.png")


# --------------------------------------------------------------------------- the plan and its results


def plan(args: argparse.Namespace) -> list[tuple[str, str, int, str, int]]:
    """Every (kind, style, shots, method, seed) to run, cheapest first within a style."""
    cases = []
    for kind, styles, shot_counts in (("teacher", args.styles, args.shots), ("texture", args.textures, [1])):
        for style in styles:
            for shots in shot_counts:
                methods = [m for m in args.methods if m not in (TEXTURE_ONLY if kind == "teacher" else TEACHER_ONLY)]
                if shots not in args.full_methods_shots and kind == "teacher":
                    methods = [m for m in methods if m not in ("paired", "scratch")]
                if shots == max(shot_counts) and (kind == "teacher" or args.texture_ablations):
                    methods += [f"ours:{name}" for name in args.ablations]
                for method in methods:
                    for seed in range(1 if method in DETERMINISTIC else args.seeds):
                        cases.append((kind, style, shots, method, seed))
    return cases


def load_results(path: Path) -> dict[tuple, dict]:
    results = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                results[tuple(record[k] for k in ("kind", "style", "shots", "method", "seed"))] = record
    return results


def run_all(args: argparse.Namespace, root: Path) -> None:
    results_path = root / "results.jsonl"
    done = load_results(results_path)
    cases = [case for case in plan(args) if case not in done]
    print(f"{len(done)} runs already measured, {len(cases)} to go", flush=True)
    tasks: dict[tuple, Task] = {}
    for number, (kind, style, shots, method, seed) in enumerate(cases, 1):
        task = tasks.setdefault((kind, style, shots), Task(root, kind, style, shots, args.eval_side))
        workdir = root / "runs" / f"{kind}-{style}-{shots}-{method.replace(':', '-')}-{seed}"
        started = time.perf_counter()
        outputs, trajectory, apply = run_method(args, task, method, seed, workdir)
        record = {
            "kind": kind,
            "style": style,
            "shots": shots,
            "method": method,
            "seed": seed,
            "seconds": round(time.perf_counter() - started, 1),
            "metrics": task.score(outputs),
            "trajectory": trajectory,
        }
        if seed == 0:  # the first held-out photo, for the grid figures
            images = root / "images"
            images.mkdir(exist_ok=True)
            tensor_to_pil(outputs[0]).save(images / f"{kind}-{style}-{shots}-{method.replace(':', '-')}.png")
            save_picture(root, task, method, apply, args.picture_side)
        with results_path.open("a") as log:
            log.write(json.dumps(record) + "\n")
        metrics = record["metrics"]
        shown = ", ".join(f"{name} {metrics[name]:.3f}" for name in ("psnr", "ssim", "swd", "content_kept") if name in metrics)
        print(f"[{number}/{len(cases)}] {kind} {style} x{shots} {method} seed {seed}: {shown} ({record['seconds']} s)", flush=True)


def summarize(results: dict[tuple, dict]) -> dict[tuple, dict[str, tuple[float, float, float]]]:
    """(kind, style, shots, method) -> metric -> (median, min, max) over seeds."""
    grouped = defaultdict(lambda: defaultdict(list))
    for (kind, style, shots, method, _), record in results.items():
        for name, value in record["metrics"].items():
            grouped[(kind, style, shots, method)][name].append(value)
        grouped[(kind, style, shots, method)]["seconds"].append(record["seconds"])
    return {key: {name: (statistics.median(v), min(v), max(v)) for name, v in metrics.items()} for key, metrics in grouped.items()}


def main(args: argparse.Namespace) -> int:
    root = Path(args.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        run_all(args, root)
    results = load_results(root / "results.jsonl")
    if not results:
        print(f"no results in {root / 'results.jsonl'}; run without --report-only first", file=sys.stderr)
        return 1
    verdict = write_report(summarize(results), results, root, Path(args.docs), Path(args.readme), machine())
    print(verdict)
    return 0


def machine() -> str:
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"


if __name__ == "__main__":
    sys.exit(main(parse_args()))
