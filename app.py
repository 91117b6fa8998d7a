"""stylegan-hub in the browser: stylize a photo with a built-in, shared or personal style, or fine-tune your own style.

    python app.py                          # http://127.0.0.1:7860 (GRADIO_SERVER_PORT / GRADIO_SERVER_NAME change it)
    STYLEGAN_HUB_MODELS=org/style-a,org/style-b python app.py   # also list these styles

The hosted Space runs this file as is. It is UI only: stylizing, fine-tuning and publishing are the library's
functions (`stylegan_hub.inference.stylize`, `training.job.FinetuneJob`, `training.hub.push_model_dir`).
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import html  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

from stylegan_hub.catalog import listed_styles, load_style, style_thumbnail  # noqa: E402
from stylegan_hub.data import ImageFolder, before_after_pairs  # noqa: E402
from stylegan_hub.errors import ImageTooLargeError, StyleGanHubError  # noqa: E402
from stylegan_hub.images import load_image, save_image  # noqa: E402
from stylegan_hub.inference import stylize  # noqa: E402
from stylegan_hub.mixing import mix_styles  # noqa: E402
from stylegan_hub.models import builtin_names  # noqa: E402
from stylegan_hub.models.hub import is_namespaced_repo_id  # noqa: E402
from stylegan_hub.names import ZERO_SHOT_MODEL  # noqa: E402
from stylegan_hub.training.config import DEFAULT_BASE, FINETUNE_STEPS, PAIRED_STEPS, TEXTURE_SETTINGS, FinetuneConfig  # noqa: E402
from stylegan_hub.training.hub import push_model_dir  # noqa: E402
from stylegan_hub.training.job import FinetuneJob, measure_seconds_per_step  # noqa: E402

HERE = Path(__file__).resolve().parent
EXAMPLES = sorted(str(p) for p in (HERE / "examples").glob("*.jpg"))
DATA_DIR = Path(os.environ.get("STYLEGAN_HUB_DATA_DIR", Path(tempfile.gettempdir()) / "stylegan-hub-app"))
MAX_PHOTO_PIXELS = 24_000_000  # a 6000x4000 photo; larger uploads are refused with a message
MAX_PREVIEW_PIXELS = 100_000_000  # a preview is made at 512 px, so it takes larger photos
PREVIEW_SIDE = 512
MAX_STYLE_IMAGES = 20
TRAIN_RESOLUTION, TRAIN_BATCH = 128, 4
FLAT_COLORS = 12  # the palette of "Flat colours": the cartoon teacher's count (docs/benchmark-notes.md)
PRESETS = {"Quick": 100, "Balanced": FINETUNE_STEPS, "Long": 400}  # from builtin:any, 200 scored as well as 400 (docs/zeroshot.md)
PAIRED_STEP_SHARE = 1 / 3  # a paired step's time against an unpaired one's (600 paired steps 68–79 s, 200 unpaired ~80 s)
TEXTURE_STEP_SHARE = 1.2  # a texture fine-tune's time (its input, the random bank's style term) against the default's: 1.03–1.27 in two runs
GOOD_SET = (
    "**A good set:** 3–10 images that share one look (palette, strokes, texture), at least 256 px, without large "
    "borders or text. Variety of subjects helps; mixing different looks averages them."
)
# Measured on the quality benchmark's teacher styles (docs/benchmark-notes.md): with one exemplar, zero-shot scores 23.3 dB
# and style distance 0.67, a fine-tune on it 22.1 and 0.79 (with one picture it has no style term and stays near that start).
ONE_PICTURE = (
    "**With a single picture**, dropping it as the style picture in the Stylize tab usually comes a little closer to "
    "its style: one picture teaches a fine-tune little beyond that, since its statistics are as much its subject as its style. "
)
# Measured on the quality benchmark's teacher styles, 6 pairs, 600 steps (docs/benchmark-notes.md): 25.18 dB against
# 23.38 for a fine-tune on the styled pictures alone; the colours and a vignette above all.
PAIRS = (
    "If your style images are edits of your own photos (a colour grade, a filter, a painting over a photo), add those "
    "photos here under the same file names: the fine-tune then learns what your edit does to each photo, and "
    "reproduces it more exactly than from the styled pictures alone (its colours above all). A step with pairs takes "
    f"about a third of the time, so the steps go up to {PAIRED_STEPS}: a change tied to the place in the frame (a "
    "vignette) is learned late."
)
YOURS = " (yours)"
# Gradio 6 takes CSS at launch(). Gallery captions wrap instead of being cut ("builtin:cart…").
CSS = (
    "#styles .caption-label { white-space: normal; overflow-wrap: anywhere; max-width: 100%; text-overflow: clip; }"
    " #styles .fixed-height { min-height: 0; }"  # as tall as its rows, not 450 px of empty space under one row
)


def slug(text: str | None, fallback: str) -> str:
    """A safe file name made of `text`'s letters, digits, '-' and '_'."""
    return re.sub(r"[^\w-]+", "-", (text or "").strip()).strip("-") or fallback


def visitor_dir(request: gr.Request, create: bool = True) -> Path:
    """Each visitor's uploads, results and styles live in their own folder, removed when they leave."""
    directory = DATA_DIR / "visitors" / slug(request.session_hash, "anonymous")
    if create:
        if directory in _gone:  # a request still queued when its visitor left must not recreate their folder
            raise gr.Error("This visit has ended; reload the page to start again.")
        directory.mkdir(parents=True, exist_ok=True)
    return directory


def forget_visitor(request: gr.Request) -> None:
    """A visitor left (tab closed): stop their fine-tune and delete their folder once it has stopped, so that nothing
    the job still writes (its last checkpoint, the style so far) recreates the folder."""
    forget_folder(visitor_dir(request, create=False))
    _latest_estimate.pop(request.session_hash, None)


def forget_styles(own: dict) -> None:
    """A visitor's session state expired (also API clients, which never close a tab): forget their folder too."""
    for path in (own or {}).values():
        forget_folder(Path(path).parent.parent)  # <visitor>/styles/<name>


_gone: set[Path] = set()  # visitors who left: their requests still in the queue are refused


def forget_folder(directory: Path) -> None:
    if directory.parent != DATA_DIR / "visitors":
        return
    _gone.add(directory)
    job = _running.pop(directory, None)
    if job is None:
        shutil.rmtree(directory, ignore_errors=True)
        return
    job.cancel()

    def remove_when_stopped() -> None:
        job.wait()
        shutil.rmtree(directory, ignore_errors=True)

    threading.Thread(target=remove_when_stopped, name=f"forget-{directory.name}", daemon=True).start()


def user_error(error: Exception, *uploads: str | None) -> gr.Error:
    """The library's one-line message for a visitor: their files by their own names, never the server's paths."""
    message = str(error)
    for upload in filter(None, uploads):
        message = message.replace(str(upload), Path(upload).name)
    return gr.Error(message, duration=None)


def megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.0f}" if pixels >= 10_000_000 else f"{pixels / 1e6:.1f}"


def cancellable(trigger, cancel: gr.Button, fn, inputs, outputs, **options):
    """`trigger(fn, ...)` with `cancel` active only while `fn` runs: enabled first, then `fn`, then disabled whether it
    finished, was cancelled or failed (one chain, so a refused start cannot leave it enabled). Returns `fn`'s event."""
    running = trigger(lambda: gr.Button(interactive=True), None, cancel, api_name=False, queue=False).then(fn, inputs, outputs, **options)
    running.then(lambda: gr.Button(interactive=False), None, cancel, api_name=False, queue=False)
    running.failure(lambda: gr.Button(interactive=False), None, cancel, api_name=False, queue=False)  # .then skips errors
    return running


def photo_as_uploaded(payload, default_preprocess):
    """The uploaded file's path, as it is. Gradio's own preprocessing opens it with PIL first (a non-image then fails
    with a raw error and a server path) and converts it to RGB (dropping transparency); the library reads any mode and
    explains what is wrong in one line. Pasted and webcam images (data URLs) still go through Gradio's."""
    if payload is None:
        return None
    if payload.path is None or (payload.url or "").startswith("data:"):
        return default_preprocess(payload)
    return str(payload.path)


# ---- Stylize tab ----------------------------------------------------------------------------------------------


def gallery_items(own: dict[str, str]) -> list[tuple[Image.Image, str]]:
    """Thumbnails: every listed style, then the visitor's own, each on the same example photo."""
    photo = load_image(EXAMPLES[0])
    items = []
    for name in listed_styles():
        try:
            items.append((style_thumbnail(name, photo), name))
        except StyleGanHubError:
            continue  # a listed Hub style that cannot be fetched right now is left out, not fatal
    items += [(style_thumbnail(path, photo), label) for label, path in own.items()]
    return items


def choose_style(event: gr.SelectData) -> str:
    return event.value["caption"]


def style_source(style: str, own: dict) -> tuple[str, bool]:
    """What to load for a Style box entry, and whether anonymously: a listed style, the visitor's own, or a public Hub
    id; never a server path a visitor typed, nor a repo only the server's token can see."""
    if style in own:
        return own[style], False
    if style in listed_styles():
        return style, False
    if is_namespaced_repo_id(style):
        return style, True
    raise gr.Error(f"{style}: not a style here; pick one from the gallery or type a Hub id such as org/style-name.")


def style_from_picture(picture_path: str):
    """The zero-shot model drawing the style of the visitor's picture (its code is cached by the model)."""
    try:
        picture = load_image(picture_path, max_pixels=MAX_PREVIEW_PIXELS)  # read at 256 px: a preview's cap will do
    except ImageTooLargeError as error:
        raise StyleGanHubError(
            f"{Path(picture_path).name}: {megapixels(error.pixels)} megapixels is more than the "
            f"{megapixels(error.max_pixels)} this app takes for a style picture; choose a smaller one"
        ) from None
    generator = load_style(ZERO_SHOT_MODEL)
    return generator.for_style(generator.style_code_of(picture))


def stylize_photo(
    photo_path: str | None,
    style: str,
    strength: float,
    preserve_color: bool,
    size: str,
    style_picture: str | None = None,  # defaults: API clients written before these inputs may leave them out
    mix_picture: str | None = None,
    mix: float = 0.5,
    own: dict | None = None,
    request: gr.Request | None = None,
):
    """Stylize the uploaded photo in the chosen style, or in the style of `style_picture` when one is given, blended
    with the style of `mix_picture` by `mix` (0: none of it, 1: all of it) when that is given; returns (before,
    after) for the slider and the PNG to download."""
    if not photo_path:
        raise gr.Error("Upload a photo first (or click one of the examples).")
    style = (style or "").strip()
    if not style and not style_picture:
        raise gr.Error("Pick a style from the gallery, type a Hub id such as org/style-name, or drop a style picture.")
    preview = size.startswith("Preview")
    try:
        photo = load_image(photo_path, max_pixels=MAX_PREVIEW_PIXELS if preview else MAX_PHOTO_PIXELS)
        if style_picture:
            generator = style_from_picture(style_picture)
            style = f"like-{Path(style_picture).stem}"
        else:
            source, anonymous = style_source(style, own or {})
            generator = load_style(source, anonymous=anonymous)
        if mix_picture:
            if not generator.style_dim:
                raise gr.Error(
                    f"{style} cannot be mixed with a picture's style; drop a first style picture too, or pick a style "
                    f"fine-tuned from {ZERO_SHOT_MODEL}.",
                    duration=None,
                )
            generator = mix_styles({generator: 1 - mix, style_from_picture(mix_picture): mix})
            style = f"{style}-mixed-{Path(mix_picture).stem}"
        result = stylize(
            generator,
            photo,
            strength=strength,
            preserve_color=preserve_color,
            max_side=PREVIEW_SIDE if preview else None,
        )
    except ImageTooLargeError as error:
        advice = "choose a smaller photo" if preview else "choose Preview or a smaller photo"
        raise gr.Error(
            f"{Path(photo_path).name}: {megapixels(error.pixels)} megapixels is more than the {megapixels(error.max_pixels)} this "
            f"app takes {'for a preview' if preview else 'at full size'}; {advice}.",
            duration=None,
        ) from None
    except (StyleGanHubError, ValueError) as error:
        raise user_error(error, photo_path, style_picture, mix_picture) from None
    kind = "preview" if preview else "full"  # two downloads of one photo must not share a name
    folder = visitor_dir(request) / "results" / slug(style, "style")
    download = save_image(result, folder / f"{slug(Path(photo_path).stem, 'photo')}-{kind}.png")
    # The slider gets files, not PIL images: Gradio writes a PIL output to a path named by its content without a
    # temporary file, so two visitors with the same result could be served a half-written copy (seen with 32 at once).
    shown_as_is = photo.size == result.size and Path(photo_path).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")  # not TIFF
    before = photo_path if shown_as_is else save_image(photo.resize(result.size), folder / "before.png")
    return (str(before), str(download)), str(download)


# ---- Fine-tune tab --------------------------------------------------------------------------------------------

CALIBRATION_WAIT = 120  # seconds an estimate waits for the measurement before saying it failed
_calibration: dict[str, float | str] = {}  # "seconds" per step once measured; "error" of the last failed try
_calibration_lock = threading.Lock()
_calibration_thread: threading.Thread | None = None


def calibrate() -> None:
    """Seconds per default fine-tune step on this machine, measured in the background when first needed."""
    try:
        _calibration["seconds"] = measure_seconds_per_step(DEFAULT_BASE, resolution=TRAIN_RESOLUTION, batch_size=TRAIN_BATCH)
    except Exception as error:  # shown in the estimate; the next estimate measures again
        _calibration["error"] = f"{type(error).__name__}: {error}"


def calibration_in_progress() -> threading.Thread | None:
    """The measurement to wait for (started here if none runs, e.g. after a failure), or None once measured."""
    global _calibration_thread
    with _calibration_lock:
        if "seconds" in _calibration:
            return None
        if _calibration_thread is None or not _calibration_thread.is_alive():
            _calibration.pop("error", None)
            _calibration_thread = threading.Thread(target=calibrate, name="calibrate", daemon=True)
            _calibration_thread.start()
        return _calibration_thread


_latest_estimate: dict[str, int] = {}  # per visitor, the number of their latest estimate: only that one is shown


def estimate(steps: float, originals: list[str] | None = None, texture: bool = False, request: gr.Request | None = None):
    """The fine-tune's expected duration; while this machine's speed is being measured it says so, then updates,
    unless the visitor has asked for a newer estimate meanwhile (the page's first one must not overwrite a change).
    With before/after pairs a step takes PAIRED_STEP_SHARE of the measured (unpaired) one, as a texture TEXTURE_STEP_SHARE."""
    visitor = request.session_hash if request is not None else None
    number = _latest_estimate[visitor] = _latest_estimate.get(visitor, 0) + 1
    measuring = calibration_in_progress()
    if measuring is not None:
        yield f"{int(steps)} steps — measuring this machine's speed…"
        measuring.join(timeout=CALIBRATION_WAIT)
        if _latest_estimate.get(visitor) != number:
            return
    seconds = _calibration.get("seconds")
    if seconds is None:
        reason = _calibration.get("error", "it is taking too long")
        yield f"{int(steps)} steps — this machine's speed could not be measured ({reason}); it is measured again on the next change"
        return
    measured = "measured"
    if originals:
        seconds *= PAIRED_STEP_SHARE
        measured = "a third of the unpaired step measured"
    elif texture:
        seconds *= TEXTURE_STEP_SHARE
        measured = f"{TEXTURE_STEP_SHARE:g} times the step measured, for a texture"
    total = seconds * steps + 10  # + loading and saving
    yield f"{int(steps)} steps ≈ **{total / 60:.1f} min** on this machine ({seconds:.2f} s per step, {measured})"


def steps_for_pairs(originals: list[str] | None):
    """The steps slider follows the kind of fine-tune: more, cheaper steps with before/after pairs."""
    return PAIRED_STEPS if originals else FINETUNE_STEPS


def show_uploads(files: list[str] | None):
    files = files or []
    note = f"{len(files)} image(s). " if files else ""
    if len(files) == 1:
        note += ONE_PICTURE
    if len(files) > MAX_STYLE_IMAGES:
        note += f"**Use at most {MAX_STYLE_IMAGES}.** "
    return files, note + GOOD_SET


def progress_html(status) -> str:
    fraction = status.step / max(status.total, 1)
    eta = f", about {status.eta:.0f} s left" if status.eta is not None and status.state == "running" else ""
    # No loss figures: a GAN's losses jump by orders of magnitude from step to step and say nothing to a visitor;
    # the live preview shows how the style is coming along.
    words = {
        "starting": "Loading the base model…",
        "running": f"Step {status.step} of {status.total}{eta}. The picture below shows the style as learned so far.",
        "stopping": "Stopping after this step…",
        "done": f"Done: {status.step} steps in {status.elapsed:.0f} s. Your style is in the Stylize tab's gallery.",
        "cancelled": f"Cancelled at step {status.step}: the style so far is saved, and is in the Stylize tab's gallery.",
        "failed": f"Failed: {html.escape(status.error or '')}",
    }[status.state]
    return (
        f'<div class="train-progress" data-state="{status.state}" data-step="{status.step}">'
        f'<progress max="{status.total}" value="{status.step}" style="width:100%">{fraction:.0%}</progress>'
        f"<div>{html.escape(words) if status.state != 'failed' else words}</div></div>"
    )


_running: dict[Path, FinetuneJob] = {}  # each visitor's fine-tune in progress, so their Cancel button can reach it


def cancel_finetune(request: gr.Request) -> None:
    """Stop the visitor's fine-tune after its current step. The Start event keeps streaming until the job has saved
    the style so far, then reports it and adds it to the gallery, as for a finished one."""
    job = _running.get(visitor_dir(request, create=False))
    if job is not None:
        job.cancel()


def save_uploads(files: list[str], folder: Path, by_name: bool) -> None:
    """The visitor's pictures as PNGs in `folder`: numbered, or under their own names (before/after pairs are matched
    by name). A picture that cannot be used is refused with its own name."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    stems = [slug(Path(path).stem, f"{index:02d}") for index, path in enumerate(files)]  # no hidden or odd names
    repeated = sorted({stem for stem in stems if stems.count(stem) > 1})
    if by_name and repeated:
        raise gr.Error(f"Two uploads are named {', '.join(repeated)}: pairs are matched by name, so give each picture its own.")
    for index, path in enumerate(files):
        try:
            save_image(load_image(path, max_pixels=MAX_PHOTO_PIXELS), folder / f"{stems[index] if by_name else f'{index:02d}'}.png")
        except ImageTooLargeError as error:
            raise gr.Error(
                f"{Path(path).name}: {megapixels(error.pixels)} megapixels is more than the {megapixels(error.max_pixels)} this "
                "app takes; choose a smaller image (256 px or more is enough).",
                duration=None,
            ) from None
        except StyleGanHubError as error:
            raise user_error(error, path) from None


def start_finetune(
    files: list[str] | None,
    base: str,
    steps: float,
    name: str,
    flat: bool,
    originals: list[str] | None = None,  # defaults: API clients written before pairs may leave them out
    own: dict | None = None,
    texture: bool = False,
    request: gr.Request | None = None,
):
    """Stream the fine-tune: progress, a live preview on a fixed photo, and at the end (finished or cancelled) the
    updated style gallery. `flat` snaps the style's colours to a palette chosen per picture (cartoons, posters);
    `originals`, the photos the style images were made from, turn it into learning that exact edit from the pairs;
    `texture` learns one picture as a texture laid over the photo (TEXTURE_SETTINGS)."""
    files, originals = files or [], originals or []
    if not 1 <= len(files) <= MAX_STYLE_IMAGES:
        raise gr.Error(f"Upload between 1 and {MAX_STYLE_IMAGES} style images (got {len(files)}).")
    if texture and (len(files) != 1 or originals):
        raise gr.Error(f"“A texture” learns from one picture alone: upload just the texture, without originals (got {len(files)} style images).")
    name = slug(name, "my-style")
    visitor = visitor_dir(request)
    style_dir, originals_dir = visitor / "uploads" / name, visitor / "uploads" / f"{name}-originals"
    if len(originals) > MAX_STYLE_IMAGES:
        raise gr.Error(f"Upload at most {MAX_STYLE_IMAGES} originals, one per style image (got {len(originals)}).")
    save_uploads(files, style_dir, by_name=bool(originals))
    if originals:
        save_uploads(originals, originals_dir, by_name=True)
        try:  # checked here so that a visitor hears at once which picture has no partner
            before_after_pairs(ImageFolder(style_dir), ImageFolder(originals_dir))
        except ValueError as error:  # named by the visitor's file names, never the server's folders
            raise gr.Error(str(error).replace(str(visitor) + os.sep, ""), duration=None) from None
    output_dir = visitor / "styles" / name
    shutil.rmtree(output_dir, ignore_errors=True)
    config = FinetuneConfig(
        style_images=[str(style_dir)],
        base=base,
        output_dir=str(output_dir),
        steps=int(steps),
        resolution=TRAIN_RESOLUTION,
        batch_size=TRAIN_BATCH,
        palette_colors=FLAT_COLORS if flat else None,
        original_images=[str(originals_dir)] if originals else None,
        **(TEXTURE_SETTINGS if texture else {}),
    )
    job = FinetuneJob(config, preview_photo=load_image(EXAMPLES[-1]).resize((256, 192)), preview_every=10).start()
    _running[visitor] = job
    try:
        status = job.status()
        while not status.finished:
            yield progress_html(status), status.preview, gr.skip(), own, gr.skip()
            time.sleep(0.5)
            status = job.status()
    except GeneratorExit:  # the visitor left or an API client cancelled the event: stop, keep what was learned
        job.cancel()
        raise
    finally:
        still_here = _running.get(visitor) is job  # forget_visitor takes the job of a visitor who left
        if still_here and job.status().finished:
            del _running[visitor]
    if not still_here:
        return  # their folder is deleted once the job has stopped: nothing to show to no one
    if status.state == "failed":  # the visitor's folder is a server path: named by what is in it
        raise gr.Error(f"Fine-tuning failed: {(status.error or '').replace(str(visitor) + os.sep, '')}", duration=None)
    own = {**(own or {}), name + YOURS: str(status.output_dir)}
    yield progress_html(status), status.preview, gallery_items(own), own, name + YOURS


def push_choices(own: dict):
    mine = list(own or {})
    return gr.Dropdown(choices=mine, value=mine[-1] if mine else None)


def push_style(repo_id: str, token: str, private: bool, style: str, own: dict) -> tuple[str, str]:
    """Publish the visitor's style; the token is used for this call only, never stored or logged, and cleared."""
    path = own.get(style) or own.get((style or "") + YOURS)
    if path is None:
        raise gr.Error("Choose one of your fine-tuned styles in “Style to push” (fine-tune one first), then push.")
    if not (token or "").strip():  # never fall back to the server's own token
        raise gr.Error("Paste a Hugging Face token with write access (huggingface.co/settings/tokens), then push.")
    try:
        result = push_model_dir(path, (repo_id or "").strip(), token=token.strip(), private=private or None)
    except (StyleGanHubError, ValueError) as error:
        raise user_error(error) from None
    return f"Published: [{result.url}]({result.url})", ""


# ---- Video tab ------------------------------------------------------------------------------------------------

VIDEO_MAX_SECONDS = 60  # longer clips are refused with a message; the command line has no cap
VIDEO_MAX_BYTES = 25_000_000
VIDEO_MAX_SIDE = 720  # the longer side clips are stylized at here (1080p: 720x405); the command line keeps the full size
VIDEO_PREVIEW_SECONDS = 2
_video_cancels: dict[Path, threading.Event] = {}  # each visitor's clip in progress, so their Cancel button reaches it


def check_clip(clip_path: str | None):
    """The uploaded clip's facts, or a message naming the visitor's file when it is over a cap or unreadable."""
    from stylegan_hub.video import probe

    if not clip_path:
        raise gr.Error("Upload a video clip first (MP4, MOV, MKV or WebM).")
    name = Path(clip_path).name
    size = Path(clip_path).stat().st_size
    if size > VIDEO_MAX_BYTES:
        raise gr.Error(f"{name}: {size / 1e6:.0f} MB; clips here are up to {VIDEO_MAX_BYTES / 1e6:.0f} MB. Trim or compress it, or use the command line.", duration=None)
    try:
        info = probe(clip_path)
    except StyleGanHubError as error:
        raise gr.Error(f"{name}: {str(error).split(': ', 1)[-1]}", duration=None) from None
    if info.duration > VIDEO_MAX_SECONDS:
        raise gr.Error(
            f"{name}: {info.duration:.0f} s long; clips here are up to {VIDEO_MAX_SECONDS} s. Trim it, or use the command line "
            "(stylegan-hub stylize), which has no cap.",
            duration=None,
        )
    return info


def check_upload(clip_path: str | None) -> None:
    """On upload: a clip the app cannot take is named at once, with `check_clip`'s message, not at Preview."""
    if clip_path:  # not when the clip is cleared
        check_clip(clip_path)


def video_progress_html(state: str, done: int, total: int, seconds: float) -> str:
    words = {
        "running": f"Frame {done} of {total}" + (f", {done / seconds:.1f} frames/s" if seconds > 0 and done else ""),
        "done": f"Done: {done} frames in {seconds:.0f} s",
        "cancelled": f"Cancelled at frame {done}; nothing was kept",
    }[state]
    return (
        f'<div class="video-progress" data-state="{state}" data-done="{done}">'
        f'<progress max="{max(total, 1)}" value="{done}" style="width:100%"></progress><div>{html.escape(words)}</div></div>'
    )


def stylize_clip(clip_path: str | None, style: str, strength: float, preserve_color: bool, stabilize: bool, preview: bool, own: dict, request: gr.Request):
    """Stream a clip's stylizing: progress, then the stylized clip (the first seconds for a preview)."""
    from stylegan_hub.video import Cancelled, stylize_video

    info = check_clip(clip_path)
    style = (style or "").strip()
    if not style:
        raise gr.Error("Pick a style, or type a Hub id such as org/style-name.")
    try:
        source, anonymous = style_source(style, own)
        generator = load_style(source, anonymous=anonymous)
    except (StyleGanHubError, ValueError) as error:
        raise user_error(error) from None
    visitor = visitor_dir(request)
    kind = "preview" if preview else "full"
    target = visitor / "results" / f"{slug(Path(clip_path).stem, 'clip')}-{slug(style, 'style')}-{kind}.mp4"
    seconds = VIDEO_PREVIEW_SECONDS if preview else None
    total = min(info.frames, round(VIDEO_PREVIEW_SECONDS * float(info.fps))) if preview else info.frames
    cancel, status, outcome = threading.Event(), {"done": 0, "total": max(total, 1)}, {}
    _video_cancels[visitor] = cancel

    def work() -> None:
        try:
            outcome["report"] = stylize_video(
                generator,
                clip_path,
                target,
                strength=strength,
                preserve_color=preserve_color,
                max_side=VIDEO_MAX_SIDE,
                stabilize=stabilize,
                overwrite=True,
                max_seconds=seconds,
                progress=lambda done, count: status.update(done=done, total=count),
                cancel=cancel,
            )
        except Exception as error:  # reported to the visitor below
            outcome["error"] = error

    worker = threading.Thread(target=work, name="stylize-clip", daemon=True)
    start = time.perf_counter()
    worker.start()
    try:
        while worker.is_alive():
            yield video_progress_html("running", status["done"], status["total"], time.perf_counter() - start), gr.skip()
            worker.join(timeout=0.5)
    except GeneratorExit:  # the visitor left or an API client cancelled the event: stop at the next frame
        cancel.set()
        raise
    finally:
        if _video_cancels.get(visitor) is cancel:
            del _video_cancels[visitor]
    error = outcome.get("error")
    if isinstance(error, Cancelled):
        yield video_progress_html("cancelled", status["done"], status["total"], 0), None
        return
    if error is not None:
        if isinstance(error, (StyleGanHubError, ValueError)):
            raise gr.Error(f"{Path(clip_path).name}: {str(error).split(': ', 1)[-1]}", duration=None)
        raise error
    report = outcome["report"]
    yield video_progress_html("done", report.frames, report.frames, report.seconds), str(report.path)


def preview_clip(clip_path, style, strength, preserve_color, stabilize, own, request: gr.Request):
    yield from stylize_clip(clip_path, style, strength, preserve_color, stabilize, True, own, request)


def stylize_whole_clip(clip_path, style, strength, preserve_color, stabilize, own, request: gr.Request):
    yield from stylize_clip(clip_path, style, strength, preserve_color, stabilize, False, own, request)


def cancel_clip(request: gr.Request) -> None:
    cancel = _video_cancels.get(visitor_dir(request, create=False))
    if cancel is not None:
        cancel.set()


def video_tab(own: gr.State) -> None:
    """The Video tab and its events (built inside `build_app`'s Blocks)."""
    with gr.Tab("Video", id="video-tab"):
        gr.Markdown(
            f"Stylize a clip of up to {VIDEO_MAX_SECONDS} s (its longer side at up to {VIDEO_MAX_SIDE} px here; the sound, frame rate and "
            "length are kept). **Preview** does the first "
            f"{VIDEO_PREVIEW_SECONDS} s; **Stylize whole clip** the rest, with progress and **Cancel**."
        )
        with gr.Row():
            with gr.Column():
                clip = gr.Video(sources=["upload"], label="Clip", format=None, include_audio=True, elem_id="clip", height=320)
                style = gr.Dropdown(
                    listed_styles(), value=listed_styles()[0], allow_custom_value=True, label="Style",
                    info="a listed style, your own (name (yours)) or a Hub id org/style-name", elem_id="video-style",
                )
                with gr.Row():
                    strength = gr.Slider(0, 1, value=1, step=0.05, label="Strength")
                    preserve = gr.Checkbox(label="Keep the clip's colours")
                    stabilize = gr.Checkbox(value=True, label="No flicker (stabilise)")
                with gr.Row():
                    preview = gr.Button(f"Preview ({VIDEO_PREVIEW_SECONDS} s)", elem_id="video-preview")
                    whole = gr.Button("Stylize whole clip", variant="primary", elem_id="video-go")
                    cancel = gr.Button("Cancel", variant="stop", elem_id="video-cancel", interactive=False)  # active while stylizing
            with gr.Column():
                progress = gr.HTML(elem_id="video-progress")
                result = gr.Video(label="Stylized", format=None, interactive=False, elem_id="video-result", height=420)
    inputs = [clip, style, strength, preserve, stabilize, own]
    options = dict(concurrency_id="video", concurrency_limit=1)
    clip.upload(check_upload, clip, None, api_name=False, concurrency_limit=None)  # not queued behind a clip being stylized
    cancellable(preview.click, cancel, preview_clip, inputs, [progress, result], api_name="video_preview", **options)
    cancellable(whole.click, cancel, stylize_whole_clip, inputs, [progress, result], api_name="stylize_video", **options)
    cancel.click(cancel_clip, None, None, api_name="cancel_video")


# ---- Layout ---------------------------------------------------------------------------------------------------


def build_app() -> gr.Blocks:
    with gr.Blocks(title="stylegan-hub", delete_cache=(3600, 3600)) as demo:
        own = gr.State({}, delete_callback=forget_styles)  # this visitor's styles: label -> folder
        gr.Markdown("# stylegan-hub\nApply a style to a photo, or teach it your own style from a few images.")
        with gr.Tab("Stylize", id="stylize-tab"):
            with gr.Row():
                with gr.Column():
                    photo = gr.Image(sources=["upload", "clipboard", "webcam"], type="filepath", label="Photo", elem_id="photo", height=320)
                    photo.preprocess = lambda payload, default=photo.preprocess: photo_as_uploaded(payload, default)
                    gallery = gr.Gallery(
                        value=gallery_items({}),
                        label="Styles (click one)",
                        columns=4,
                        height="auto",  # as tall as its rows: every style shown, none cut off, no empty space
                        allow_preview=False,
                        format="png",
                        elem_id="styles",
                    )
                    style = gr.Textbox(
                        value=listed_styles()[0], label="Style", info="picked in the gallery, or a Hub id: org/style-name", elem_id="style"
                    )
                    style_picture = gr.Image(
                        sources=["upload", "clipboard"],
                        type="filepath",
                        label="…or any style from a picture (a painting, a drawing, a poster): used instead of the style above",
                        elem_id="style-picture",
                        height=160,
                    )
                    style_picture.preprocess = lambda payload, default=style_picture.preprocess: photo_as_uploaded(payload, default)
                    with gr.Accordion("Mix in a second style", open=False):
                        mix_picture = gr.Image(
                            sources=["upload", "clipboard"], type="filepath", label="Second style picture", elem_id="mix-picture", height=160
                        )
                        mix_picture.preprocess = lambda payload, default=mix_picture.preprocess: photo_as_uploaded(payload, default)
                        mix = gr.Slider(0, 1, value=0.5, step=0.05, label="Mix (0: the first style, 1: the second)", elem_id="mix")
                    with gr.Row():
                        strength = gr.Slider(0, 1, value=1, step=0.05, label="Strength")
                        preserve = gr.Checkbox(label="Keep the photo's colours")
                    size = gr.Radio(
                        [f"Preview ({PREVIEW_SIDE} px)", "Full size"], value=f"Preview ({PREVIEW_SIDE} px)", label="Output size"
                    )
                    go = gr.Button("Stylize", variant="primary", elem_id="go")
                with gr.Column():
                    result = gr.ImageSlider(label="Before / after", type="pil", format="png", elem_id="result", height=420)
                    download = gr.DownloadButton("Download PNG", elem_id="download")
            gr.Examples(EXAMPLES, inputs=[photo], label="Example photos")
        with gr.Tab("Fine-tune", id="finetune-tab"):
            with gr.Row():
                with gr.Column():
                    files = gr.File(file_count="multiple", file_types=["image"], label="Your style images (1–20)", elem_id="style-files")
                    uploads = gr.Gallery(label="Your set", columns=6, height=160, allow_preview=False, elem_id="uploads")
                    advice = gr.Markdown(GOOD_SET)
                    with gr.Accordion("Before/after pairs: learn one exact edit", open=False):
                        originals = gr.File(
                            file_count="multiple",
                            file_types=["image"],
                            label="The original photos (optional): each with its style image's file name",
                            elem_id="original-files",
                        )
                        gr.Markdown(PAIRS)
                    with gr.Row():
                        base = gr.Dropdown(builtin_names(), value=DEFAULT_BASE, label="Start from", elem_id="base")
                        name = gr.Textbox(value="my-style", label="Name", elem_id="style-name")
                    flat = gr.Checkbox(
                        label="Flat colours (cartoons, posters)",
                        info=f"snaps the result to {FLAT_COLORS} colours chosen per photo; leave off for paintings and photo looks",
                        elem_id="flat",
                    )
                    texture = gr.Checkbox(
                        label="A texture (one picture: bricks, stone, fabric)",
                        info="lays your picture over the photo as a surface; the photo's contours stay drawn on it",
                        elem_id="texture",
                    )
                    steps = gr.Slider(20, 2000, value=PRESETS["Balanced"], step=10, label="Training steps", elem_id="steps")
                    with gr.Row():
                        preset_buttons = [gr.Button(f"{label}: {count}", size="sm") for label, count in PRESETS.items()]
                    eta = gr.Markdown(elem_id="estimate")  # filled on page load (measuring starts then)
                    with gr.Row():
                        start = gr.Button("Start", variant="primary", elem_id="start")
                        cancel = gr.Button("Cancel", variant="stop", elem_id="cancel", interactive=False)  # active while training
                with gr.Column():
                    progress = gr.HTML(elem_id="progress")
                    preview = gr.Image(label="Your style, live", format="png", interactive=False, elem_id="preview")
                    with gr.Accordion("Push to the Hugging Face Hub", open=False):
                        repo = gr.Textbox(label="Repo id", placeholder="your-name/my-style", elem_id="repo")
                        token = gr.Textbox(label="Token (write access; used once, never stored)", type="password", elem_id="token")
                        private = gr.Checkbox(label="Private")
                        to_push = gr.Dropdown(
                            [], label="Style to push", info="one of yours, fine-tuned above", allow_custom_value=True, elem_id="to-push"
                        )
                        push = gr.Button("Push", elem_id="push")
                        pushed = gr.Markdown(elem_id="pushed")
        video_tab(own)

        gallery.select(choose_style, None, style, api_name=False)
        go.click(
            stylize_photo,
            [photo, style, strength, preserve, size, style_picture, mix_picture, mix, own],
            [result, download],
            api_name="stylize",
            concurrency_id="stylize",
            concurrency_limit=2,
        )
        files.change(show_uploads, files, [uploads, advice], api_name=False)
        for button, count in zip(preset_buttons, PRESETS.values()):
            button.click(lambda count=count: count, None, steps, api_name=False)
        for changed in (steps, texture):
            changed.change(estimate, [steps, originals, texture], eta, api_name=False, concurrency_limit=None)
        originals.change(steps_for_pairs, originals, steps, api_name=False)
        demo.load(estimate, [steps, originals, texture], eta, api_name=False, concurrency_limit=None)
        cancellable(  # Cancel is active only while a fine-tune runs
            start.click,
            cancel,
            start_finetune,
            [files, base, steps, name, flat, originals, own, texture],
            [progress, preview, gallery, own, style],
            api_name="finetune",
            concurrency_id="train",
            concurrency_limit=1,
            show_progress_on=[progress],  # a refused Start marks the progress box only, not the preview
        )
        cancel.click(cancel_finetune, None, None, api_name="cancel")
        push.click(push_style, [repo, token, private, to_push, own], [pushed, token], api_name="push", show_progress_on=[pushed])
        demo.unload(forget_visitor)
        own.change(push_choices, own, to_push, api_name=False, queue=False)  # the push list follows the visitor's styles
    return demo


def main() -> None:
    shutil.rmtree(DATA_DIR / "visitors", ignore_errors=True)  # a fresh server has no visitors yet
    build_app().queue(max_size=64).launch(max_file_size="25mb", show_error=True, css=CSS)


if __name__ == "__main__":
    main()
