"""The `stylegan-hub` command: stylize photos, fine-tune a style, inspect models, list styles."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import StyleGanHubError
from .names import PRECISIONS, ZERO_SHOT_MODEL  # the models and torch are imported by the commands that use them

PROG = "stylegan-hub"


def say(message: str) -> None:
    """Print an error or warning line on stderr through the progress bar's writer, so a running bar is redrawn below
    it instead of both being mixed on one line."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    say(f"{PROG}: warning: {message}")


def cmd_stylize(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .images import expand_image_paths, save_image
    from .inference import resolve_device
    from .sharding import Workers, run_batch
    from .video import is_video_path

    if args.output is None and args.output_dir is None:
        raise StyleGanHubError("say where results go: --output-dir DIR (one PNG per input) or -o FILE (one input)")
    inputs = expand_image_paths(args.inputs)
    if args.output is not None and len(inputs) != 1:
        raise StyleGanHubError(f"-o FILE takes exactly one input, got {len(inputs)}; use --output-dir for several")
    targets = [Path(args.output)] if args.output else [Path(args.output_dir) / output_name(path) for path in inputs]
    clashes = sorted({t.name for t in targets if targets.count(t) > 1})
    if clashes:
        raise StyleGanHubError(
            f"several inputs would be written to the same file ({', '.join(clashes)}); stylize them into separate folders"
        )
    workers = Workers()  # one process, or this one's share of those `accelerate launch` started
    generator = load_generator(args, resolve_device(args.device or workers.device))

    def stylize_one(path: Path, target: Path) -> None:
        if is_video_path(path):
            stylize_video_file(generator, path, target, args)
            return
        result = generator.stylize(
            path,
            strength=args.strength,
            preserve_color=args.preserve_color,
            max_side=args.max_side,
            tile=args.tile,
            precision=args.precision,
            work_side=args.work_side,
        )
        save_image(result, target)

    bar = lambda jobs: tqdm(jobs, desc="stylize", unit="image", disable=len(jobs) < 2)  # noqa: E731
    summary = run_batch(
        list(zip(inputs, targets)),
        stylize_one,
        shard=workers.shard,
        skip_existing=args.skip_existing,
        on_error=lambda error: say(f"{PROG}: error: {error}"),
        errors=(StyleGanHubError,),
        progress=bar,
    )
    written, skipped, failures, _ = workers.totals(summary)
    if workers.shard.count > 1:
        print(summary.line(), file=sys.stderr, flush=True)
    if workers.is_main and (len(inputs) > 1 or failures or skipped):
        skipped_note = f" ({skipped} already there, skipped)" if skipped else ""
        rate = f" ({summary.rate:.2f} images/s)" if workers.shard.count == 1 and written else ""
        print(f"{written} of {len(inputs)} file(s) written to {args.output or args.output_dir}{skipped_note}{rate}", file=sys.stderr)
    workers.close()
    return 1 if failures else 0


def load_generator(args: argparse.Namespace, device=None):
    """--model (default builtin:any with --style-image), drawing the style of --style-image's pictures when given."""
    from .images import expand_image_paths
    from .models import StyleGenerator

    if args.model is None and not args.style_image:
        raise StyleGanHubError("say which style: --model NAME, or --style-image PICTURE for any style from a picture")
    model = args.model or ZERO_SHOT_MODEL
    if model == ZERO_SHOT_MODEL and not args.style_image:  # its saved code is a random training style, not a choice
        raise StyleGanHubError(f"{ZERO_SHOT_MODEL} draws the style of a picture: add --style-image PICTURE")
    generator = StyleGenerator.from_pretrained(model, revision=args.revision, map_location=device)
    if args.style_image:
        if not hasattr(generator, "encoder"):
            raise StyleGanHubError(f"{model}: takes no style picture; use --model {ZERO_SHOT_MODEL} with --style-image")
        generator = generator.with_style(generator.style_code_of(expand_image_paths(args.style_image)))
    return generator


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=None, help="built-in style (see `stylegan-hub styles`), model folder or Hub repo id (with --style-image: builtin:any)"
    )
    parser.add_argument(
        "--style-image",
        nargs="+",
        default=None,
        metavar="PICTURE",
        help="draw the style of this picture (or of several pictures of one style) with a zero-shot model",
    )
    parser.add_argument("--revision", default=None, help="branch, tag or commit of a Hub model (default: main)")


def output_name(path: Path) -> str:
    """DIR/<stem>.png for an image, DIR/<stem>.mp4 for a clip (its own suffix when it can be written)."""
    from .video import is_video_path
    from .video.io import OUTPUT_FORMATS

    if not is_video_path(path):
        return f"{path.stem}.png"
    return path.stem + (path.suffix.lower() if path.suffix.lower() in OUTPUT_FORMATS else ".mp4")


def stylize_video_file(generator, path: Path, target: Path, args: argparse.Namespace) -> None:
    """One clip, with a frame progress bar; one line when done."""
    from tqdm.auto import tqdm

    from .video import stylize_video

    with tqdm(desc=path.name, unit="frame", leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = stylize_video(
            generator,
            path,
            target,
            strength=args.strength,
            preserve_color=args.preserve_color,
            max_side=args.max_side,
            stabilize=not args.no_stabilize,
            overwrite=args.overwrite,
            tile=args.tile,
            precision=args.precision,
            work_side=args.work_side,
            progress=progress,
        )
    print(f"{target}: {report.frames} frames in {report.seconds:.1f} s ({report.fps:.2f} frames/s)", file=sys.stderr)


def cmd_finetune(args: argparse.Namespace) -> int:
    from .training.config import FinetuneConfig, config_from_namespace
    from .training.finetune import main

    output_dir = main(config_from_namespace(FinetuneConfig, args))
    print(f"style saved to {output_dir}; try: {PROG} stylize --model {output_dir} --output-dir stylized photo.jpg")
    return 0


def cmd_mix(args: argparse.Namespace) -> int:
    from .files import staged_dir
    from .mixing import mix_styles, parse_mix

    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise StyleGanHubError(f"{output}: exists; choose another folder or pass --overwrite")
    mixed = mix_styles(parse_mix(args.styles))
    with staged_dir(output) as staging:
        mixed.save_pretrained(staging)
    print(f"mixed style written to {output}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_onnx

    generator = load_generator(args)
    report = export_onnx(generator, args.output, int8=args.int8)
    kind = "int8 (static, calibrated on the bundled photos)" if report.int8 else "float32"
    print(f"wrote {report.path} ({kind}, {report.size_bytes / 1e6:.2f} MB)")
    print(
        f"checked with ONNX Runtime on the held-out photos: max |ONNX - PyTorch| = {report.max_abs_difference:.2e}, "
        f"PSNR {report.psnr:.1f} dB"
    )
    print(
        f"input 'photo': float32 (batch, 3, height, width) in [0, 1], sides of at least {2 * generator.size_multiple} pixels; "
        "output 'stylized': the same shape"
    )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .models import StyleGenerator, resolve_model_dir
    from .models.hub import DISCRIMINATOR_SUBFOLDER
    from .training.card import TRAINING_RECORD

    directory = resolve_model_dir(args.model, revision=args.revision)
    generator = StyleGenerator.from_directory(directory)
    print(f"model:          {args.model}" + (f" @ {args.revision}" if args.revision else ""))
    print(f"directory:      {directory}")
    print(f"config:         {json.dumps(generator._hub_mixin_config, sort_keys=True)}")
    print(f"parameters:     {generator.num_parameters():,}")
    print(f"GFLOP 512x512:  {generator.gflops(512, 512):.1f}")
    print(f"discriminator:  {'yes (can be fine-tuned further)' if (directory / DISCRIMINATOR_SUBFOLDER).is_dir() else 'no'}")
    record_path = directory / TRAINING_RECORD
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        print(
            f"trained:        {record.get('task')} for {record.get('steps')} steps in {record.get('train_seconds')} s"
            + (f" from {record['base']}" if record.get("base") else "")
        )
        print(f"command:        {record.get('command')}")
    else:
        print("trained:        no training record")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from .training.hub import push_model_dir

    result = push_model_dir(
        args.model_dir,
        args.repo_id,
        private=args.private or None,
        revision=args.revision,
        create_pr=args.create_pr,
        commit_message=args.commit_message,
    )
    print(f"pushed {args.model_dir} to {result.url}")
    print(f"commit: {result.commit_url}")
    revision = f" --revision {result.revision}" if result.revision != "main" and not result.pull_request_url else ""
    print(f"use it: {PROG} stylize --model {args.repo_id}{revision} --output-dir stylized photo.jpg")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from .models.hub import DISCRIMINATOR_SUBFOLDER, download_model
    from .training.hub import check_model_dir

    directory = download_model(args.repo_id, revision=args.revision, local_dir=args.output_dir)
    generator = check_model_dir(directory)
    can_finetune = (directory / DISCRIMINATOR_SUBFOLDER).is_dir()
    print(f"pulled {args.repo_id}" + (f" @ {args.revision}" if args.revision else "") + f" into {directory}")
    print(f"generator: {generator.num_parameters():,} parameters; discriminator: {'yes' if can_finetune else 'no'}")
    model = args.output_dir or args.repo_id + (f" --revision {args.revision}" if args.revision else "")
    print(f"use it (also offline): {PROG} stylize --model {model} --output-dir stylized photo.jpg")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .artwork import ARTWORK_FILTERS
    from .data import ImageFolder
    from .metrics.inception import SKIPPED_MESSAGE
    from .metrics.report import evaluate_model, format_table
    from .models import StyleGenerator

    if args.teacher is not None and args.teacher not in ARTWORK_FILTERS:
        raise ValueError(f"--teacher {args.teacher}: not a filter; choose one of {', '.join(ARTWORK_FILTERS)}")
    if args.output and not Path(args.output).parent.is_dir():  # found before the evaluation, not after
        raise ValueError(f"--output {args.output}: the folder {Path(args.output).parent} does not exist")
    generator = StyleGenerator.from_pretrained(args.model, revision=args.revision)
    photos, style_images = ImageFolder(args.photos), ImageFolder(args.style_images)
    results = evaluate_model(
        generator, list(photos), list(style_images), teacher=args.teacher, max_side=args.max_side, inception_weights=args.inception_weights
    )
    print(
        f"{args.model} on {len(photos)} photo(s), {len(style_images)} style image(s)"
        + (f", teacher {args.teacher}" if args.teacher else "")
    )
    print(format_table(results))
    if "fid" not in results["model"]:
        print(SKIPPED_MESSAGE)
    if args.output:
        record = {"model": args.model, "photos": len(photos), "style_images": len(style_images), "teacher": args.teacher}
        Path(args.output).write_text(json.dumps({**record, "max_side": args.max_side, "results": results}, indent=2) + "\n")
    return 0


def cmd_eval_video(args: argparse.Namespace) -> int:
    from .metrics.temporal import evaluate_clips

    results, meter = evaluate_clips(args.input, args.outputs, max_frames=args.max_frames)
    pairs = next(iter(results.values()))["pairs"]
    cut_note = f"; {meter.cuts} pair(s) across a hard cut left out" if meter.cuts else ""
    print(f"{args.input}: {pairs + meter.cuts + 1} frames, {pairs} pairs measured{cut_note}")
    width = max(len(name) for name in results)
    print(f"{'':{width}}  warping error (x1e-3)  frame difference")
    for name, values in results.items():
        print(f"{name:{width}}  {values['warping_error'] * 1e3:21.3f}  {values['frame_difference']:16.4f}")
    if args.output:
        Path(args.output).write_text(json.dumps({"input": str(args.input), "results": results, "cuts": meter.cuts}, indent=2) + "\n")
    return 0


def cached_styles() -> list[str]:
    """Hub repos in the local cache whose files are a stylegan-hub generator."""
    from huggingface_hub import constants, scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        cache = scan_cache_dir(constants.HF_HUB_CACHE)
    except CacheNotFound:
        return []
    found = set()
    for repo in cache.repos:
        if repo.repo_type != "model":
            continue
        for revision in repo.revisions:
            config = revision.snapshot_path / "config.json"
            try:
                if json.loads(config.read_text()).get("_class_name") == "StyleGenerator":
                    found.add(repo.repo_id)
            except (OSError, ValueError, AttributeError):
                continue
    return sorted(found)


def cmd_styles(args: argparse.Namespace) -> int:
    from .names import builtin_styles

    for name in [*builtin_styles(), *cached_styles()]:
        print(name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .training.config import FinetuneConfig, add_config_arguments

    parser = argparse.ArgumentParser(
        prog=PROG, description="GAN style transfer: apply built-in or Hub styles, or learn your own from a few images."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stylize = commands.add_parser(
        "stylize",
        help="stylize images or videos with a style model",
        description="Stylize images and videos. Under `accelerate launch ... -m stylegan_hub.cli stylize` the inputs "
        "are shared out across the processes.",
    )
    stylize.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, image folders or globs")
    add_model_arguments(stylize)
    where = stylize.add_mutually_exclusive_group()
    where.add_argument("--output-dir", help="write DIR/<input-stem>.png for each input")
    where.add_argument("-o", "--output", help="output file for a single input (format from the suffix)")
    stylize.add_argument("--strength", type=float, default=1.0, help="0 = the photo, 1 = full style (default: %(default)s)")
    stylize.add_argument("--preserve-color", action="store_true", help="keep the photo's colours, take the style's texture and tone")
    stylize.add_argument("--max-side", type=int, default=None, help="downscale inputs whose longer side exceeds this")
    stylize.add_argument("--tile", type=int, default=None, help="tile size in pixels for large images (default: automatic; 0: never)")
    stylize.add_argument(
        "--work-side",
        type=int,
        default=None,
        help="run the model on a copy fitted into this many pixels and upsample the result guided by the full-size "
        "input (much faster for large images and video; the style's texture is drawn at that size)",
    )
    stylize.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto: bfloat16 where the CPU or GPU computes it natively, float32 elsewhere (default: %(default)s)",
    )
    stylize.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps... (default: the best available)")
    stylize.add_argument("--overwrite", action="store_true", help="replace output videos that exist (they are refused otherwise)")
    stylize.add_argument("--no-stabilize", action="store_true", help="videos: stylize each frame on its own (flickers; faster)")
    stylize.add_argument("--skip-existing", action="store_true", help="skip inputs whose output exists (re-running a batch)")
    stylize.set_defaults(run=cmd_stylize)

    finetune = commands.add_parser("finetune", help="learn a style from a few images", description="Learn a personal style from a few images.")
    add_config_arguments(finetune, FinetuneConfig)
    finetune.set_defaults(run=cmd_finetune)

    mix = commands.add_parser(
        "mix",
        help="blend styles that carry a style code into one model",
        description="Blend styles of one family (builtin:any and the styles fine-tuned from it) into one model folder.",
    )
    mix.add_argument("styles", nargs="+", metavar="NAME=WEIGHT", help="two or more styles with their weights, e.g. my-oil=0.7 my-ink=0.3")
    mix.add_argument("-o", "--output", required=True, help="the model folder to write")
    mix.add_argument("--overwrite", action="store_true", help="replace the folder if it exists")
    mix.set_defaults(run=cmd_mix)

    info = commands.add_parser("info", help="show a model's config, size and how it was trained")
    info.add_argument("model", metavar="MODEL", help="built-in name, model folder or Hub repo id")
    info.add_argument("--revision", default=None, help="branch, tag or commit of a Hub model (default: main)")
    info.set_defaults(run=cmd_info)

    token_note = "The token comes from `hf auth login` or HF_TOKEN."
    push = commands.add_parser("push", help="publish a model folder to the Hugging Face Hub", description=token_note)
    push.add_argument("model_dir", metavar="MODEL_DIR", help="a folder written by training or save_pretrained")
    push.add_argument("repo_id", metavar="REPO_ID", help="e.g. your-name/my-style")
    push.add_argument("--private", action="store_true", help="create the repo as private (an existing repo keeps its visibility)")
    push.add_argument("--revision", default=None, help="push to this branch, created from main when missing")
    push.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing to main")
    push.add_argument("--commit-message", default=None)
    push.set_defaults(run=cmd_push)

    pull = commands.add_parser("pull", help="download a style from the Hub, for offline use or further fine-tuning", description=token_note)
    pull.add_argument("repo_id", metavar="REPO_ID")
    pull.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    pull.add_argument("--output-dir", default=None, help="copy the files here (default: only the Hub cache, which works offline)")
    pull.set_defaults(run=cmd_pull)

    evaluate = commands.add_parser("eval", help="score a style model: PSNR/SSIM vs a teacher, SWD/colour vs exemplars, content kept")
    evaluate.add_argument("--model", required=True, help="built-in name, model folder or Hub repo id")
    evaluate.add_argument("--revision", default=None, help="branch, tag or commit of a Hub model")
    evaluate.add_argument("--photos", required=True, nargs="+", help="photos to stylize (folders, files or globs)")
    evaluate.add_argument("--style-images", required=True, nargs="+", help="the style's exemplars")
    evaluate.add_argument("--teacher", default=None, help="filter whose output is the ground truth (oil, sketch, cartoon, grade)")
    evaluate.add_argument("--max-side", type=int, default=256, help="fit images into this many pixels first (default: %(default)s)")
    evaluate.add_argument(
        "--inception-weights", default=None, help="local inception-2015-12-05.pt (TorchScript) for FID/KID; skipped without it"
    )
    evaluate.add_argument("--output", default=None, help="also write the results as JSON here")
    evaluate.set_defaults(run=cmd_eval)

    eval_video = commands.add_parser(
        "eval-video",
        help="temporal stability of stylized clips: warping error (Lai et al. 2018) and frame difference, beside the input's",
    )
    eval_video.add_argument("outputs", nargs="+", metavar="OUTPUT", help="stylized clips of INPUT (same length; any size)")
    eval_video.add_argument("--input", required=True, help="the clip they were made from (its optical flow is used)")
    eval_video.add_argument("--max-frames", type=int, default=None, help="measure only the first N frames")
    eval_video.add_argument("--output", default=None, help="also write the results as JSON here")
    eval_video.set_defaults(run=cmd_eval_video)

    export = commands.add_parser("export", help="export a style model to ONNX (optionally int8) for runtimes without PyTorch")
    add_model_arguments(export)
    export.add_argument("--format", choices=["onnx"], default="onnx", help="(default: %(default)s)")
    export.add_argument("--int8", action="store_true", help="quantise to int8, calibrated on the bundled photos (about 3x smaller)")
    export.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    export.set_defaults(run=cmd_export)

    styles = commands.add_parser("styles", help="list styles: built-in first, then those in the local Hub cache")
    styles.set_defaults(run=cmd_styles)
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            return args.run(args)
    except (StyleGanHubError, FloatingPointError) as error:
        say(f"{PROG}: error: {error}")
        return 1
    except ValueError as error:  # invalid option values found by the library (strength, tile, resume...)
        say(f"{PROG}: error: {error}")
        return 2
    except OSError as error:  # the file system refused (permissions, a full disk): one line, not a traceback
        say(f"{PROG}: error: {error.filename + ': ' if error.filename else ''}{error.strerror or error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
