"""Stylize a video file: decode, stylize each frame with the image path, stabilise, encode; in bounded memory."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .io import check_output, probe, transcode

if TYPE_CHECKING:
    from ..models.generator import StyleGenerator


UNTRACKED = object()  # a frame's motion not looked for yet (None is a found "no previous frame")


@dataclass(frozen=True)
class VideoReport:
    path: Path
    frames: int
    seconds: float  # wall time
    cuts: int  # hard cuts found (stabilisation restarted there)

    @property
    def fps(self) -> float:
        return self.frames / max(self.seconds, 1e-9)


class FrameStylizer:
    """Stylizes frames one after another: the image path (`stylize_prepared`, one prepared model for the clip) and,
    with `stabilize`, the temporal blend of `Stabilizer` on the generator's output (before the blend with the photo
    that `strength` and `preserve_color` ask for). A palette model keeps the palette of each shot's first frame for
    the whole shot: chosen per frame, the palette jumps and its colours flicker (warping error 1.4 to 3.6 times
    higher on the test clips, docs/video.md). Call with a uint8 RGB frame; returns a uint8 RGB frame."""

    def __init__(
        self,
        generator: "StyleGenerator",
        *,
        strength: float = 1.0,
        preserve_color: bool = False,
        tile: int | None = None,
        precision: str = "auto",
        stabilize: bool = True,
        work_side: int | None = None,
    ):
        from ..inference import check_work_side, inference_generator
        from .stabilize import Stabilizer

        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be between 0 (the photo) and 1 (full style), got {strength}")
        check_work_side(work_side)
        self.generator = inference_generator(generator, precision)
        self.options = dict(strength=strength, preserve_color=preserve_color, tile=tile, work_side=work_side)
        # The stabiliser's motion tracking also finds the shots' cuts; without it, a palette model tracks for them.
        self.stabilizer = Stabilizer() if stabilize or self.generator.palette_colors else None
        self.stabilize = stabilize
        self.shot_palette: torch.Tensor | None = None
        self._motion = UNTRACKED

    def stylize(self, frame: np.ndarray) -> np.ndarray:
        """The per-frame stylized frame, float32 (H, W, 3) in [0, 1]: no stabilisation, a palette model's own palette."""
        return self._stylize(frame)[0].permute(1, 2, 0).contiguous().numpy()

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        self._motion = UNTRACKED
        styled = self._stylize(frame, refine=self._stabilise if self.stabilize else None, choose_palette=self._palette_of_shot)
        # Rounded to 8 bits in torch (threaded, in place): at 720p, numpy's passes took a tenth of the frame's time.
        return styled[0].mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()

    def _stylize(self, frame: np.ndarray, **hooks) -> torch.Tensor:
        from ..inference import stylize_prepared

        photo = torch.from_numpy(frame).permute(2, 0, 1).unsqueeze(0).float().div_(255)
        return stylize_prepared(self.generator, photo, **self.options, **hooks)  # (1, 3, H, W)

    def _track(self, photo: torch.Tensor) -> tuple | None:
        """The motion to this frame at the size the generator runs (with a `work_side`, the small frame: flow, warp
        and blend then cost as little as it), found once per frame."""
        if self._motion is UNTRACKED:
            self._motion = self.stabilizer.track((photo[0].permute(1, 2, 0) * 255 + 0.5).byte().numpy())
        return self._motion

    def _palette_of_shot(self, photo: torch.Tensor) -> torch.Tensor:
        motion = self._track(photo)
        if self.shot_palette is None or motion is None or motion[2]:  # the first frame of a shot
            self.shot_palette = self.generator.palette_of(photo)
        return self.shot_palette

    def _stabilise(self, photo: torch.Tensor, styled: torch.Tensor) -> torch.Tensor:
        """The stabiliser on the generator's output, at the size the generator ran, before guided upsampling."""
        steady = self.stabilizer.blend(styled[0].permute(1, 2, 0).contiguous().numpy(), self._track(photo))
        return torch.from_numpy(steady).permute(2, 0, 1).unsqueeze(0)

    @property
    def cuts(self) -> int:
        """Hard cuts found so far (none are looked for when neither stabilising nor keeping a palette per shot)."""
        return self.stabilizer.cuts if self.stabilizer is not None else 0


def stylize_video(
    model: "StyleGenerator | str | os.PathLike",
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    strength: float = 1.0,
    preserve_color: bool = False,
    max_side: int | None = None,
    stabilize: bool = True,
    overwrite: bool = False,
    max_seconds: float | None = None,
    tile: int | None = None,
    precision: str = "auto",
    work_side: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel=None,
) -> VideoReport:
    """Stylize the clip `src` into `dst` (.mp4, .mov, .m4v or .mkv; H.264), keeping its audio, frame rate, duration
    and orientation. `model` is a StyleGenerator or a name `StyleGenerator.from_pretrained` takes.

    `strength`, `preserve_color`, `max_side`, `tile`, `precision` and `work_side` are those of `stylize` (a
    `work_side` stylizes large frames several times faster at full size; docs/video.md); `stabilize` blends each frame with the previous output along the optical flow (no flicker; on by default); `max_seconds` stops after
    that much of the clip (a preview); `overwrite` replaces an existing `dst`; `progress(done, total)` is called per
    frame and setting `cancel` (a threading.Event) stops at the next frame and raises `Cancelled`. Frames stream
    through, so memory does not grow with the clip's length; `dst` appears only once it is complete. Bad input
    raises VideoError with a one-line message.
    """
    from ..inference import check_work_side
    from ..models import StyleGenerator

    check_output(dst, overwrite=overwrite)  # before loading anything: refusing takes no time
    probe(src)
    if max_side is not None and (not isinstance(max_side, int) or max_side < 8):
        raise ValueError(f"max_side must be a number of pixels (at least 8), got {max_side!r}")
    check_work_side(work_side)
    generator = model if isinstance(model, torch.nn.Module) else StyleGenerator.from_pretrained(model)
    stylizer = FrameStylizer(
        generator, strength=strength, preserve_color=preserve_color, tile=tile, precision=precision, stabilize=stabilize, work_side=work_side
    )
    start = time.perf_counter()
    frames = transcode(src, dst, stylizer, overwrite=overwrite, max_side=max_side, max_seconds=max_seconds, progress=progress, cancel=cancel)
    return VideoReport(Path(dst), frames, time.perf_counter() - start, stylizer.cuts)
