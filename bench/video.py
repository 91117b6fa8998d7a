"""The video benchmark: speed, temporal stability and memory of stylizing clips.

    python bench/video.py                       # all sections; writes docs/video.md tables to stdout and the strip image
    python bench/video.py --sections stability  # one section (speed, stability, memory, strip)
    python bench/video.py --device cuda --sections speed --sizes 1080p 4k   # on a GPU

- speed: frames per second of `stylize_video` (decode, stylize, stabilise, encode) on a generated pan clip at 720p
  and 1080p, stabilised and per-frame, and at 1080p with a 720-px working size (`max_side=720`); plus the median
  per-frame time of the generator alone and of the optical flow alone. Torch uses `--threads` (default 2) threads.
- stability: Lai et al.'s warping error of the input clip, the per-frame output and the stabilised output on each
  test clip (pan, zoom, moving object, hard cut; `stylegan_hub/video/clips.py`, encoded to H.264 first like real
  footage), and the style distance (`stylegan_hub.metrics.style_distance` to the oil teacher's renderings of the
  same frames) of stabilised over per-frame output: 1.0 = the style is as strong.
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


def speed(model: str, sizes: list[str], frames: int, device: str) -> list[dict]:
    from stylegan_hub import StyleGenerator, stylize_video
    from stylegan_hub.video.clips import make_clip
    from stylegan_hub.video.flow import MotionTracker
    from stylegan_hub.video.stylize import FrameStylizer

    generator = StyleGenerator.from_pretrained(model, map_location=device)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in sizes:
            clip = make_clip("pan", Path(scratch) / f"{name}.mp4", size=SIZES[name], frames=frames)
            variants = [("stabilised", True, None), ("per-frame", False, None)]
            if name in ("1080p", "4k"):
                variants.append(("stabilised, max_side 720", True, 720))
            for label, stabilize, max_side in variants:
                stylize_video(generator, clip, Path(scratch) / "warm.mp4", overwrite=True, max_seconds=2 / 24, stabilize=stabilize, max_side=max_side)
                report = stylize_video(generator, clip, Path(scratch) / "out.mp4", overwrite=True, stabilize=stabilize, max_side=max_side)
                rows.append({"size": name, "variant": label, "frames": report.frames, "fps": report.fps})
                print(f"speed {name} {label}: {report.fps:.2f} frames/s ({report.frames} frames in {report.seconds:.1f} s)", flush=True)
            # Where the time goes: the generator and the flow alone, per frame (median).
            from stylegan_hub.video import read_frames

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
            rows.append(
                {"size": name, "variant": "generator alone (s/frame)", "median": statistics.median(generator_times[1:])}
                | {"flow_median": statistics.median(flow_times[1:])}
            )
            print(f"speed {name}: generator {statistics.median(generator_times[1:]):.3f} s/frame, flow {statistics.median(flow_times[1:]):.3f} s/frame", flush=True)
    return rows


def stability(model: str, frames: int, size: tuple[int, int]) -> list[dict]:
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
    teacher = ARTWORK_FILTERS[model.split(":")[-1]] if model.split(":")[-1] in ARTWORK_FILTERS else None
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind in CLIP_KINDS:
            clip = make_clip(kind, Path(scratch) / f"{kind}.mp4", size=size, frames=frames)
            meter, stabilizer = TemporalMeter(), Stabilizer()
            kept = {"photo": [], "per-frame": [], "stabilised": [], "teacher": []}
            for index, frame in enumerate(read_frames(clip)):
                styled = plain.stylize(frame)
                steady = stabilizer(frame, styled.copy())
                meter.update(frame, {"input": frame, "per-frame": styled, "stabilised": steady})
                if index % 8 == 4:
                    tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(2, 0, 1)[None]  # noqa: E731
                    kept["photo"].append(tensor(frame / 255))
                    kept["per-frame"].append(tensor(styled))
                    kept["stabilised"].append(tensor(steady))
                    if teacher is not None:
                        kept["teacher"].append(tensor(teacher(frame / 255)))
            results = meter.results()
            row = {"clip": kind, "cuts": meter.cuts, "pairs": results["input"]["pairs"]}
            for name in ("input", "per-frame", "stabilised"):
                row[f"warping {name}"] = results[name]["warping_error"] * 1e3
                row[f"difference {name}"] = results[name]["frame_difference"]
            if teacher is not None:
                distances = {name: style_distance(kept[name], kept["photo"], kept["teacher"]) for name in ("per-frame", "stabilised")}
                row["style per-frame"], row["style stabilised"] = distances["per-frame"], distances["stabilised"]
                row["style ratio"] = distances["stabilised"] / distances["per-frame"]
            rows.append(row)
            print("stability", json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    return rows


MEMORY_CHILD = """
import resource, sys, tempfile, torch
from pathlib import Path
torch.set_num_threads(int(sys.argv[3]))
from stylegan_hub import StyleGenerator, stylize_video
from stylegan_hub.video.clips import make_clip
with tempfile.TemporaryDirectory() as scratch:
    clip = make_clip("pan", Path(scratch) / "clip.mp4", size=(1920, 1080), frames=int(sys.argv[2]))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = stylize_video(StyleGenerator.from_pretrained(sys.argv[1]), clip, Path(scratch) / "out.mp4")
    print(report.frames, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6)
"""


def memory(model: str, lengths: list[int], threads: int) -> list[dict]:
    rows = []
    for length in lengths:
        done = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, model, str(length), str(threads)], capture_output=True, text=True, cwd=REPO, check=True
        )
        frames, peak = done.stdout.split()
        rows.append({"frames": int(frames), "peak_rss_gb": float(peak)})
        print(f"memory 1080p {frames} frames: peak RSS {float(peak):.2f} GB", flush=True)
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
    parser.add_argument("--sections", nargs="+", default=["speed", "stability", "memory", "strip"])
    parser.add_argument("--sizes", nargs="+", default=["720p", "1080p"], choices=list(SIZES))
    parser.add_argument("--speed-frames", type=int, default=24)
    parser.add_argument("--stability-frames", type=int, default=48)
    parser.add_argument("--memory-frames", type=int, nargs="+", default=[12, 48])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="also write every figure here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"threads": args.threads, "device": args.device, "model": args.model}
    if "speed" in args.sections:
        results["speed"] = speed(args.model, args.sizes, args.speed_frames, args.device)
    if "stability" in args.sections:
        results["stability"] = stability(args.model, args.stability_frames, (480, 270))
    if "memory" in args.sections:
        results["memory"] = memory(args.model, args.memory_frames, args.threads)
    if "strip" in args.sections:
        strip(args.model, REPO / "docs" / "images" / "video-strip.jpg")
    results["peak_rss_gb_this_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
