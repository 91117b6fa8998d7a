"""The video benchmark: speed, temporal stability and memory of stylizing clips.

    python bench/video.py                       # all sections; writes docs/video.md tables to stdout and the strip image
    python bench/video.py --sections stability  # one section (speed, stability, palette, memory, strip)
    python bench/video.py --device cuda --sections speed --sizes 1080p 4k   # on a GPU

- speed: frames per second of `stylize_video` (decode, stylize, stabilise, encode) on a generated pan clip at 720p
  and 1080p, stabilised and per-frame, stabilised with each `--work-sides` (the generator on a smaller copy, the
  output at full size by guided upsampling), and at 1080p with a 720-px longer side (`max_side=720`: a 720x405
  output); plus the median per-frame time of the generator alone and of the optical flow alone. Torch uses
  `--threads` (default 2) threads.
- stability: Lai et al.'s warping error of the input clip, the per-frame output and the stabilised output (each
  also with `--stability-work-side`) on each test clip (pan, zoom, moving object, hard cut; `stylegan_hub/video/clips.py`, encoded to H.264 first like real
  footage), and the style distance (`stylegan_hub.metrics.style_distance` to the oil teacher's renderings of the
  same frames) of stabilised over per-frame output: 1.0 = the style is as strong.
- palette: a palette model (`--palette-model` snapping to `--palette-colors` colours) on the same clips, its
  palette chosen per frame against one per shot (what `stylize_video` does), with and without stabilisation;
  and docs/images/video-palette.jpg: the moving-object clip's frames and the change from the previous frame.
- memory: peak RSS of `stylize_video` on 1080p clips of several lengths, each in a fresh process.
- strip: docs/images/video-strip.jpg, frames of the moving-object clip: input, per-frame, stabilised.

Figures are medians or single passes on a shared machine; compare within one run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
SIZES = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}


def speed(model: str, sizes: list[str], frames: int, rounds: int, device: str, work_sides: list[int]) -> list[dict]:
    """Each variant runs `rounds` times, the variants taking turns, so load on a shared machine hits them alike;
    frames per second are the median (min-max) over rounds, each round a whole `stylize_video` call."""
    from stylegan_hub import StyleGenerator, stylize_video
    from stylegan_hub.video import read_frames
    from stylegan_hub.video.clips import make_clip
    from stylegan_hub.video.flow import MotionTracker
    from stylegan_hub.video.stylize import FrameStylizer

    generator = StyleGenerator.from_pretrained(model, map_location=device)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in sizes:
            clip = make_clip("pan", Path(scratch) / f"{name}.mp4", size=SIZES[name], frames=frames)
            variants = [("stabilised", True, None, None), ("per-frame", False, None, None)]
            variants += [(f"stabilised, work side {side}", True, None, side) for side in work_sides if side < max(SIZES[name])]
            if name in ("1080p", "4k"):
                variants.append(("stabilised, max_side 720", True, 720, None))
            measured: dict[str, list[float]] = {label: [] for label, *_ in variants}
            for _, stabilize, max_side, work_side in variants:  # warm-up
                options = dict(overwrite=True, stabilize=stabilize, max_side=max_side, work_side=work_side)
                stylize_video(generator, clip, Path(scratch) / "warm.mp4", max_seconds=2 / 24, **options)
            for _ in range(rounds):
                for label, stabilize, max_side, work_side in variants:
                    options = dict(overwrite=True, stabilize=stabilize, max_side=max_side, work_side=work_side)
                    report = stylize_video(generator, clip, Path(scratch) / "out.mp4", **options)
                    measured[label].append(report.fps)
                    print(f"speed {name} {label}: {report.fps:.2f} frames/s", flush=True)
            for label, values in measured.items():
                rows.append({"size": name, "variant": label, "fps": statistics.median(values), "min": min(values), "max": max(values)})
            # Where the time goes: the generator and the flow alone, per frame (median).
            sample = list(read_frames(clip))[:6]
            plain, tracker = FrameStylizer(generator, stabilize=False), MotionTracker()
            generator_times, flow_times = [], []
            for frame in sample:
                start = time.perf_counter()
                plain.stylize(frame)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                generator_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                tracker.update(frame)
                flow_times.append(time.perf_counter() - start)
            rows.append({"size": name, "variant": "parts", "generator_s": statistics.median(generator_times[1:]), "flow_s": statistics.median(flow_times[1:])})
            print(f"speed {name}: generator {rows[-1]['generator_s']:.3f} s/frame, flow {rows[-1]['flow_s']:.3f} s/frame", flush=True)
    return rows


def stability(model: str, frames: int, size: tuple[int, int], work_side: int) -> list[dict]:
    """Warping error and frame difference of the input, the per-frame and the stabilised output, each also with the
    generator at `work_side` (stabilised at that size, then guided-upsampled)."""
    from stylegan_hub import StyleGenerator
    from stylegan_hub.artwork import ARTWORK_FILTERS
    from stylegan_hub.metrics import style_distance
    from stylegan_hub.metrics.temporal import TemporalMeter
    from stylegan_hub.video import read_frames
    from stylegan_hub.video.clips import CLIP_KINDS, make_clip
    from stylegan_hub.video.stabilize import Stabilizer
    from stylegan_hub.video.stylize import FrameStylizer

    generator = StyleGenerator.from_pretrained(model)
    plain = FrameStylizer(generator, stabilize=False)
    plain_small = FrameStylizer(generator, stabilize=False, work_side=work_side)
    teacher = ARTWORK_FILTERS[model.split(":")[-1]] if model.split(":")[-1] in ARTWORK_FILTERS else None
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind in CLIP_KINDS:
            clip = make_clip(kind, Path(scratch) / f"{kind}.mp4", size=size, frames=frames)
            meter, stabilizer = TemporalMeter(), Stabilizer()
            steady_small = FrameStylizer(generator, work_side=work_side)
            small = f"work side {work_side}"
            outputs = ("per-frame", "stabilised", f"per-frame, {small}", f"stabilised, {small}")
            kept = {"photo": [], "teacher": [], **{name: [] for name in outputs}}
            for index, frame in enumerate(read_frames(clip)):
                styled = plain.stylize(frame)
                versions = dict(zip(outputs, (styled, stabilizer(frame, styled.copy()), plain_small.stylize(frame), steady_small(frame) / 255)))
                meter.update(frame, {"input": frame, **versions})
                if index % 8 == 4:
                    tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(2, 0, 1)[None]  # noqa: E731
                    kept["photo"].append(tensor(frame / 255))
                    for name, version in versions.items():
                        kept[name].append(tensor(version))
                    if teacher is not None:
                        kept["teacher"].append(tensor(teacher(frame / 255)))
            results = meter.results()
            row = {"clip": kind, "cuts": meter.cuts, "pairs": results["input"]["pairs"]}
            for name in ("input", *outputs):
                row[f"warping {name}"] = results[name]["warping_error"] * 1e3
                row[f"difference {name}"] = results[name]["frame_difference"]
            if teacher is not None:
                distances = {name: style_distance(kept[name], kept["photo"], kept["teacher"]) for name in outputs}
                row.update({f"style {name}": distance for name, distance in distances.items()})
                row["style ratio"] = distances["stabilised"] / distances["per-frame"]
                row[f"style ratio, {small}"] = distances[f"stabilised, {small}"] / distances[f"per-frame, {small}"]
            rows.append(row)
            print("stability", json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    return rows


def palette(model: str, colors: int, frames: int, size: tuple[int, int], picture: Path) -> list[dict]:
    """Warping error of a palette model's output with a palette per frame (`FrameStylizer.stylize`) and per shot
    (`FrameStylizer`), each without and with the stabiliser."""
    from PIL import Image

    from stylegan_hub import StyleGenerator
    from stylegan_hub.metrics.temporal import TemporalMeter
    from stylegan_hub.video import read_frames
    from stylegan_hub.video.clips import CLIP_KINDS, make_clip
    from stylegan_hub.video.stabilize import Stabilizer
    from stylegan_hub.video.stylize import FrameStylizer

    generator = StyleGenerator.from_pretrained(model).with_palette_colors(colors)
    outputs = ("palette per frame", "palette per shot", "palette per frame, stabilised", "palette per shot, stabilised")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind in CLIP_KINDS:
            clip = make_clip(kind, Path(scratch) / f"{kind}.mp4", size=size, frames=frames)
            meter, stabilizer = TemporalMeter(), Stabilizer()
            per_shot, per_shot_steady = FrameStylizer(generator, stabilize=False), FrameStylizer(generator)
            shown: list[list[np.ndarray]] = [[], [], [], [], []]
            previous = None
            for index, frame in enumerate(read_frames(clip)):
                own = per_shot.stylize(frame)
                shot = per_shot(frame) / 255
                versions = dict(zip(outputs, (own, shot, stabilizer(frame, own.copy()), per_shot_steady(frame) / 255)))
                meter.update(frame, versions)
                if kind == "object" and index % 16 == 5:  # the still background shows the flicker: change from frame t-1
                    change = [np.abs(version - before).max(-1, keepdims=True).repeat(3, -1) * 4 for version, before in zip((own, shot), previous)]
                    for row, image in zip(shown, (frame / 255, own, shot, *change)):
                        row.append((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))
                previous = (own, shot)
            results = meter.results()
            row = {"clip": kind, "cuts": meter.cuts, **{name: results[name]["warping_error"] * 1e3 for name in outputs}}
            rows.append(row)
            print("palette", json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
            if shown[0]:
                Image.fromarray(np.concatenate([np.concatenate(row, 1) for row in shown], 0)).save(picture, quality=85)
                print(f"palette strip: {picture}", flush=True)
    return rows


MEMORY_CHILD = """
import resource, sys, tempfile, torch
from pathlib import Path
torch.set_num_threads(int(sys.argv[3]))
from stylegan_hub import StyleGenerator, stylize_video
generator = StyleGenerator.from_pretrained(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
with tempfile.TemporaryDirectory() as scratch:
    report = stylize_video(generator, sys.argv[2], Path(scratch) / "out.mp4", tile=int(sys.argv[4]) if sys.argv[4] != "auto" else None)
    print(report.frames, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, before)
"""


def memory(model: str, lengths: list[int], threads: int, tiles: list[str]) -> list[dict]:
    """Peak RSS of a fresh process stylizing a 1080p clip made beforehand (`before`: its peak once the model is loaded)."""
    from stylegan_hub.video.clips import make_clip

    rows = []
    scratch = tempfile.TemporaryDirectory()
    clips = {length: make_clip("pan", Path(scratch.name) / f"{length}.mp4", size=(1920, 1080), frames=length) for length in lengths}
    for tile in tiles:
        for length in lengths if tile == "auto" else lengths[:1]:
            done = subprocess.run(
                [sys.executable, "-c", MEMORY_CHILD, model, str(clips[length]), str(threads), tile], capture_output=True, text=True, cwd=REPO, check=True
            )
            frames, peak, before = done.stdout.split()
            rows.append({"frames": int(frames), "tile": tile, "peak_rss_gb": float(peak), "before_gb": float(before)})
            print(f"memory 1080p {frames} frames, tile {tile}: peak RSS {float(peak):.2f} GB (model loaded: {float(before):.2f} GB)", flush=True)
    scratch.cleanup()
    return rows


def strip(model: str, output: Path) -> None:
    from PIL import Image

    from stylegan_hub import StyleGenerator
    from stylegan_hub.video.clips import clip_frames
    from stylegan_hub.video.stabilize import Stabilizer
    from stylegan_hub.video.stylize import FrameStylizer

    plain = FrameStylizer(StyleGenerator.from_pretrained(model), stabilize=False)
    stabilizer = Stabilizer()
    rows = [[], [], []]
    for index, frame in enumerate(clip_frames("object", size=(320, 180), frames=25)):
        styled = plain.stylize(frame)
        steady = stabilizer(frame, styled.copy())
        if index % 6 == 0:
            for row, image in zip(rows, (frame / 255, styled, steady)):
                row.append((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))
    picture = np.concatenate([np.concatenate(row, 1) for row in rows], 0)
    output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(output, quality=90)
    print(f"strip: {output}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="builtin:oil")
    parser.add_argument("--sections", nargs="+", default=["speed", "stability", "palette", "memory", "strip"])
    parser.add_argument("--sizes", nargs="+", default=["720p", "1080p"], choices=list(SIZES))
    parser.add_argument("--speed-frames", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work-sides", type=int, nargs="*", default=[640, 480], help="work sides timed in the speed section")
    parser.add_argument("--stability-frames", type=int, default=48)
    parser.add_argument("--stability-work-side", type=int, default=240, help="work side also measured for stability")
    parser.add_argument("--palette-model", default="builtin:cartoon")
    parser.add_argument("--palette-colors", type=int, default=12)
    parser.add_argument("--memory-frames", type=int, nargs="+", default=[12, 48])
    parser.add_argument("--memory-tiles", nargs="+", default=["auto", "512"], help="tile sizes to measure (auto: as users run it)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="also write every figure here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"threads": args.threads, "device": args.device, "model": args.model}
    if "speed" in args.sections:
        results["speed"] = speed(args.model, args.sizes, args.speed_frames, args.rounds, args.device, args.work_sides)
    if "stability" in args.sections:
        results["stability"] = stability(args.model, args.stability_frames, (480, 270), args.stability_work_side)
    if "palette" in args.sections:
        picture = REPO / "docs" / "images" / "video-palette.jpg"
        results["palette"] = palette(args.palette_model, args.palette_colors, args.stability_frames, (480, 270), picture)
    if "memory" in args.sections:
        results["memory"] = memory(args.model, args.memory_frames, args.threads, args.memory_tiles)
    if "strip" in args.sections:
        strip(args.model, REPO / "docs" / "images" / "video-strip.jpg")
    results["peak_rss_gb_this_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
