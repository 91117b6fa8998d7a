"""Classical optical flow (OpenCV's DIS, Kroeger et al. 2016; no pretrained network) and what stabilisation and the
warping error need from it: warping by a flow, an occlusion mask, and hard-cut detection.

Convention: `flow` of frame t is the backward flow, from t to t-1, so frame t at x shows what frame t-1 showed at
x + flow(x); warping frame t-1 (or its stylized version) by it lines it up with frame t.
"""

from __future__ import annotations

import cv2
import numpy as np

# Consistency check of the forward and backward flows (Sundaram et al. 2010, as Ruder et al. 2016 use for video
# style transfer): a pixel is visible in both frames when the two flows cancel out up to this tolerance.
CONSISTENCY_SCALE, CONSISTENCY_PIXELS = 0.01, 0.5
PHOTOMETRIC_TOLERANCE = 0.1  # a matched pixel whose brightness differs by more (of the range) counts as not matched
PHOTOMETRIC_BLUR = 3.0  # pixels (Gaussian sigma) of blur before brightness is compared
CUT_MATCHED_SHARE = 0.4  # fewer matched pixels than this between two frames: a hard cut


def to_gray(frame: np.ndarray, side: int | None = None) -> np.ndarray:
    """uint8 grey of an RGB frame (H, W, 3), fitted into `side` pixels when it is larger (area averaging)."""
    gray = cv2.cvtColor(frame if frame.dtype == np.uint8 else _to_uint8(frame), cv2.COLOR_RGB2GRAY)
    height, width = gray.shape
    if side is not None and max(height, width) > side:
        scale = side / max(height, width)
        gray = cv2.resize(gray, (max(8, round(width * scale)), max(8, round(height * scale))), interpolation=cv2.INTER_AREA)
    return gray


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    return (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)


class FlowEstimator:
    """DIS optical flow between greyscale frames (preset MEDIUM: sub-pixel accurate on the test clips)."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM):
        self._dis = cv2.DISOpticalFlow_create(preset)

    def __call__(self, frame: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) float32 from `frame` to `reference`: frame(x) ≈ reference(x + flow(x))."""
        return self._dis.calc(frame, reference, None)


def warp(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_CUBIC) -> np.ndarray:
    """`image` sampled at x + flow(x) (bicubic by default; edges repeat), the same size as `flow`."""
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], interpolation, borderMode=cv2.BORDER_REPLICATE)


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A flow field resized to (width, height), its vectors scaled with it."""
    height, width = flow.shape[:2]
    resized = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
    resized[..., 0] *= size[0] / width
    resized[..., 1] *= size[1] / height
    return resized


def consistent(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Pixels of frame t whose backward flow is undone by the forward flow where it lands (bool (H, W)); the rest
    are occluded or disoccluded between the frames, or the flow is wrong there."""
    returned = warp(forward, backward, cv2.INTER_LINEAR)
    error = np.square(backward + returned).sum(-1)
    allowed = CONSISTENCY_SCALE * (np.square(backward).sum(-1) + np.square(returned).sum(-1)) + CONSISTENCY_PIXELS
    height, width = backward.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width), np.arange(height))
    inside = (grid_x + backward[..., 0] >= 0) & (grid_x + backward[..., 0] <= width - 1)
    inside &= (grid_y + backward[..., 1] >= 0) & (grid_y + backward[..., 1] <= height - 1)
    return (error <= allowed) & inside


def match(flow: FlowEstimator, gray: np.ndarray, previous: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(backward flow, consistent mask, matched mask) of grey frame `gray` against the one before: consistent =
    the forward and backward flows agree (not occluded); matched = consistent and of similar brightness."""
    backward, forward = flow(gray, previous), flow(previous, gray)
    agreed = consistent(backward, forward)
    # Brightness is compared after a blur: fine texture resampled at a sub-pixel shift differs a lot pixel by pixel
    # even where the flow is right, while what the check is for (occlusions, a changed scene) is larger.
    blurred = [cv2.GaussianBlur(image.astype(np.float32), (0, 0), PHOTOMETRIC_BLUR) for image in (gray, previous)]
    difference = np.abs(warp(blurred[1], backward, cv2.INTER_LINEAR) - blurred[0]) / 255
    return backward, agreed, agreed & (difference <= PHOTOMETRIC_TOLERANCE)


def is_cut(matched: np.ndarray) -> bool:
    """Whether two frames are across a hard cut: too few of their pixels match."""
    return bool(matched.mean() < CUT_MATCHED_SHARE)


class MotionTracker:
    """Follows a clip frame by frame: for each new frame, the backward flow to the previous one and the mask of
    pixels matched in it (consistent flows and similar colours), at a working size of at most `side` pixels."""

    def __init__(self, side: int | None = 640):
        self.side = side
        self.flow = FlowEstimator()
        self.previous: np.ndarray | None = None

    def reset(self) -> None:
        self.previous = None

    def update(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool] | None:
        """(backward flow, matched mask in [0, 1], cut?) at the frame's own size; None for the first frame."""
        gray = to_gray(frame, self.side)
        previous, self.previous = self.previous, gray
        if previous is None or previous.shape != gray.shape:
            return None
        backward, _, matched = match(self.flow, gray, previous)
        cut = is_cut(matched)
        height, width = frame.shape[:2]
        if gray.shape != (height, width):
            backward = resize_flow(backward, (width, height))
            mask = cv2.resize(matched.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        else:
            mask = matched.astype(np.float32)
        return backward, mask, bool(cut)
