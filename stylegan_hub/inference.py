"""Apply a generator to real-world images: any size, mode and orientation, and 4K in bounded memory.

Large images are cut into overlapping tiles whose outputs are blended with ramps across the overlap, so a pixel
near a tile edge takes its value from the tile in which it sits deep inside: since the generator has no
global normalisation, each output pixel only depends on a neighbourhood smaller than the overlap, and the result
matches the untiled one closely (see tests/test_inference.py for the measured difference).
"""

from __future__ import annotations

import copy
import functools
import math
import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .color import rgb_to_yuv, yuv_to_rgb
from .errors import StyleGanHubError
from .images import load_image
from .models.palette import PALETTE_SIDE
from .names import PRECISIONS
from .upsampling import guided_upsample

if TYPE_CHECKING:
    from .models.generator import StyleGenerator

# Above this many pixels, tiles keep peak memory bounded (a 4K photo holds 8.3 M pixels).
AUTO_TILE_PIXELS = 1536 * 1536
AUTO_TILE_SIZE = 512
MIN_WORK_SIDE = 16  # smaller copies leave the guided fit too few pixels to be worth it


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (1, 3, H, W) float32 in [0, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """(3, H, W) or (1, 3, H, W) in [0, 1] -> RGB PIL image, rounded rather than truncated."""
    array = tensor.detach().float().squeeze(0).clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array, "RGB")


def transfer_luminance(stylized: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """Keep the photo's colours, take the style's luminance (Gatys et al. 2017, 'Preserving colour')."""
    yuv = rgb_to_yuv(photo)
    yuv[:, 0] = rgb_to_yuv(stylized)[:, 0]
    return yuv_to_rgb(yuv).clamp(0, 1)


def resolve_device(name: str | None = None) -> torch.device:
    """A torch device by name, or the best available one (CUDA, then MPS, then CPU); a clear error for a bad one."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu")
    try:
        device = torch.device(name)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as error:
        raise StyleGanHubError(f"device {name}: not usable here ({str(error).splitlines()[0]}); try --device cpu") from None
    return device


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no flags, so "auto" keeps float32
        return frozenset()
    return frozenset(next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), []))


def native_bfloat16(device: torch.device) -> bool:
    """Whether `device` runs bfloat16 convolutions in hardware: CUDA GPUs that support it, and CPUs with AVX-512 BF16
    or AMX (elsewhere bfloat16 is emulated and slower than float32)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)  # Ampere on; older GPUs only emulate bfloat16
    return device.type == "cpu" and bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})


# One prepared copy per model, kept while the model lives: making it (a deep copy, then a conversion) cost 8 ms of a
# 0.1 s 512x512 call. It is shared by every call with that model, so callers only read it.
_PREPARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PREPARED_LOCK = threading.Lock()


def state_fingerprint(module: torch.nn.Module) -> tuple | None:
    """Changes whenever a weight or buffer of `module` is replaced, moved or modified in place (an optimizer step,
    `load_state_dict`, `.to()`): the storage and autograd version counter of each. None for a model made under
    `torch.inference_mode`, whose tensors keep no version counter: copies of it are not kept."""
    tensors = list(module.state_dict(keep_vars=True).values())
    if any(tensor.is_inference() for tensor in tensors):
        return None
    return tuple((tensor.data_ptr(), tensor._version, tensor.dtype) for tensor in tensors)


def inference_generator(generator: "StyleGenerator", precision: str = "auto") -> "StyleGenerator":
    """A copy of `generator` laid out to run fastest: channels-last, in bfloat16 for precision "bfloat16" or, for
    "auto", when a float32 model sits where bfloat16 is native (the output then stays within about one 8-bit level
    of float32's; docs/speed.md); otherwise in the model's own dtype ("float32" forces float32). The caller's model
    is left as it is. The copy is made once and shared until the model's weights change: treat it as read-only."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    parameter = next(generator.parameters())
    if precision == "bfloat16" or (precision == "auto" and parameter.dtype == torch.float32 and native_bfloat16(parameter.device)):
        dtype = torch.bfloat16
    else:
        dtype = torch.float32 if precision == "float32" else parameter.dtype
    fingerprint = state_fingerprint(generator)
    key = (dtype, fingerprint)
    with _PREPARED_LOCK:
        cached = _PREPARED.get(generator)
    if fingerprint is not None and cached is not None and cached[0] == key:
        return cached[1]
    fast = copy.deepcopy(generator).requires_grad_(False).eval().to(dtype=dtype, memory_format=torch.channels_last)
    if fingerprint is not None:
        with _PREPARED_LOCK:
            _PREPARED[generator] = (key, fast)
    return fast


@torch.inference_mode()  # no autograd graph: tiles of a 4K image must not keep each other's activations alive
def run_generator(
    generator: "StyleGenerator",
    photo: torch.Tensor,
    origin: tuple[int, int] = (0, 0),
    palette: torch.Tensor | None = None,
    frame: tuple[int, int] | None = None,
) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] of any H, W -> generator output in [0, 1], same size, on the photo's device; `origin`
    is the photo's top-left pixel in the whole image when it is a tile, `frame` that image's height and width,
    `palette` its palette."""
    height, width = photo.shape[-2:]
    x = photo.to(next(generator.parameters()).device).contiguous(memory_format=torch.channels_last)
    # The network's reflection padding needs 2 pixels at its lowest resolution: tiny images repeat their edge.
    minimum = 2 * generator.size_multiple
    if height < minimum or width < minimum:
        x = F.pad(x, (0, max(minimum - width, 0), 0, max(minimum - height, 0)), mode="replicate")
    y = generator.forward_image(x, origin, palette, frame=frame or (height, width))[..., :height, :width]
    return y.float().to(photo.device)


def _ramp(length: int, overlap: int, fade_in: bool, fade_out: bool) -> torch.Tensor:
    """Tile weights along one axis: 0 in the outer quarter of an overlap (where the tile lacks context), rising
    linearly over the middle half, 1 beyond; image borders are not faded."""
    weight = torch.ones(length)
    margin = overlap // 4
    ramp = torch.cat([torch.zeros(margin), torch.linspace(0, 1, overlap - 2 * margin + 2)[1:-1], torch.ones(margin)])
    if fade_in and overlap:
        weight[:overlap] = ramp
    if fade_out and overlap:
        weight[-overlap:] = ramp.flip(0)
    return weight


def _tile_starts(size: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Evenly spread tile starts, on multiples of the network's stride so every tile sees the same pixel grid as
    the whole image would (a strided network is only shift-equivariant for such shifts)."""
    if size <= tile:
        return [0]
    count = math.ceil((size - overlap) / (tile - overlap - multiple))
    stride = (size - tile) / (count - 1)
    return [int(i * stride) // multiple * multiple for i in range(count)]


def run_generator_tiled(
    generator: "StyleGenerator", photo: torch.Tensor, tile: int, overlap: int, palette: torch.Tensor | None = None
) -> torch.Tensor:
    """Like `run_generator`, but tile by tile, so memory grows with the tile size rather than the image size; a
    palette model's tiles all snap to `palette` (default: `palette_of` the whole photo)."""
    if overlap < 0 or tile < 2 * overlap + generator.size_multiple:
        raise ValueError(f"tile ({tile}) must be at least twice the overlap ({overlap}) plus {generator.size_multiple}")
    batch, _, height, width = photo.shape
    output = torch.zeros(batch, 3, height, width)
    total_weight = torch.zeros(1, 1, height, width)
    multiple = generator.size_multiple
    if palette is None:
        palette = generator.palette_of(photo)
    rows, cols = _tile_starts(height, tile, overlap, multiple), _tile_starts(width, tile, overlap, multiple)
    for top in rows:
        for left in cols:
            # The last tile of a row or column runs to the image's edge.
            bottom = height if top == rows[-1] else top + tile
            right = width if left == cols[-1] else left + tile
            result = run_generator(generator, photo[..., top:bottom, left:right], (top, left), palette, (height, width)).cpu()
            # Neighbouring tiles overlap by at least `overlap` pixels; each fades out over that band.
            ramp_h = _ramp(bottom - top, overlap, top > 0, bottom < height)
            ramp_w = _ramp(right - left, overlap, left > 0, right < width)
            weight = ramp_h[:, None] * ramp_w[None, :]
            output[..., top:bottom, left:right] += result * weight
            total_weight[..., top:bottom, left:right] += weight
    return (output / total_weight).to(photo.device)


def stylize_tensor(
    generator: "StyleGenerator",
    photo: torch.Tensor,
    *,
    strength: float = 1.0,
    preserve_color: bool = False,
    tile: int | None = None,
    precision: str = "auto",
    work_side: int | None = None,
) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> stylized batch in [0, 1]; the core every front end (API, CLI, app) calls."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 (the photo) and 1 (full style), got {strength}")
    if tile is not None and tile < 0:
        raise ValueError(f"tile must be a positive tile size in pixels, 0 to disable tiling, or None, got {tile}")
    check_work_side(work_side)
    generator = inference_generator(generator, precision)  # also checks `precision`
    return stylize_prepared(generator, photo, strength=strength, preserve_color=preserve_color, tile=tile, work_side=work_side)


def fit_tensor(batch: torch.Tensor, side: int) -> torch.Tensor:
    """(B, 3, H, W) scaled down (antialiased) so its longer side is at most `side` pixels; unchanged if it fits."""
    if max(batch.shape[-2:]) <= side:
        return batch
    scale = side / max(batch.shape[-2:])
    size = [max(1, round(s * scale)) for s in batch.shape[-2:]]
    return F.interpolate(batch, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def check_work_side(work_side: int | None) -> None:
    if work_side is not None and (isinstance(work_side, bool) or not isinstance(work_side, int) or work_side < MIN_WORK_SIDE):
        raise ValueError(
            f"work_side must be a number of pixels (at least {MIN_WORK_SIDE}), or None to stylize at full size, got {work_side!r}"
        )


def stylize_prepared(
    generator: "StyleGenerator",
    photo: torch.Tensor,
    *,
    strength: float = 1.0,
    preserve_color: bool = False,
    tile: int | None = None,
    work_side: int | None = None,
    refine: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    choose_palette: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """`stylize_tensor` with a generator already made by `inference_generator`: for many calls in a row (the
    frames of a video), which then share one prepared copy of the model. `refine(photo, styled)` may change the
    generator's output at the size the generator ran, before any upsampling (the video stabiliser);
    `choose_palette(photo)`, at that size, gives a palette model the palette to snap to instead of the photo's own
    (a video's shot keeps one palette)."""
    if strength == 0:
        return photo.clone()
    small = fit_tensor(photo, work_side) if work_side is not None else photo
    palette = choose_palette(small) if choose_palette is not None and generator.palette_colors else None
    styled = run_generator_auto_tiled(generator, small, tile, palette)
    if refine is not None:
        styled = refine(small, styled)
    if small is not photo:
        styled = guided_upsample(photo, small, styled)
    if preserve_color:
        styled = transfer_luminance(styled, photo)
    return styled if strength == 1 else torch.lerp(photo, styled, strength)  # the blend costs a full-size pass


def run_generator_auto_tiled(
    generator: "StyleGenerator", photo: torch.Tensor, tile: int | None, palette: torch.Tensor | None = None
) -> torch.Tensor:
    """The generator's output for the whole photo, in tiles when `tile` asks for them or (None) the photo is large;
    a palette model snaps to `palette` when given, else to the photo's own (`StyleGenerator.palette_of`)."""
    height, width = photo.shape[-2:]
    overlap = 2 * generator.receptive_radius
    if tile is None:
        # Wide-field generators get wider automatic tiles, so the overlap stays a bounded share of each tile (the
        # base layout at 4K: 512-px tiles 15.9 s, 768-px tiles 11.0 s, in the same 0.74 GB).
        tile = max(AUTO_TILE_SIZE, 3 * overlap) if height * width > AUTO_TILE_PIXELS else 0
    tile_size = max(tile, 2 * overlap + generator.size_multiple) if tile else 0
    if tile_size and (height > tile_size or width > tile_size):
        return run_generator_tiled(generator, photo, tile_size, overlap, palette)
    if palette is None and max(height, width) > PALETTE_SIDE:  # chosen at PALETTE_SIDE: the same tiled or not
        palette = generator.palette_of(photo)
    return run_generator(generator, photo, palette=palette)


def stylize(
    generator: "StyleGenerator",
    image: "str | os.PathLike | Image.Image | np.ndarray | torch.Tensor",
    *,
    strength: float = 1.0,
    preserve_color: bool = False,
    max_side: int | None = None,
    tile: int | None = None,
    precision: str = "auto",
    work_side: int | None = None,
) -> Image.Image | list[Image.Image]:
    """Stylize one image (path, PIL, numpy) -> PIL image, or a tensor batch (B, 3, H, W) in [0, 1] -> list of PIL.

    `strength` blends from the photo (0) to the full style (1); `preserve_color` keeps the photo's colours;
    `max_side` downscales larger images first; `tile` is the tile size in pixels (None: automatic for images over
    ~2.4 megapixels, 0: never); `precision` is "float32", "bfloat16" or "auto" (bfloat16 where the hardware has it);
    `work_side` runs the generator on a copy fitted into that many pixels and brings the result back to full size
    by guided upsampling (`stylegan_hub.upsampling`): much faster on large images, with the photo's edges sharp
    and the style's texture drawn at the smaller size's scale. RGBA inputs keep their alpha channel.
    """
    if max_side is not None and (not isinstance(max_side, int) or max_side < 1):
        raise ValueError(f"max_side must be a positive number of pixels, got {max_side!r}")
    options = dict(strength=strength, preserve_color=preserve_color, tile=tile, precision=precision, work_side=work_side)
    if isinstance(image, torch.Tensor):
        batch = image.unsqueeze(0) if image.dim() == 3 else image
        if batch.dim() != 4 or batch.shape[1] != 3 or not batch.is_floating_point():
            raise ValueError(f"tensor input must be float (B, 3, H, W) or (3, H, W) in [0, 1], got {tuple(image.shape)}")
        if max_side is not None:
            batch = fit_tensor(batch, max_side)
        return [tensor_to_pil(y) for y in stylize_tensor(generator, batch, **options)]

    picture = load_image(image)
    if max_side is not None and max(picture.size) > max_side:
        picture = picture.copy()
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    result = tensor_to_pil(stylize_tensor(generator, pil_to_tensor(picture), **options))
    if picture.mode == "RGBA":
        result.putalpha(picture.getchannel("A"))
    return result


def comparison_grid(photos: list[Image.Image], generators: list["StyleGenerator"], height: int = 192) -> Image.Image:
    """One row per photo: the photo, then its stylized version by each generator, all `height` pixels tall."""
    resized = [p.convert("RGB").resize((max(1, round(p.width * height / p.height)), height), Image.Resampling.LANCZOS) for p in photos]
    width = max(photo.width for photo in resized)
    grid = Image.new("RGB", (width * (1 + len(generators)), height * len(resized)), "white")
    for row, photo in enumerate(resized):
        for column, image in enumerate([photo, *(stylize(g, photo) for g in generators)]):
            grid.paste(image, (column * width, row * height))
    return grid


def before_after_grid(generator: "StyleGenerator", photos: list[Image.Image], height: int = 192) -> Image.Image:
    """Photo beside its stylized version, one row per photo; used for samples and model cards."""
    return comparison_grid(photos, [generator], height)
