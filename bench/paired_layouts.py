"""Which generator layout can learn a teacher style from its before/after pairs? (issue 13, point 3)

Each layout is trained from random weights by L1 on the teacher's renderings of the six train photos (the benchmark's
pairs), or with `--corpus` of `--pairs` photos of a corpus built by `train/build_corpus.py` (does the gap come from
the layout or from six pictures?), at the scored 256 px (128-px crops at the pictures' own scale, random flips, batch
4, Adam, gradient clipping, an EMA of the weights) and scored with its EMA weights on the three held-out photos
against the teacher (PSNR, SSIM, style distance) every `--eval-every` steps. Beside the scores: seconds per training
step and the float32 channels-last latency of a 512x512 picture, with TransformerNet's in the same run for the ratio
(`bench/speed.py`).

    python bench/paired_layouts.py --styles cartoon oil --steps 2000            # about 25 min on 2 CPU cores
    python bench/paired_layouts.py --styles cartoon --steps 20000 --device cuda  # what a GPU session would run
    python bench/paired_layouts.py --corpus build/corpus --pairs 480 --layouts unet --steps 4000  # many pairs

Layouts: `unet` is our generator's (builtin:any's widths and depths, no style code) with its output added to the
photo (`residual_output`); `can` is a context aggregation network (Chen, Xu & Koltun 2017; `reference_models.py`).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import teacher_photos  # noqa: E402
from reference_models import ContextAggregationNet, TransformerNet  # noqa: E402
from speed import time_call  # noqa: E402

from stylegan_hub.artwork import ARTWORK_FILTERS, apply_artwork  # noqa: E402
from stylegan_hub.data import CORPUS_CATEGORIES, HELDOUT_PHOTOS, Corpus, sample_photo  # noqa: E402
from stylegan_hub.inference import pil_to_tensor  # noqa: E402
from stylegan_hub.metrics import evaluate_outputs  # noqa: E402
from stylegan_hub.metrics.report import fit_image  # noqa: E402
from stylegan_hub.models import StyleGenerator  # noqa: E402

LAYOUTS = ("unet", "can")
UNET_LAYOUT = dict(base_channels=16, num_downsamples=3, num_res_blocks=6, decoder_blocks=1, residual_output=True)
STRIDE = 2 ** UNET_LAYOUT["num_downsamples"]  # the U-Net takes sides that are multiples of this
PAIRS = 6  # the quality benchmark's pairs: its six exemplars and their photos (`bench/quality.py --shots 6`)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--styles", nargs="+", default=["cartoon"], choices=sorted(ARTWORK_FILTERS), help="teacher styles")
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--corpus", help="train on photos of this corpus (train/build_corpus.py) instead of the benchmark's six")
    parser.add_argument(
        "--pairs", type=int, default=PAIRS, help="photos taken from --corpus, spread evenly over its photos (default: %(default)s)"
    )
    parser.add_argument("--eval-every", type=int, default=500, help="score the EMA weights every N steps (and at the end)")
    parser.add_argument("--side", type=int, default=256, help="pictures are fitted into this many pixels (the benchmark's scored size)")
    parser.add_argument("--crop", type=int, default=128, help="training crop side")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--can-width", type=int, default=32)
    parser.add_argument("--can-dilations", type=int, nargs="+", default=[1, 1, 2, 4, 8, 16, 32, 64, 1], help="each smaller than --crop")
    parser.add_argument("--latency-side", type=int, default=512, help="side of the timed picture; 0 skips the timing")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("steps", "eval_every", "pairs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.crop < STRIDE or args.crop % STRIDE:
        parser.error(f"--crop {args.crop}: give a multiple of {STRIDE} (the U-Net's stride)")
    if args.crop > args.side:
        parser.error(f"--crop {args.crop} is larger than the pictures (--side {args.side})")
    if min(args.can_dilations) < 1 or args.can_width < 1:
        parser.error(f"--can-width {args.can_width}, --can-dilations {args.can_dilations}: each must be at least 1")
    if max(args.can_dilations) >= args.crop:
        parser.error(f"--can-dilations up to {max(args.can_dilations)}: reflection padding needs each under the crop side ({args.crop})")
    if args.pairs != PAIRS and not args.corpus:
        parser.error(f"--pairs {args.pairs}: the benchmark has {PAIRS} pairs; more come from a corpus (--corpus DIR)")
    return args


def build(layout: str, args: argparse.Namespace) -> torch.nn.Module:
    """A layout with random weights: a filter on (B, 3, H, W) in [-1, 1], H and W multiples of STRIDE."""
    if layout == "can":
        return ContextAggregationNet(args.can_width, tuple(args.can_dilations))
    return StyleGenerator(**UNET_LAYOUT)


def corpus_photos(root: str, count: int, side: int, crop: int) -> list:
    """`count` photos spread evenly over a corpus's photo category, fitted into `side` pixels; those whose shorter
    side would then be under `crop` are passed over (a panorama fitted into 256 px is too thin to crop)."""
    corpus = Corpus(root)
    indices = [i for i, category in enumerate(corpus.categories) if CORPUS_CATEGORIES[category] == "photo"]
    if count > len(indices):
        raise SystemExit(f"--pairs {count}: the corpus {root} has {len(indices)} photos")
    fitted = [fit_image(corpus[indices[i * len(indices) // count]], side) for i in range(count)]
    return [photo for photo in fitted if min(photo.size) >= crop]


def pairs(style: str, args: argparse.Namespace) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], list[torch.Tensor], list[torch.Tensor]]:
    """The train (photo, rendering) pairs in [-1, 1], and the held-out photos and their renderings in [0, 1]."""
    side = args.side
    train = corpus_photos(args.corpus, args.pairs, side, args.crop) if args.corpus else teacher_photos(PAIRS, side)
    train_pairs = [(pil_to_tensor(photo) * 2 - 1, pil_to_tensor(apply_artwork(style, photo)) * 2 - 1) for photo in train]
    heldout = [fit_image(sample_photo(name), side) for name in HELDOUT_PHOTOS]
    return train_pairs, [pil_to_tensor(photo) for photo in heldout], [pil_to_tensor(apply_artwork(style, photo)) for photo in heldout]


def crops(train_pairs: list, size: int, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch` random crops of random pairs at the same place, flipped together half the time: (B, 3, S, S) twice.
    Unlike the fine-tune's `PairedCrops`, which rescales crops of half to all of the shorter side, these keep the
    pictures' own scale, so a filter's radius in pixels is learned as it is scored."""
    photos, targets = [], []
    for _ in range(batch):
        photo, target = train_pairs[int(torch.randint(len(train_pairs), (), generator=generator))]
        top = int(torch.randint(photo.shape[-2] - size + 1, (), generator=generator))
        left = int(torch.randint(photo.shape[-1] - size + 1, (), generator=generator))
        photo, target = (x[..., top : top + size, left : left + size] for x in (photo, target))
        if torch.rand((), generator=generator) < 0.5:
            photo, target = photo.flip(-1), target.flip(-1)
        photos.append(photo)
        targets.append(target)
    return torch.cat(photos), torch.cat(targets)


def score(model: torch.nn.Module, photos: list[torch.Tensor], targets: list[torch.Tensor], device: torch.device) -> dict[str, float]:
    """PSNR, SSIM and style distance against the teacher of the outputs on the held-out photos, each padded by
    reflection to a multiple of STRIDE and cropped back."""
    outputs = []
    with torch.inference_mode():
        for photo in photos:
            height, width = photo.shape[-2:]
            padded = F.pad(photo.to(device) * 2 - 1, (0, -width % STRIDE, 0, -height % STRIDE), mode="reflect")
            outputs.append(((model(padded)[..., :height, :width].float().cpu() + 1) / 2).clamp(0, 1))
    scores = evaluate_outputs(outputs, photos=photos, style_images=targets, targets=targets)
    return {name: scores[name] for name in ("psnr", "ssim", "style_distance")}


def train(layout: str, style: str, args: argparse.Namespace) -> tuple[list[dict], float]:
    """Train one layout on one style's pairs; returns the scores at each scored step (also printed to stderr as they
    come) and the median seconds per step."""
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    model = build(layout, args).to(device)
    average = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate, betas=(0.9, 0.99))
    train_pairs, photos, targets = pairs(style, args)
    draw = torch.Generator().manual_seed(args.seed)
    seconds, scored = [], []
    for step in range(1, args.steps + 1):
        started = time.perf_counter()
        photo, target = (x.to(device) for x in crops(train_pairs, args.crop, 4, draw))
        loss = F.l1_loss(model(photo), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():  # EMA with a warm-up, so the early average is not the random start
            decay = min(0.995, (1 + step) / (10 + step))
            for kept, current in zip(average.parameters(), model.parameters()):
                kept.lerp_(current, 1 - decay)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
        if step % args.eval_every == 0 or step == args.steps:
            scored.append({"step": step, **score(average.eval(), photos, targets, device)})
            print(f"{layout} {style} step {step}: {scored[-1]['psnr']:.2f} dB", file=sys.stderr, flush=True)
    return scored, statistics.median(seconds)


def latency(model: torch.nn.Module, side: int, device: torch.device, repeats: int = 5) -> float:
    """Median seconds of one float32 channels-last pass on a side x side picture."""
    model = model.to(device).eval().to(memory_format=torch.channels_last)
    picture = torch.rand(1, 3, side, side, device=device).contiguous(memory_format=torch.channels_last) * 2 - 1
    with torch.inference_mode():
        model(picture)  # warm-up
        return statistics.median(time_call(model, picture, device) for _ in range(repeats))


def main(args: argparse.Namespace) -> list[dict]:
    """Prints a markdown table (a row per layout, style and scored step) and the latencies; returns the rows."""
    rows = []
    print("| layout | style | step | PSNR dB | SSIM | style distance | s per step |", "|---|---|---|---|---|---|---|", sep="\n", flush=True)
    for style in args.styles:
        for layout in args.layouts:
            scored, step_seconds = train(layout, style, args)
            for entry in scored:
                rows.append({"layout": layout, "style": style, "seconds_per_step": step_seconds, **entry})
                print(
                    f"| {layout} | {style} | {entry['step']} | {entry['psnr']:.2f} | {entry['ssim']:.3f} | "
                    f"{entry['style_distance']:.2f} | {step_seconds:.3f} |",
                    flush=True,
                )
    if args.latency_side:
        device, side = torch.device(args.device), args.latency_side
        reference = latency(TransformerNet(), side, device)
        print(f"\n{side}x{side} float32 channels-last, median of 5 ({args.device}, {torch.get_num_threads()} threads):")
        for layout in args.layouts:
            seconds = latency(build(layout, args), side, device)
            print(f"- {layout}: {seconds:.3f} s, {reference / seconds:.1f}x faster than TransformerNet ({reference:.3f} s)")
    return rows


if __name__ == "__main__":
    main(parse_args())
