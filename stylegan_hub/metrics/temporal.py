"""Temporal stability of a video, measured offline.

- Warping error (Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018): the mean over frame pairs of
  the masked mean squared difference between output frame t+1 and output frame t warped to it by the *input's*
  optical flow; the mask keeps pixels where the forward and backward flows agree (not occluded), and pairs across
  a hard cut (too few pixels matched, as the stabiliser detects them) are left out and counted. Lai et al. use
  FlowNet2; here the flow is OpenCV's DIS (no pretrained network), computed on the input at up to 1024 pixels.
  Pixel values are in [0, 1], the squared difference is averaged over RGB; reported x 1e-3 by `eval-video`.
- Frame difference: the mean absolute difference between consecutive frames (of one shot), with no flow at all.

Both stream: feed frames one at a time to a `TemporalMeter`, so a long clip needs no more memory than two frames.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..video.flow import FlowEstimator, is_cut, match, resize_flow, to_gray, warp

METRIC_FLOW_SIDE = 1024


def _float(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) / 255 if frame.dtype == np.uint8 else frame.astype(np.float32, copy=False)


class TemporalMeter:
    """Accumulates the warping error of one or more output sequences against one input clip, and their frame
    differences. `update(input_frame, {name: output_frame, ...})` per frame; `results()` at the end."""

    def __init__(self, flow_side: int = METRIC_FLOW_SIDE):
        self.flow_side = flow_side
        self.flow = FlowEstimator()
        self._previous_gray: np.ndarray | None = None
        self._previous: dict[str, np.ndarray] = {}
        self._warping: dict[str, list[float]] = {}
        self._difference: dict[str, list[float]] = {}
        self.cuts = 0

    def update(self, frame: np.ndarray, outputs: dict[str, np.ndarray]) -> None:
        gray = to_gray(frame, self.flow_side)
        height, width = frame.shape[:2]
        if self._previous_gray is not None:
            backward, mask, matched = match(self.flow, gray, self._previous_gray)
            if is_cut(matched):  # a new shot: nothing to be consistent with
                self.cuts += 1
                self._remember(gray, outputs)
                return
            if gray.shape != (height, width):
                backward = resize_flow(backward, (width, height))
                mask = cv2_resize_mask(mask, (width, height))
            for name, output in outputs.items():
                current, previous = _float(output), self._previous[name]
                if current.shape[:2] != (height, width):
                    raise ValueError(f"{name}: output frames are {current.shape[1]}x{current.shape[0]}, the input's {width}x{height}")
                squared = np.square(current - warp(previous, backward)).mean(-1)
                self._warping.setdefault(name, []).append(float((squared * mask).sum() / max(mask.sum(), 1)))
                self._difference.setdefault(name, []).append(float(np.abs(current - previous).mean()))
        self._remember(gray, outputs)

    def _remember(self, gray: np.ndarray, outputs: dict[str, np.ndarray]) -> None:
        self._previous_gray = gray
        self._previous = {name: _float(output) for name, output in outputs.items()}

    def results(self) -> dict[str, dict[str, float]]:
        """{name: {"warping_error": ..., "frame_difference": ..., "pairs": n}}."""
        return {
            name: {
                "warping_error": float(np.mean(values)),
                "frame_difference": float(np.mean(self._difference[name])),
                "pairs": len(values),
            }
            for name, values in self._warping.items()
        }


def cv2_resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_NEAREST)


def warping_error(inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray]) -> float:
    """Lai et al.'s warping error of `outputs` (frames in [0, 1] float or uint8), with the flow of `inputs`."""
    meter = TemporalMeter()
    for frame, output in zip(inputs, outputs, strict=True):
        meter.update(frame, {"output": output})
    return meter.results()["output"]["warping_error"]


def frame_difference(frames: Iterable[np.ndarray]) -> float:
    """Mean absolute difference of consecutive frames (in [0, 1]); no flow."""
    values, previous = [], None
    for frame in frames:
        current = _float(frame)
        if previous is not None:
            values.append(float(np.abs(current - previous).mean()))
        previous = current
    return float(np.mean(values))


def evaluate_clips(source, outputs, *, max_frames: int | None = None) -> tuple[dict[str, dict[str, float]], TemporalMeter]:
    """Warping error and frame difference of the clip `source` itself ("input") and of each clip in `outputs`
    (stylized versions of it: same frame count, any size; the input is scaled to each output's size for the flow)."""
    import itertools

    import cv2

    from ..errors import VideoError
    from ..video.io import read_frames

    names = ["input", *(str(path) for path in outputs)]
    streams = [read_frames(source), *(read_frames(path) for path in outputs)]
    meter = TemporalMeter()
    count = 0
    for frames in itertools.islice(itertools.zip_longest(*streams), max_frames):
        missing = [name for name, frame in zip(names, frames) if frame is None]
        if missing:
            raise VideoError(f"{missing[0]}: has fewer frames than the others ({count}); compare clips of the same length")
        height, width = frames[1].shape[:2] if len(frames) > 1 else frames[0].shape[:2]
        for name, frame in zip(names[1:], frames[1:]):
            if frame.shape[:2] != (height, width):
                raise VideoError(f"{name}: frames are {frame.shape[1]}x{frame.shape[0]}, the first output's {width}x{height}")
        base = frames[0] if frames[0].shape[:2] == (height, width) else cv2.resize(frames[0], (width, height), interpolation=cv2.INTER_AREA)
        meter.update(base, dict(zip(names, (base, *frames[1:]))))
        count += 1
    if count < 2:
        raise VideoError(f"{source}: needs at least 2 frames to measure stability, got {count}")
    return meter.results(), meter
