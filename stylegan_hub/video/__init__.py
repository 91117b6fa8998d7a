"""Video: read and write clips (io), optical flow and stabilisation (flow, stabilize), stylize a clip (stylize),
and test clips with known motion (clips)."""

from .io import VIDEO_EXTENSIONS, Cancelled, VideoInfo, is_video_path, probe, read_frames, transcode
from .stylize import FrameStylizer, VideoReport, stylize_video

__all__ = [
    "VIDEO_EXTENSIONS",
    "Cancelled",
    "FrameStylizer",
    "VideoInfo",
    "VideoReport",
    "is_video_path",
    "probe",
    "read_frames",
    "stylize_video",
    "transcode",
]
