"""Read and write video files with PyAV (FFmpeg's libraries, shipped in its wheel; nothing is downloaded).

Frames stream through one at a time, so memory does not grow with the clip's length. Frames come out upright (the
stream's rotation is applied), as 8-bit RGB arrays (H, W, 3). The writer keeps the input's timestamps (so frame rate
and duration are kept) and its audio track (copied as it is where the output container takes it, else re-encoded to
AAC), and writes to a hidden temporary file next to the target that is renamed over it only once complete: a
failure, a full disk or a cancel never leaves a partial file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import VideoError

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})
"""Suffixes treated as video inputs (any container FFmpeg reads works when named directly as a clip)."""
OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
"""Output suffixes, all written as H.264 (yuv420p)."""
_REMUXABLE_AUDIO = {"mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}, "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le"}}
_DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def is_video_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoInfo:
    """What a clip holds; `width` and `height` are upright (after rotation)."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frames: int  # from the container, or estimated from the duration
    duration: float  # seconds
    rotation: int  # degrees counter-clockwise the stored frames are turned for display
    codec: str
    audio: str | None  # the audio codec, or None


def _open(path: Path):
    import av

    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as error:
        raise VideoError(f"{path}: not a readable video (corrupt or truncated: {_reason(error)})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: has no video stream (only {_kinds(container)}); give a video file")
    stream = container.streams.video[0]
    if stream.codec_context is None or stream.codec_context.name in (None, "none"):
        container.close()
        raise VideoError(f"{path}: its video codec is not supported (FFmpeg cannot decode it); convert it to H.264 first")
    return container


def _kinds(container) -> str:
    kinds = sorted({stream.type for stream in container.streams})
    return ", ".join(kinds) if kinds else "no streams"


def _reason(error: Exception) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return str(text).splitlines()[0]


def probe(path: str | os.PathLike) -> VideoInfo:
    """Size, frame rate, length, rotation and codecs of a clip, reading its first frame; VideoError if unusable."""
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        first = _first_frame(container, path)
        rotation = int(first.rotation) % 360 if first is not None else 0
        width, height = (stream.codec_context.width, stream.codec_context.height)
        if rotation in (90, 270):
            width, height = height, width
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frames = stream.frames or round(duration * fps)
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        return VideoInfo(path, width, height, Fraction(fps), int(frames), duration, rotation, stream.codec_context.name, audio)
    finally:
        container.close()


def _first_frame(container, path: Path):
    import av

    try:
        for frame in container.decode(video=0):
            return frame
    except av.error.FFmpegError as error:
        raise VideoError(f"{path}: cannot decode its first frame (corrupt or truncated: {_reason(error)})") from None
    raise VideoError(f"{path}: its video stream has no frames (empty or truncated)")


def _to_array(frame, max_side: int | None) -> np.ndarray:
    """An upright RGB array of `frame`, fitted into `max_side` (of the upright picture) when given."""
    width, height = frame.width, frame.height
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = max(2, round(width * scale)), max(2, round(height * scale))
    array = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
    turns = (int(frame.rotation) // 90) % 4
    return np.ascontiguousarray(np.rot90(array, turns)) if turns else array


def read_frames(path: str | os.PathLike, *, max_side: int | None = None, max_seconds: float | None = None) -> Iterator[np.ndarray]:
    """The clip's frames, upright, as uint8 RGB arrays (H, W, 3), one at a time."""
    path = Path(path)
    for kind, array, _ in _demux(path, max_side=max_side, max_seconds=max_seconds, audio=False):
        if kind == "video":
            yield array


def _demux(path: Path, *, max_side: int | None, max_seconds: float | None, audio: bool):
    """("start", the audio stream or None, None) first, then ("video", frame array, the decoded frame) and, with
    `audio`, ("audio", packet, None), in file order."""
    import av

    container = _open(path)
    try:
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        streams = [video, *(container.streams.audio[:1] if audio else ())]
        yield "start", streams[1] if len(streams) > 1 else None, None
        count = 0
        try:
            for packet in container.demux(streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None and (max_seconds is None or float(packet.dts * packet.time_base) < max_seconds):
                        yield "audio", packet, None
                    continue
                for frame in packet.decode():
                    seconds = float(frame.pts * frame.time_base) if frame.pts is not None else count / float(video.average_rate or 25)
                    if max_seconds is not None and count and seconds >= max_seconds:
                        return
                    count += 1
                    yield "video", _to_array(frame, max_side), frame
        except av.error.FFmpegError as error:
            raise VideoError(f"{path}: cannot decode frame {count + 1} (corrupt or truncated: {_reason(error)})") from None
        if count == 0:
            raise VideoError(f"{path}: its video stream has no frames (empty or truncated)")
    finally:
        container.close()


def check_output(dst: str | os.PathLike, *, overwrite: bool) -> Path:
    """The output path, once it is known to be writable as a video: a known suffix, and not there unless `overwrite`."""
    dst = Path(dst)
    if dst.suffix.lower() not in OUTPUT_FORMATS:
        raise VideoError(f"{dst}: cannot write video as {dst.suffix or 'a file without a suffix'}; use one of {', '.join(sorted(OUTPUT_FORMATS))}")
    if dst.is_dir():
        raise VideoError(f"{dst}: is a folder; give a file name such as {dst / 'styled.mp4'}")
    if dst.exists() and not overwrite:
        raise VideoError(f"{dst}: already exists; pass --overwrite (overwrite=True) to replace it, or choose another name")
    return dst


class _Writer:
    """Runs the output's encodes and muxes on one worker thread, in the order they are given: encoding frame k
    overlaps stylizing frame k+1 (FFmpeg and torch both release the GIL). At most `depth` writes wait, which bounds
    memory; a write's error is raised by a later `put` or by `finish`."""

    def __init__(self, depth: int = 2):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="video-writer")
        self._pending: deque[Future] = deque()
        self._depth = depth

    def put(self, write: Callable, *args) -> None:
        self._pending.append(self._pool.submit(write, *args))
        while len(self._pending) > self._depth or (self._pending and self._pending[0].done()):
            self._pending.popleft().result()

    def finish(self) -> None:
        """Wait for every write given so far (raising the first error)."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Stop: writes not started are dropped, a running one is waited for (the container closes after it)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class Cancelled(Exception):
    """Raised inside `transcode` when its `cancel` event is set; nothing is written."""


def transcode(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    process: Callable[[np.ndarray], np.ndarray],
    *,
    overwrite: bool = False,
    max_side: int | None = None,
    max_seconds: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel=None,
    crf: int = 18,
) -> int:
    """Decode `src`, pass each upright RGB frame through `process` (same size in, same size out), encode the results
    to `dst` as H.264 with the input's timestamps and audio; returns the number of frames written.

    `max_side` fits frames into that many pixels before `process`; `max_seconds` stops after that much of the clip;
    `progress(done, total)` is called after each frame; setting the `cancel` event (threading.Event) stops at the
    next frame and raises `Cancelled`. Odd widths or heights lose their last column or row (H.264 needs even sides).
    """
    import av

    src, dst = Path(src), check_output(dst, overwrite=overwrite)
    info = probe(src)
    total = info.frames if max_seconds is None else min(info.frames, max(1, round(max_seconds * float(info.fps))))
    dst.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(delete=False, dir=dst.parent, prefix=f".{dst.name}.", suffix=dst.suffix)
    handle.close()
    tmp = Path(handle.name)
    written = 0
    try:
        output = av.open(str(tmp), "w", format=OUTPUT_FORMATS[dst.suffix.lower()])
        writer = _Writer()
        try:
            video_out = audio_out = decoder = audio_in = None
            waiting: list = []  # audio before the first video frame: every stream must exist before the first write
            for kind, item, frame in _demux(src, max_side=max_side, max_seconds=max_seconds, audio=info.audio is not None):
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                if kind == "start":
                    audio_in = item
                    continue
                if kind == "audio":
                    if audio_out is None:
                        waiting.append(item)
                    else:
                        writer.put(_write_audio, output, audio_out, decoder, item)
                    continue
                result = process(item)
                if video_out is None:
                    video_out = _add_video(output, result, frame, info, crf)
                    if audio_in is not None:
                        audio_out, decoder = _add_audio(output, audio_in)
                writer.put(_write_video, output, video_out, _video_frame(video_out, result, frame))
                for packet in waiting:
                    writer.put(_write_audio, output, audio_out, decoder, packet)
                waiting.clear()
                written += 1
                if progress is not None:
                    progress(written, max(total, written))
            if video_out is not None:
                writer.put(_flush, output, video_out)
            if audio_out is not None and decoder is not None:
                writer.put(_flush, output, audio_out)
            writer.finish()
        finally:
            writer.close()
            output.close()
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dst)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if error.errno in _DISK_FULL:
            raise VideoError(f"{dst}: the disk is full (wrote {written} frames); free some space or write elsewhere; nothing was kept") from None
        raise VideoError(f"{dst}: cannot write ({_reason(error)}); nothing was kept") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _add_video(output, first: np.ndarray, frame, info: VideoInfo, crf: int):
    height, width = first.shape[:2]
    stream = output.add_stream("libx264", rate=info.fps)
    stream.width, stream.height = width - width % 2, height - height % 2
    stream.pix_fmt = "yuv420p"
    # The same frames always give the same file (so a batch split across processes writes what one process would):
    # x264's macroblock tree makes the bitstream vary from run to run here, so it is off, with one encoder thread;
    # encoding is a small share of the time next to the generator.
    stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1", "x264-params": "no-mbtree=1"}
    stream.codec_context.time_base = frame.time_base  # the input's timestamps are written as they are
    stream.time_base = frame.time_base
    return stream


def _video_frame(stream, result: np.ndarray, frame):
    """The processed frame as a PyAV frame with the input's timestamp (a copy: `process` may reuse its array)."""
    import av

    array = np.ascontiguousarray(result[: stream.height, : stream.width])
    out = av.VideoFrame.from_ndarray(array, format="rgb24")
    out.pts, out.time_base = frame.pts, frame.time_base
    return out


def _write_video(output, stream, out) -> None:
    output.mux(stream.encode(out))


def _flush(output, stream) -> None:
    output.mux(stream.encode(None))


def _add_audio(output, stream):
    """A copy of the input's audio stream where the container takes its codec (returns (stream, None)); else an AAC
    encoder (returns (stream, (decoder, resampler)))."""
    import av

    context = stream.codec_context
    format_name = output.format.name
    if format_name == "matroska" or context.name in _REMUXABLE_AUDIO.get(format_name, set()):
        return output.add_stream_from_template(stream), None
    channels = context.layout.nb_channels  # the usual layout for that many channels (a file may leave it unnamed)
    layout = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}.get(channels, "stereo")
    audio = output.add_stream("aac", rate=context.sample_rate, layout=layout, format="fltp")
    return audio, (context, av.AudioResampler(format="fltp", layout=layout, rate=context.sample_rate))


def _write_audio(output, audio_out, decoder, packet) -> None:
    if decoder is None:
        packet.stream = audio_out
        output.mux(packet)
        return
    context, resampler = decoder
    for frame in context.decode(packet):
        for chunk in resampler.resample(frame):
            chunk.pts = None
            output.mux(audio_out.encode(chunk))
