"""A fine-tune running in a background thread, observable and cancellable: what the app's Fine-tune tab drives.

The training loop is the same `training.finetune.main` as the CLI's; the job only watches it through the loop's
`on_step` hook (step, losses, ETA, a preview of the style on a fixed photo) and asks it to stop when cancelled. A
cancelled fine-tune still checkpoints and saves the style as it is, so nothing learned is lost.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..inference import stylize
from . import finetune
from .config import FinetuneConfig
from .run import TrainingRun


@dataclass
class JobStatus:
    state: str  # "starting", "running", "stopping", "done", "cancelled" or "failed"
    step: int = 0
    total: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    eta: float | None = None
    preview: Image.Image | None = None
    preview_step: int = 0
    error: str | None = None
    output_dir: Path | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")


class FinetuneJob:
    """Run the fine-tune `config` describes in a thread; poll `status()`, stop it with `cancel()`.

    `preview_photo` is stylized with the EMA weights every `preview_every` steps so a viewer sees the style emerge.
    """

    def __init__(self, config: FinetuneConfig, preview_photo: Image.Image | None = None, preview_every: int = 10):
        self.config, self.preview_photo, self.preview_every = config, preview_photo, preview_every
        self._status = JobStatus("starting", total=config.steps_to_run)
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"finetune-{Path(config.output_dir).name}", daemon=True)
        self._first_step_time: float | None = None  # when the first step of this run ended, and its number,
        self._first_step = 0  # so the ETA leaves out the warm-up

    def start(self) -> FinetuneJob:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop after the current step; the style is saved as it is (state "cancelled")."""
        self._cancel.set()
        with self._lock:
            if not self._status.finished:
                self._status.state = "stopping"

    def wait(self, timeout: float | None = None) -> JobStatus:
        self._thread.join(timeout)
        return self.status()

    def status(self) -> JobStatus:
        with self._lock:
            return JobStatus(**vars(self._status))

    def _update(self, **changes) -> None:
        with self._lock:
            if changes.get("state") == "running" and self._cancel.is_set():  # checked under the lock cancel() takes
                del changes["state"]
            for name, value in changes.items():
                setattr(self._status, name, value)

    def _on_step(self, run: TrainingRun, step: int, losses: dict[str, float]) -> None:
        now = time.perf_counter()
        if self._first_step_time is None:
            self._first_step_time, self._first_step = now, step
        done_since = step - self._first_step
        eta = (now - self._first_step_time) / done_since * (run.config.steps - step) if done_since else None
        changes = dict(step=step, losses=dict(losses), elapsed=now - self._started, eta=eta)
        if self.preview_photo is not None and (step % self.preview_every == 0 or step == 1 or step == run.config.steps):
            with run.ema_generator() as generator:
                changes.update(preview=stylize(generator, self.preview_photo), preview_step=step)
        if self._cancel.is_set():
            run.request_stop()
        self._update(state="running", **changes)

    def _run(self) -> None:
        try:
            output_dir = finetune.main(self.config, on_step=self._on_step)
        except Exception as error:  # reported to whoever polls; the thread must not die silently
            self._update(state="failed", error=str(error) or error.__class__.__name__)
            return
        state = "cancelled" if self._cancel.is_set() else "done"
        self._update(state=state, output_dir=output_dir, elapsed=time.perf_counter() - self._started)


def measure_seconds_per_step(base: str, *, resolution: int, batch_size: int, steps: int = 4) -> float:
    """Time the real fine-tune step on this machine (the median after a warm-up step), for honest time estimates."""
    import numpy as np

    times: list[float] = []
    with tempfile.TemporaryDirectory() as work:
        style_dir = Path(work) / "style"
        style_dir.mkdir()
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (resolution, resolution, 3), dtype=np.uint8)).save(style_dir / "noise.png")
        config = FinetuneConfig(
            style_images=[str(style_dir)],
            content_images=[str(style_dir)],
            base=base,
            output_dir=str(Path(work) / "out"),
            steps=steps,
            resolution=resolution,
            batch_size=batch_size,
            sample_every=steps + 1,
            checkpointing_steps=steps + 1,
        )
        last = [time.perf_counter()]

        def tick(run, step, losses):
            now = time.perf_counter()
            if step > 1:
                times.append(now - last[0])
            last[0] = now

        finetune.main(config, on_step=tick)
    return float(np.median(times))
