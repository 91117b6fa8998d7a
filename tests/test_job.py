import json
import threading
import time

import numpy as np
import pytest
from helpers import assert_loads_as_saved
from PIL import Image

from stylegan_hub import StyleGenerator
from stylegan_hub.training import finetune
from stylegan_hub.training.checkpoint import checkpoint_dirs
from stylegan_hub.training.job import FinetuneJob, measure_seconds_per_step


@pytest.fixture
def style_dir(tmp_path):
    folder = tmp_path / "style"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def job_args(style_dir, base, output, steps):
    return finetune.parse_args(
        ["--style-images", str(style_dir), "--base", str(base), "--output-dir", str(output)]
        + ["--steps", str(steps), "--resolution", "32", "--batch-size", "1", "--checkpointing-steps", "100"]
    )


def test_job_reports_progress_and_previews_then_finishes(style_dir, tiny_base, tmp_path):
    photo = Image.new("RGB", (48, 32), (200, 80, 40))
    job = FinetuneJob(job_args(style_dir, tiny_base, tmp_path / "out", 4), preview_photo=photo, preview_every=2).start()
    status = job.wait(120)
    assert status.state == "done", status.error
    assert (status.step, status.total) == (4, 4)
    assert status.preview.size == photo.size and status.preview_step == 4
    assert {"content", "style"} <= set(status.losses) and status.eta == 0
    assert_loads_as_saved(StyleGenerator, status.output_dir)


def test_cancel_stops_after_the_current_step_and_keeps_a_resumable_style(style_dir, tiny_base, tmp_path, monkeypatch):
    reached = threading.Event()
    release = threading.Event()
    real_step = finetune.finetune_step

    def step_then_wait(*args, **kwargs):
        losses = real_step(*args, **kwargs)
        reached.set()
        release.wait(30)
        return losses

    monkeypatch.setattr(finetune, "finetune_step", step_then_wait)
    output = tmp_path / "out"
    job = FinetuneJob(job_args(style_dir, tiny_base, output, 50)).start()
    assert reached.wait(60)
    job.cancel()
    assert job.status().state == "stopping"
    release.set()
    status = job.wait(120)
    assert status.state == "cancelled" and status.step == 1
    record = json.loads((output / "training_args.json").read_text())
    assert (record["steps"], record["planned_steps"]) == (1, 50)
    assert [p.name for p in checkpoint_dirs(output)] == ["checkpoint-1"]  # resumable with --resume latest
    assert_loads_as_saved(StyleGenerator, output)


def test_a_failing_job_reports_its_error(style_dir, tmp_path):
    status = FinetuneJob(job_args(style_dir, tmp_path / "no-such-base", tmp_path / "out", 2)).start().wait(60)
    assert status.state == "failed" and "no-such-base" in status.error


def test_seconds_per_step_is_measured_on_the_real_step(tiny_base, monkeypatch):
    """Guards against a figure that does not follow the step's cost (a constant, or timing something else): the real
    step made slower by a known half second is measured about half a second slower."""
    fast = measure_seconds_per_step(str(tiny_base), resolution=32, batch_size=1)
    real_step = finetune.finetune_step
    monkeypatch.setattr(finetune, "finetune_step", lambda *args, **kwargs: time.sleep(0.5) or real_step(*args, **kwargs))
    slow = measure_seconds_per_step(str(tiny_base), resolution=32, batch_size=1)
    print(f"seconds per step: {fast:.3f}, with half a second more: {slow:.3f}")
    assert 0 < fast < 10 and 0.35 < slow - fast < 0.8


def test_a_step_reported_after_cancel_does_not_undo_stopping(style_dir, tiny_base, tmp_path):
    """A step can end between cancel() and its own status update; the job must still say it is stopping."""
    job = FinetuneJob(job_args(style_dir, tiny_base, tmp_path / "out", 5))  # not started: only its status matters
    job.cancel()
    job._update(state="running", step=3)
    assert (job.status().state, job.status().step) == ("stopping", 3)
