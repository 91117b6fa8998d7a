"""Video: reading and writing clips (audio, frame rate, duration, rotation kept; bad input refused with one line
and nothing half-written), optical flow on clips with known motion, stabilisation, the warping error, the
`stylize`/`eval-video` commands and scale-out batch stylizing. Tiny clips, few frames, tiny models."""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from stylegan_hub import StyleGenerator, VideoError, stylize_video
from stylegan_hub.metrics.temporal import TemporalMeter, frame_difference, warping_error
from stylegan_hub.video import Cancelled, probe, read_frames, transcode
from stylegan_hub.video.clips import PAN_STEP, clip_frames, make_clip, write_clip
from stylegan_hub.video.flow import FlowEstimator, to_gray
from stylegan_hub.video.stylize import FrameStylizer

REPO = Path(__file__).resolve().parent.parent
SIZE = (96, 64)


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    model = StyleGenerator(base_channels=4, num_res_blocks=1).eval()
    with torch.no_grad():  # a non-trivial mapping whose output depends on the content
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 12-frame pan with a sound track."""
    return make_clip("pan", tmp_path_factory.mktemp("clips") / "pan.mp4", size=SIZE, frames=12, fps=12, audio=True)


def audio_packets(path):
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# ---- reading and writing ---------------------------------------------------------------------------------------


def test_transcode_keeps_frame_rate_duration_and_audio(clip, tmp_path):
    out = tmp_path / "out.mp4"
    assert transcode(clip, out, lambda frame: 255 - frame) == 12
    before, after = probe(clip), probe(out)
    assert (after.width, after.height, after.fps, after.frames) == (before.width, before.height, before.fps, 12)
    assert after.duration == pytest.approx(before.duration, abs=1e-3)
    assert after.audio == "aac" and audio_packets(out) == audio_packets(clip)  # the sound is copied untouched
    inverted = [255 - f.astype(int) for f in read_frames(clip)]
    assert np.abs(np.stack(inverted) - np.stack(list(read_frames(out)))).mean() < 3  # the frames went through `process`


def test_audio_the_container_cannot_hold_is_reencoded(tmp_path):
    source = tmp_path / "pcm.mkv"
    with av.open(str(source), "w") as container:  # H.264 with 16-bit PCM sound, which MP4 does not hold
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        sound = container.add_stream("pcm_s16le", rate=8000)
        sound.layout = "mono"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, np.uint8), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 4000), np.int16), format="s16", layout="mono")
        chunk.sample_rate, chunk.pts = 8000, 0
        container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
    out = transcode(source, tmp_path / "out.mp4", lambda f: f) and probe(tmp_path / "out.mp4")
    assert out.audio == "aac"


def test_rotated_clip_comes_out_upright(tmp_path):
    frames = list(clip_frames("object", size=SIZE, frames=3))
    stored = write_clip(tmp_path / "portrait.mp4", frames, rotation=90)  # stored turned, with a display matrix
    info = probe(stored)
    assert info.rotation == 90 and (info.width, info.height) == SIZE
    upright = list(read_frames(stored))
    assert upright[0].shape == (SIZE[1], SIZE[0], 3)
    error = np.abs(upright[0].astype(int) - frames[0]).mean()
    assert error < 8 < np.abs(upright[0].astype(int) - frames[0][::-1, ::-1]).mean()  # as shot, not upside down
    transcode(stored, tmp_path / "out.mp4", lambda f: f)
    out = probe(tmp_path / "out.mp4")
    assert (out.width, out.height, out.rotation) == (*SIZE, 0)


def test_frames_are_encoded_while_the_next_is_processed_and_may_reuse_one_buffer(clip, tmp_path, monkeypatch):
    """Encoding runs on a worker thread beside `process`; a `process` that returns the same array each time (as a
    preallocated pipeline would) must still get each frame written as it was when returned, however slow the
    encoder."""
    from stylegan_hub.video import io

    encode = io._write_video
    monkeypatch.setattr(io, "_write_video", lambda *args: (time.sleep(0.02), encode(*args)))
    buffer = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
    threads = set()

    def process(frame):
        threads.add(threading.current_thread().name)
        np.subtract(255, frame, out=buffer)
        return buffer

    assert transcode(clip, tmp_path / "out.mp4", process) == 12
    inverted = np.stack([255 - f.astype(int) for f in read_frames(clip)])
    assert np.abs(inverted - np.stack(list(read_frames(tmp_path / "out.mp4")))).mean() < 3
    assert threads == {threading.current_thread().name}  # process runs on the caller's thread


def test_max_side_and_max_seconds(clip, tmp_path):
    assert transcode(clip, tmp_path / "small.mp4", lambda f: f, max_side=48, max_seconds=0.5) == 6
    small = probe(tmp_path / "small.mp4")
    assert (small.width, small.height) == (48, 32)


def test_cancel_stops_and_writes_nothing(clip, tmp_path):
    cancel = threading.Event()

    def progress(done, total):
        if done == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        transcode(clip, tmp_path / "out.mp4", lambda f: f, progress=progress, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def audio_only(path):
    with av.open(str(path), "w") as container:
        sound = container.add_stream("aac", rate=8000)
        sound.layout = "mono"
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = 8000, 0
        container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
    return path


def unsupported_codec(path, tmp_path):
    """An AVI whose video stream claims a codec FFmpeg does not know (the FourCC patched)."""
    write = tmp_path / "mpeg4.avi"
    with av.open(str(write), "w") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    data = write.read_bytes()
    assert b"FMP4" in data
    path.write_bytes(data.replace(b"FMP4", b"QQQQ"))
    return path


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p, clip, tmp: p, "no such file"),
        (lambda p, clip, tmp: p.write_bytes(os.urandom(3000)) and p, "not a readable video"),
        (lambda p, clip, tmp: p.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2]) and p, "corrupt or truncated"),
        (lambda p, clip, tmp: audio_only(p.with_suffix(".m4a")), "has no video stream"),
        (lambda p, clip, tmp: unsupported_codec(p.with_suffix(".avi"), tmp), "codec is not supported"),
    ],
    ids=["missing", "corrupt", "truncated", "no-video-stream", "unsupported-codec"],
)
def test_bad_input_is_one_line_and_nothing_is_written(clip, tmp_path, generator, make, words):
    source = make(tmp_path / "bad.mp4", clip, tmp_path)
    out = tmp_path / "out" / "styled.mp4"
    with pytest.raises(VideoError, match=words) as caught:
        stylize_video(generator, source, out)
    message = str(caught.value)
    assert "\n" not in message and str(source) in message
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_existing_output_is_refused_unless_overwrite(clip, tmp_path, generator):
    out = tmp_path / "styled.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(VideoError, match="already exists; pass --overwrite"):
        stylize_video(generator, clip, out)
    assert out.read_bytes() == b"keep me"
    stylize_video(generator, clip, out, overwrite=True, max_seconds=0.25)
    assert probe(out).frames == 3
    with pytest.raises(VideoError, match="cannot write video as .gif"):
        stylize_video(generator, clip, tmp_path / "styled.gif")
    (tmp_path / "folder.mp4").mkdir()
    with pytest.raises(VideoError, match="is a folder; give a file name"):
        stylize_video(generator, clip, tmp_path / "folder.mp4", overwrite=True)


def test_full_disk_leaves_nothing(clip, tmp_path):
    """A file-size limit makes writes fail as on a full disk (EFBIG, like ENOSPC)."""
    script = f"""
import resource, signal, sys
from stylegan_hub.video import transcode
from stylegan_hub.errors import VideoError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))
try:
    transcode({str(clip)!r}, {str(tmp_path / 'out.mp4')!r}, lambda f: f)
except VideoError as error:
    print(error)
    sys.exit(3)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "the disk is full" in done.stdout and "nothing was kept" in done.stdout
    assert list(tmp_path.iterdir()) == []


# ---- flow, stabilisation, the warping error --------------------------------------------------------------------


def test_flow_finds_the_known_pan():
    first, second = (to_gray(f) for f in clip_frames("pan", size=(192, 128), frames=2))
    flow = FlowEstimator()(second, first)
    inner = flow[16:-16, 16:-16]
    assert np.median(inner[..., 0]) == pytest.approx(PAN_STEP * 192, abs=0.15)  # frame t at x shows t-1 at x + step
    assert np.median(np.abs(inner[..., 1])) < 0.15


def test_warping_error_measures_flicker_not_motion():
    frames = list(clip_frames("pan", size=SIZE, frames=6))
    assert warping_error(frames, frames) < 1e-3  # moving content that follows the flow is stable (a tiny clip: 2e-4)
    flicker = [np.clip(f / 255 + (0.1 if i % 2 else 0), 0, 1) for i, f in enumerate(frames)]
    assert warping_error(frames, flicker) == pytest.approx(0.01, rel=0.3)  # brightness jumping by 0.1: 0.1 squared
    assert frame_difference([np.zeros((4, 4, 3)), np.full((4, 4, 3), 0.5)]) == pytest.approx(0.5)


def test_pairs_across_a_hard_cut_are_left_out():
    meter = TemporalMeter()
    for frame in clip_frames("cut", size=SIZE, frames=6):
        meter.update(frame, {"input": frame})
    assert meter.cuts == 1 and meter.results()["input"]["pairs"] == 4


@pytest.mark.parametrize("work_side", [None, 48])
def test_stabilisation_removes_flicker_and_restarts_at_a_cut(generator, work_side):
    """With a work side, the stabiliser runs on the small frames, before guided upsampling."""
    frames = list(clip_frames("cut", size=SIZE, frames=8))
    plain, steady = FrameStylizer(generator, stabilize=False, work_side=work_side), FrameStylizer(generator, work_side=work_side)
    per_frame = [plain(f) for f in frames]
    stabilised = [steady(f) for f in frames]
    assert stabilised[0].shape == frames[0].shape
    assert max(steady.stabilizer.previous.shape[:2]) == (work_side or max(SIZE))
    first_shot = slice(0, 4)
    assert warping_error(frames[first_shot], stabilised[first_shot]) < 0.5 * warping_error(frames[first_shot], per_frame[first_shot])
    assert steady.cuts == 1
    assert np.array_equal(stabilised[4], per_frame[4])  # after the cut nothing of the old shot is blended in
    assert not np.array_equal(stabilised[3], per_frame[3])


@pytest.mark.parametrize("stabilize", [False, True])
def test_a_palette_model_keeps_each_shots_first_palette_until_the_cut(stabilize, monkeypatch):
    """Chosen per frame, the palette jumps between frames of one shot and its colours flicker. The model is the
    identity snapped to 6 colours (a residual output starts at the photo), so each frame's own palette is its own."""
    palette_model = StyleGenerator(base_channels=4, num_res_blocks=1, residual_output=True, palette_colors=6).eval()
    frames = list(clip_frames("cut", size=SIZE, frames=8))
    stylizer = FrameStylizer(palette_model, stabilize=stabilize, precision="float32")
    chosen = []
    palette_of = StyleGenerator.palette_of
    monkeypatch.setattr(StyleGenerator, "palette_of", lambda self, photo: chosen.append(1) or palette_of(self, photo))
    styled = [stylizer(f) for f in frames]
    monkeypatch.undo()

    def colours(image) -> set:
        return set(map(tuple, np.asarray(image).reshape(-1, 3)))

    def own(frame: np.ndarray) -> np.ndarray:
        return np.asarray(palette_model.stylize(frame.copy(), precision="float32"))

    assert stylizer.cuts == 1 and len(chosen) == 2  # one palette for each shot
    assert np.array_equal(styled[0], own(frames[0])) and np.array_equal(styled[4], own(frames[4]))  # nothing blended in
    if not stabilize:  # the blend mixes colours; without it every frame shows only its shot's first palette
        assert all(colours(s) <= colours(styled[0]) for s in styled[:4]) and all(colours(s) <= colours(styled[4]) for s in styled[4:])
        assert all(colours(own(f)) != colours(styled[0]) for f in frames[1:4])  # the frames' own palettes differ


def test_stabilised_pan_of_real_footage_is_far_steadier_with_a_shipped_style():
    """Through H.264, fine texture resampled at a sub-pixel shift differs pixel by pixel where the flow is right;
    brightness is compared after a blur, or those pixels would restart from the flickering per-frame output."""
    frames = list(clip_frames("pan", size=(480, 270), frames=8))
    with __import__("tempfile").TemporaryDirectory() as scratch:
        frames = list(read_frames(write_clip(Path(scratch) / "pan.mp4", frames)))
    generator = StyleGenerator.from_pretrained("builtin:oil")
    plain, steady = FrameStylizer(generator, stabilize=False), FrameStylizer(generator).stabilizer
    meter = TemporalMeter()
    for frame in frames:
        styled = plain.stylize(frame)
        meter.update(frame, {"per-frame": styled, "stabilised": steady(frame, styled.copy())})
    results = meter.results()
    assert results["stabilised"]["warping_error"] < 0.1 * results["per-frame"]["warping_error"]  # measured: 0.03


@pytest.mark.parametrize("work_side", [None, 32])
def test_stylize_video_matches_the_image_path_on_the_first_frame(clip, tmp_path, generator, work_side):
    report = stylize_video(generator, clip, tmp_path / "styled.mp4", stabilize=False, work_side=work_side)
    assert report.frames == 12 and report.path.is_file()
    first = next(read_frames(clip))
    expected = np.asarray(generator.stylize(first.copy(), work_side=work_side))
    written = next(read_frames(report.path))
    assert written.shape == first.shape
    assert np.abs(written.astype(int) - expected).mean() < 3  # H.264 loses a little
    if work_side:  # it did stylize small: the full-size result differs
        assert np.abs(written.astype(int) - np.asarray(generator.stylize(first.copy()))).mean() > 3


# ---- the command line ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_dir(generator, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-style")
    generator.save_pretrained(directory)
    return directory


def test_cli_stylizes_a_clip_and_eval_video_measures_it(clip, tmp_path, model_dir, capsys):
    from stylegan_hub.cli import main

    steady, plain = tmp_path / "steady.mp4", tmp_path / "plain.mp4"
    assert main(["stylize", "--model", str(model_dir), str(clip), "-o", str(steady)]) == 0
    assert main(["stylize", "--model", str(model_dir), str(clip), "-o", str(plain), "--no-stabilize"]) == 0
    assert probe(steady).frames == 12 and probe(steady).audio == "aac"
    capsys.readouterr()
    assert main(["stylize", "--model", str(model_dir), str(clip), "-o", str(steady)]) == 1  # exists: refused
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert main(["stylize", "--model", str(model_dir), str(clip), "-o", str(steady), "--overwrite"]) == 0

    assert main(["eval-video", "--input", str(clip), str(plain), str(steady), "--output", str(tmp_path / "scores.json")]) == 0
    printed = capsys.readouterr().out
    assert "12 frames, 11 pairs measured" in printed and "warping error (x1e-3)" in printed
    scores = __import__("json").loads((tmp_path / "scores.json").read_text())["results"]
    assert set(scores) == {"input", str(plain), str(steady)}
    assert scores[str(steady)]["warping_error"] < scores[str(plain)]["warping_error"]  # (through H.264: ratio in docs)


def test_eval_video_refuses_clips_of_different_lengths(clip, tmp_path, capsys):
    from stylegan_hub.cli import main

    short = tmp_path / "short.mp4"
    transcode(clip, short, lambda f: f, max_seconds=0.5)
    assert main(["eval-video", "--input", str(clip), str(short)]) == 1
    assert "has fewer frames than the others (6)" in capsys.readouterr().err


def photos_and_a_clip(directory: Path, clip: Path) -> Path:
    from PIL import Image

    directory.mkdir()
    for i, frame in enumerate(clip_frames("zoom", size=(40, 32), frames=5)):
        Image.fromarray(frame).save(directory / f"photo{i}.png")
    (directory / "clip.mp4").write_bytes(clip.read_bytes())
    return directory


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_two(arguments: list[str]) -> subprocess.CompletedProcess:
    """`accelerate launch` with 2 CPU processes. A free port can be taken by someone else between choosing it and
    the launcher binding it; that (and only that) failure is retried on a new port."""
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    for _ in range(4):
        command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
        command += ["--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port())]
        done = subprocess.run([*command, "-m", "stylegan_hub.cli", *arguments], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        if not any(sign in done.stderr for sign in ("Address already in use", "EADDRINUSE", "errno: 98")):
            return done
    return done


def test_two_processes_write_each_input_once_as_one_process_does(clip, tmp_path, model_dir, capsys):
    from stylegan_hub.cli import main

    inputs = photos_and_a_clip(tmp_path / "in", clip)
    single, shared = tmp_path / "single", tmp_path / "shared"
    assert main(["stylize", "--model", str(model_dir), "--output-dir", str(single), str(inputs / "*.png"), str(inputs / "clip.mp4")]) == 0
    assert re.search(r"6 of 6 file\(s\) written to .* \([\d.]+ images/s\)$", capsys.readouterr().err.strip())
    arguments = ["stylize", "--model", str(model_dir), "--output-dir", str(shared), str(inputs / "*.png"), str(inputs / "clip.mp4")]
    done = launch_two(arguments)
    assert done.returncode == 0, done.stderr[-3000:]
    # The two processes print at the same moment into one pipe, so their lines may interleave: search, not split.
    reports = re.findall(r"process (\d) of 2: (\d+) written, \d+ skipped, \d+ failed in [\d.]+ s \([\d.]+ images/s\)", done.stderr)
    assert sorted(reports) == [("0", "3"), ("1", "3")], done.stderr[-3000:]  # 6 inputs, each once
    assert "6 of 6 file(s) written" in done.stderr
    names = sorted(p.name for p in single.iterdir())
    assert names == sorted(p.name for p in shared.iterdir()) and len(names) == 6  # no temporary files left either
    for name in names:
        assert (single / name).read_bytes() == (shared / name).read_bytes(), name

    (shared / "photo3.png").unlink()  # as if that process had been stopped before it
    again = launch_two([*arguments, "--skip-existing"])
    assert again.returncode == 0, again.stderr[-3000:]
    assert "1 of 6 file(s) written" in again.stderr and "(5 already there, skipped)" in again.stderr
    assert (shared / "photo3.png").read_bytes() == (single / "photo3.png").read_bytes()


# ---- the app's Video tab ---------------------------------------------------------------------------------------


@pytest.fixture
def client(served):
    from gradio_client import Client

    return Client(served, verbose=False)


def video_path(value) -> str:
    return value["video"] if isinstance(value, dict) and "video" in value else value["path"] if isinstance(value, dict) else value


def test_app_previews_the_first_seconds_with_sound(client, tmp_path):
    from gradio_client import handle_file

    clip = make_clip("object", tmp_path / "holiday.mp4", size=SIZE, frames=30, fps=12, audio=True)  # 2.5 s
    progress, result = client.predict(handle_file(str(clip)), "builtin:oil", 1.0, False, True, api_name="/video_preview")
    info = probe(video_path(result))
    assert info.frames == 24 and info.fps == 12 and info.audio == "aac"  # the first 2 s, with their sound
    assert 'data-state="done"' in progress and "Done: 24 frames" in progress


def test_app_refuses_a_clip_over_the_cap_naming_it(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    long = write_clip(tmp_path / "long-holiday.mp4", (np.full((32, 32, 3), i % 255, np.uint8) for i in range(62)), fps=1)
    with pytest.raises(AppError, match=r"long-holiday\.mp4: 62 s long; clips here are up to 60 s"):
        client.predict(handle_file(str(long)), "builtin:oil", 1.0, False, True, api_name="/video_preview")
    broken = tmp_path / "broken-holiday.mp4"
    broken.write_bytes(os.urandom(2000))
    with pytest.raises(AppError, match=r"broken-holiday\.mp4: not a readable video"):
        client.predict(handle_file(str(broken)), "builtin:oil", 1.0, False, True, api_name="/stylize_video")


def test_app_cancel_stops_the_whole_clip(client, tmp_path):
    from gradio_client import handle_file

    clip = make_clip("pan", tmp_path / "long-pan.mp4", size=(192, 128), frames=720, fps=24)  # 30 s: far from done when cancelled
    job = client.submit(handle_file(str(clip)), "builtin:oil", 1.0, False, True, api_name="/stylize_video")
    for update in job:
        if 'data-state="running"' in update[0] and 'data-done="0"' not in update[0]:
            client.predict(api_name="/cancel_video")
            break
    job.result(timeout=120)
    final = job.outputs()[-1]
    assert 'data-state="cancelled"' in final[0] and final[1] is None
