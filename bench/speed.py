"""The speed benchmark: stylegan-hub's generator against three reference architectures, in one process, interleaved.

    python bench/speed.py                          # 256, 512, 1024 and 4K; writes docs/speed.md and the README table
    python bench/speed.py --sizes 256 512 --no-4k  # a quicker pass
    python bench/speed.py --device cuda            # adds batch-32 bf16 throughput on a GPU

Latency is the median (and min-max) of `--repeats` timed calls after a warm-up, all variants taking turns in every
round so that load on a shared machine hits them alike; compare ratios within one run, not absolute times across
runs. At 4K each variant runs in a fresh process of its own (the references need several GB each), which also
measures its peak RSS. Our generator runs as users run it (`stylize_tensor`: channels-last, bfloat16 where the hardware has it,
tiles above ~2.4 megapixels); the references (bench/reference_models.py, random weights) run as published, in
float32, plus TransformerNet with the same bfloat16/channels-last treatment for a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from stylegan_hub import StyleGenerator
from stylegan_hub.inference import inference_generator, native_bfloat16, stylize_tensor
from stylegan_hub.names import ZERO_SHOT_MODEL
from stylegan_hub.training.config import FinetuneConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_models import REFERENCES  # noqa: E402
from report_quality import replace_readme_section  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FOUR_K = (2160, 3840)  # height, width
README_START, README_END = "<!-- speed-benchmark:start -->", "<!-- speed-benchmark:end -->"
BASELINE = "TransformerNet fp32"
SHIPPED = "ours as shipped (stylize, auto)"
WORK_SIDE = 1024  # the guided-upsampling row: the generator runs on the image fitted into this many pixels
FAST = f"ours, work side {WORK_SIDE} (guided upsampling)"
PLAIN = "ours fp32, untiled (no optimisation)"
SEAM_LIMIT = 1.0  # 8-bit levels: a larger tiled-vs-untiled difference could show as a seam


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="builtin:oil", help="our generator to time (default: %(default)s)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512, 1024], help="square sides (default: %(default)s)")
    parser.add_argument("--no-4k", action="store_true", help="skip the 3840x2160 latency and peak-RSS measurements")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per variant and size (default: %(default)s)")
    parser.add_argument("--repeats-4k", type=int, default=3, help="timed calls at 4K; references run once (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    parser.add_argument("--work-side-photo", default=None, help="photo for the work-side check at 4K (default: a bundled one)")
    parser.add_argument("--throughput-batch", type=int, default=32, help="batch for the GPU throughput figure (default: %(default)s)")
    parser.add_argument("--finetune-steps", type=int, default=12, help="fine-tune steps timed for the per-step figure (at least 3)")
    parser.add_argument("--output", default=str(REPO / "docs" / "speed.md"), help="Markdown report ('' to only print)")
    parser.add_argument("--readme", default=str(REPO / "README.md"), help="README whose speed section is rewritten ('' to skip)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.repeats_4k < 1:
        parser.error("--repeats and --repeats-4k must be at least 1")
    if args.finetune_steps < 3:
        parser.error("--finetune-steps must be at least 3: the first step is warm-up and a median needs two more")
    return args


# --------------------------------------------------------------------------- variants


@dataclass
class Variant:
    """One way of running one network: `run(photo in [0, 1]) -> output`, and the network (for its size)."""

    name: str
    run: Callable[[torch.Tensor], torch.Tensor]
    network: torch.nn.Module
    reference: bool
    latencies: dict[str, list[float]] = field(default_factory=dict)
    peak_rss_4k: float | None = None  # bytes
    error_4k: str | None = None  # why a 4K run failed

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.network.parameters())


def count_gflops(model: torch.nn.Module, side: int = 512) -> float:
    """GFLOP of the layers as defined, the figure model cards and papers give: ours count their upsampling blocks'
    convolutions at full size, though `upsample_conv` runs them with 16/36 of those multiply-adds."""
    from torch.utils.flop_counter import FlopCounterMode

    if isinstance(model, StyleGenerator):
        return model.gflops(side, side)
    parameter = next(model.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, side, side, device=parameter.device, dtype=parameter.dtype))
    return counter.get_total_flops() / 1e9


def reference_variant(name: str, device: torch.device, bfloat16: bool) -> Variant:
    torch.manual_seed(0)
    model = REFERENCES[name]().eval()
    dtype = torch.bfloat16 if bfloat16 else torch.float32
    fast = model.to(device, dtype, memory_format=torch.channels_last) if bfloat16 else model.to(device)

    @torch.inference_mode()
    def run(photo: torch.Tensor) -> torch.Tensor:
        x = photo.to(device, dtype) * 2 - 1
        return fast(x.contiguous(memory_format=torch.channels_last) if bfloat16 else x)

    return Variant(f"{name} {'bf16 channels-last' if bfloat16 else 'fp32'}", run, fast, reference=True)


def our_variants(model: str, device: torch.device) -> list[Variant]:
    """Our generator in float32 without tiling or channels-last, with channels-last alone, and as shipped
    (channels-last, bfloat16 where native, tiles above ~2.4 megapixels, a fresh inference copy per call)."""
    generator = StyleGenerator.from_pretrained(model, map_location=device).eval()

    @torch.inference_mode()
    def plain(photo: torch.Tensor) -> torch.Tensor:
        return generator.forward_image(photo.to(device))

    channels_last = inference_generator(generator, "float32")

    @torch.inference_mode()
    def fp32_channels_last(photo: torch.Tensor) -> torch.Tensor:
        return channels_last.forward_image(photo.to(device).contiguous(memory_format=torch.channels_last))

    return [
        Variant(PLAIN, plain, generator, reference=False),
        Variant("ours fp32 channels-last, untiled", fp32_channels_last, generator, reference=False),
        Variant(SHIPPED, lambda photo: stylize_tensor(generator, photo.to(device)), generator, reference=False),
        Variant(FAST, lambda photo: stylize_tensor(generator, photo.to(device), work_side=WORK_SIDE), generator, reference=False),
    ]


def pytorch_variants(model: str, device: torch.device, only: str | None = None) -> list[Variant]:
    """The references in float32 (and TransformerNet run as ours is, where bfloat16 is native), then ours; with
    `only`, just that variant (so a fresh process measuring its memory holds nothing else)."""
    specs = [(name, False) for name in REFERENCES]
    if native_bfloat16(device):
        specs.insert(1, ("TransformerNet", True))
    variants = [
        reference_variant(name, device, bfloat16)
        for name, bfloat16 in specs
        if only is None or only == f"{name} {'bf16 channels-last' if bfloat16 else 'fp32'}"
    ]
    if only is None or only.startswith("ours"):
        variants += [v for v in our_variants(model, device) if only is None or v.name == only]
    if only is not None and not variants:
        raise ValueError(f"no variant named {only!r}")
    return variants


def onnx_variants(model: str, workdir: Path) -> list[Variant]:
    """Our generator exported to ONNX, in float32 and int8, run by ONNX Runtime on the CPU."""
    import onnxruntime

    from stylegan_hub.export import export_onnx

    generator = StyleGenerator.from_pretrained(model).eval()
    variants = []
    for int8 in (False, True):
        report = export_onnx(generator, workdir / f"model{'-int8' if int8 else ''}.onnx", int8=int8)
        session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])

        def run(photo: torch.Tensor, session=session) -> torch.Tensor:
            return torch.from_numpy(session.run(None, {"photo": photo.numpy()})[0])

        name = f"ours ONNX Runtime {'int8' if int8 else 'fp32'} ({report.psnr:.0f} dB from PyTorch)"
        variants.append(Variant(name, run, generator, reference=False))
    return variants


# --------------------------------------------------------------------------- measurements


def size_label(height: int, width: int) -> str:
    return "4K" if (height, width) == FOUR_K else f"{width}x{height}"


def time_call(run: Callable[[torch.Tensor], torch.Tensor], photo: torch.Tensor, device: torch.device) -> float:
    started = time.perf_counter()
    run(photo)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def measure_latencies(variants: list[Variant], shape: tuple[int, int], repeats: int, device: torch.device) -> None:
    """Every variant at one shape: one warm-up each, then `repeats` rounds in which the variants take turns."""
    label = size_label(*shape)
    photo = torch.rand(1, 3, *shape, generator=torch.Generator().manual_seed(0))
    for variant in variants:
        time_call(variant.run, photo, device)  # warm-up: allocator, oneDNN kernels, ONNX Runtime graph
    for _ in range(repeats):
        for variant in variants:
            variant.latencies.setdefault(label, []).append(time_call(variant.run, photo, device))
    print(f"  {label}: " + ", ".join(f"{v.name} {statistics.median(v.latencies[label]):.3f} s" for v in variants), flush=True)


def _peak_resident_bytes() -> int:
    """This process's own peak RSS: VmHWM of /proc/self/status. (getrusage's ru_maxrss survives exec, so a spawned
    child would report at least its parent's RSS at fork time.)"""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024  # kB


def _mapped_bytes() -> int:
    """The process's current virtual size (Linux /proc/self/statm)."""
    return int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _fresh_process_worker(name: str, model: str, shape: tuple[int, int], runs: int, budget: int, queue) -> None:
    """In a fresh process: time variant `name` on one image of `shape` (ours after a warm-up; a reference once, as a
    4K reference pass takes minutes) and report the latencies and the process's peak RSS. The address space may grow
    by `budget` bytes only, so a variant too big for the machine fails here instead of waking the OOM killer."""
    device = torch.device("cpu")
    (variant,) = pytorch_variants(model, device, only=name)
    photo = torch.rand(1, 3, *shape, generator=torch.Generator().manual_seed(0))
    limit = _mapped_bytes() + budget
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        if not variant.reference:
            time_call(variant.run, photo, device)
        latencies = [time_call(variant.run, photo, device) for _ in range(1 if variant.reference else runs)]
    except (RuntimeError, MemoryError) as error:
        if not isinstance(error, MemoryError) and "alloc" not in str(error).lower():
            raise
        queue.put({"error": f"did not fit in {budget / 1e9:.1f} GB"})
        return
    queue.put({"latencies": latencies, "peak_rss": _peak_resident_bytes()})


def in_fresh_process(name: str, model: str, shape: tuple[int, int] = FOUR_K, runs: int = 1, budget: int | None = None) -> dict:
    """{"latencies", "peak_rss"} of variant `name` run in a process of its own, or {"error"} saying why not. The
    process may map `budget` bytes beyond what it holds after start-up (default: 80% of physical memory)."""
    budget = budget or int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_fresh_process_worker, args=(name, model, shape, runs, budget, queue))
    process.start()
    process.join()
    if process.exitcode != 0:
        return {"error": f"the process failed (exit code {process.exitcode}; its traceback is above)"}
    return queue.get(timeout=5)


def seam_check(model: str) -> float:
    """Largest |tiled - untiled| (8-bit levels) of our shipped path on a 1024x768 photo cut into 512 px tiles."""
    from stylegan_hub.data import sample_photo
    from stylegan_hub.inference import pil_to_tensor

    generator = StyleGenerator.from_pretrained(model).eval()
    photo = pil_to_tensor(sample_photo("astronaut").resize((1024, 768)))
    whole, tiled = stylize_tensor(generator, photo, tile=0), stylize_tensor(generator, photo, tile=512)
    return float((whole - tiled).abs().max()) * 255


def work_side_check(model: str, photo_path: str | None) -> tuple[float, float, str]:
    """How close `work_side` comes to the full-size output on a 4K photo: PSNR of guided upsampling and, for
    comparison, of plain bicubic upsampling of the same small result (both against the full-size output)."""
    import torch.nn.functional as F

    from stylegan_hub.data import sample_photo
    from stylegan_hub.images import load_image
    from stylegan_hub.inference import fit_tensor, pil_to_tensor
    from stylegan_hub.metrics import psnr

    picture = load_image(photo_path) if photo_path else sample_photo("astronaut")
    name = Path(photo_path).name if photo_path else "the bundled astronaut, upscaled"
    photo = pil_to_tensor(picture.resize(FOUR_K[::-1]))
    generator = StyleGenerator.from_pretrained(model).eval()
    full, fast = stylize_tensor(generator, photo), stylize_tensor(generator, photo, work_side=WORK_SIDE)
    small = stylize_tensor(generator, fit_tensor(photo, WORK_SIDE))
    plain = F.interpolate(small, size=FOUR_K, mode="bicubic", align_corners=False).clamp(0, 1)
    return float(psnr(fast, full)), float(psnr(plain, full)), name


def finetune_seconds_per_step(steps: int) -> float:
    """Median wall time of one default fine-tune step (128 px, batch 4, the default base), from the fine-tune itself."""
    from stylegan_hub.artwork import apply_artwork
    from stylegan_hub.data import sample_photo
    from stylegan_hub.training import finetune

    stamps = []
    with tempfile.TemporaryDirectory() as workdir:
        exemplar = Path(workdir) / "exemplars"
        exemplar.mkdir()
        apply_artwork("grade", sample_photo("astronaut")).save(exemplar / "astronaut.png")
        config = FinetuneConfig(style_images=[str(exemplar)], output_dir=f"{workdir}/out", steps=steps)
        finetune.main(config, on_step=lambda run, step, losses: stamps.append(time.perf_counter()))
    return statistics.median(b - a for a, b in zip(stamps[1:], stamps[2:]))  # the first step includes warm-up


def style_code_seconds(model: str, repeats: int) -> float:
    """Median seconds for a zero-shot model to read a style code from a 1024x768 style picture (decoded)."""
    generator = StyleGenerator.from_pretrained(model).eval()
    picture = torch.rand(1, 3, 768, 1024)
    with torch.inference_mode():
        generator.encode_style(picture)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            generator.encode_style(picture)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(variants: list[Variant], batch: int, device: torch.device) -> dict[str, float]:
    """Images per second at 512x512 in batches of `batch` (the GPU figure)."""
    photos = torch.rand(batch, 3, 512, 512, device=device)
    rates = {}
    for variant in variants:
        time_call(variant.run, photos, device)
        seconds = statistics.median(time_call(variant.run, photos, device) for _ in range(3))
        rates[variant.name] = batch / seconds
    return rates


# --------------------------------------------------------------------------- report


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}, bfloat16 native: {native_bfloat16(device)}"


def latency_table(variants: list[Variant], labels: list[str]) -> list[str]:
    baseline = next((v for v in variants if v.name == BASELINE), None)
    head = "| variant | params (M) | GFLOP @512 | " + " | ".join(f"{label} median (min-max) s" for label in labels)
    head += " | × faster than TransformerNet fp32 @512 | peak RSS 4K (GB) |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for variant in variants:
        cells = []
        for label in labels:
            times = variant.latencies.get(label)
            cells.append(f"{statistics.median(times):.3f} ({min(times):.3f}-{max(times):.3f})" if times else "–")
        ratio = "–"
        if baseline and "512x512" in variant.latencies and "512x512" in baseline.latencies:
            ratio = f"{statistics.median(baseline.latencies['512x512']) / statistics.median(variant.latencies['512x512']):.1f}"
        memory = "–" if variant.peak_rss_4k is None else f"{variant.peak_rss_4k / 1e9:.2f}"
        if variant.error_4k:
            memory = variant.error_4k
        lines.append(
            f"| {variant.name} | {variant.parameters / 1e6:.2f} | {count_gflops(variant.network):.1f} | "
            + " | ".join(cells)
            + f" | {ratio} | {memory} |"
        )
    return lines


def main(args: argparse.Namespace) -> int:
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"machine: {machine(device)}", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        variants = pytorch_variants(args.model, device)
        if device.type == "cpu":
            variants += onnx_variants(args.model, Path(workdir))
        shapes = [(side, side) for side in args.sizes]
        print("latency (s, median of rounds):", flush=True)
        for shape in shapes:
            measure_latencies(variants, shape, args.repeats, device)
        if not args.no_4k and device.type == "cpu":
            # One process per variant: references at 4K need several GB each, and each peak RSS is then its own.
            for variant in variants:
                if variant.name.startswith("ours ONNX"):
                    continue
                result = in_fresh_process(variant.name, args.model, FOUR_K, args.repeats_4k)
                if "error" in result:
                    variant.error_4k = result["error"]
                else:
                    variant.latencies["4K"], variant.peak_rss_4k = result["latencies"], result["peak_rss"]
                shown = result.get("error") or f"{statistics.median(result['latencies']):.2f} s, peak RSS {result['peak_rss'] / 1e9:.2f} GB"
                print(f"  4K: {variant.name}: {shown}", flush=True)
        rates = {}
        if device.type == "cuda":
            compared = [v for v in variants if v.name in (BASELINE, "TransformerNet bf16 channels-last", SHIPPED)]
            rates = throughput(compared, args.throughput_batch, device)
    seams = seam_check(args.model)
    guided, plain, photo_name = work_side_check(args.model, args.work_side_photo)
    step = finetune_seconds_per_step(args.finetune_steps)
    code_seconds = style_code_seconds(ZERO_SHOT_MODEL, args.repeats)
    default_steps = FinetuneConfig(style_images=["-"], output_dir="-").steps_to_run  # from style images alone

    labels = [size_label(*shape) for shape in shapes] + ([] if args.no_4k else ["4K"])
    lines = [
        "# Speed",
        "",
        f"Generated by `python bench/speed.py` on {machine(device)}. Batch 1. Up to 1024x1024, latency is the median "
        f"(min-max) of {args.repeats} rounds in one process in which all variants take turns. At 4K (3840x2160) each "
        f"variant runs in a fresh process of its own ({args.repeats_4k} timed runs after a warm-up for ours, one run for "
        "the references), which also gives that variant's peak RSS; the references need several GB there. References "
        "are re-built from their papers with random weights (`bench/reference_models.py`).",
        "",
        *latency_table(variants, labels),
        "",
        f"- Tiled vs untiled on a 1024x768 photo (512 px tiles): largest difference {seams:.2f} 8-bit levels "
        + ("(seamless)." if seams < SEAM_LIMIT else f"(above {SEAM_LIMIT}: seams may show)."),
        f"- Work side {WORK_SIDE} at 4K ({photo_name}): {guided:.2f} dB PSNR against the full-size output; a plain bicubic "
        f"upsampling of the same small result: {plain:.2f} dB.",
        f"- Default fine-tune step (128 px crops, batch 4): {step:.3f} s median, so the default {default_steps} steps take "
        f"about {step * default_steps / 60:.1f} min plus start-up.",
    ]
    lines.append(f"- Style code of {ZERO_SHOT_MODEL} from a 1024x768 style picture (computed once per picture): {code_seconds:.3f} s median.")
    if rates:
        lines += ["", "| variant | images/s at 512x512, batch " + str(args.throughput_batch) + " |", "|---|---|"]
        lines += [f"| {name} | {rate:.1f} |" for name, rate in rates.items()]
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    if args.output:
        notes = Path(args.output).with_name("speed-notes.md")  # hand-written findings, kept across re-renders
        Path(args.output).write_text(report + ("\n" + notes.read_text() if notes.exists() else ""))
    if args.readme:
        replace_readme_section(Path(args.readme), README_START, README_END, latency_table(variants, labels))
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
