"""Temporal stabilisation of a per-frame stylizer with no pretrained network: each output frame is blended with
the previous output, warped to it by the input's optical flow (bicubic), wherever the flow matched (an occlusion
mask), and not at all after a hard cut. The blend carries the style along the motion, so textures stay on the
objects instead of boiling; new content (disocclusions, a cut) takes the fresh stylized frame.
"""

from __future__ import annotations

import numpy as np

from .flow import MotionTracker, warp

BLEND_WEIGHT = 0.8  # share of the warped previous output kept where the flow matched (measured in docs/video.md)


class Stabilizer:
    """Call once per frame with the input frame and its per-frame stylized version; returns the stabilised frame."""

    def __init__(self, weight: float = BLEND_WEIGHT, flow_side: int | None = 640):
        if not 0 <= weight < 1:
            raise ValueError(f"weight must be in [0, 1), got {weight}")
        self.weight = weight
        self.tracker = MotionTracker(flow_side)
        self.previous: np.ndarray | None = None
        self.cuts = 0

    def __call__(self, frame: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """`frame`: the input, uint8 (H, W, 3); `stylized`: float32 (H, W, 3) in [0, 1] -> float32 (H, W, 3)."""
        return self.blend(stylized, self.track(frame))

    def track(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool] | None:
        """The motion from the previous frame to `frame` (`MotionTracker.update`), counting hard cuts."""
        motion = self.tracker.update(frame)
        if motion is not None and motion[2]:
            self.cuts += 1
        return motion

    def blend(self, stylized: np.ndarray, motion: tuple[np.ndarray, np.ndarray, bool] | None) -> np.ndarray:
        """The stylized frame blended with the previous output along `motion` (what `track` found for this frame)."""
        output = stylized
        if motion is not None and self.previous is not None and self.previous.shape == stylized.shape:
            flow, mask, cut = motion
            if not cut:
                warped = warp(self.previous, flow)
                output = stylized + (self.weight * mask)[..., None] * (warped - stylized)
                output = np.clip(output, 0, 1, out=output)
        self.previous = output
        return output
