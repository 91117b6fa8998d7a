"""Checkpoints, resuming and the loss log shared by the pretraining and fine-tuning loops.

Checkpoints are `accelerator.save_state` folders named `checkpoint-<step>` (weights as safetensors, plus optimizer,
scheduler, EMA and RNG states), so a resumed run continues with the same step count, data and losses.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from accelerate import Accelerator

CHECKPOINT_PREFIX = "checkpoint-"


def checkpoint_dirs(output_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = output_dir / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.name.startswith(CHECKPOINT_PREFIX) and p.name[len(CHECKPOINT_PREFIX) :].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX) :]))


def save_checkpoint(accelerator: Accelerator, output_dir: Path, step: int, total_limit: int | None) -> Path:
    """Save under a temporary name and rename when complete, so an interrupted save never looks like a checkpoint."""
    root = output_dir / "checkpoints"
    final = root / f"{CHECKPOINT_PREFIX}{step}"
    partial = root / f".partial-{CHECKPOINT_PREFIX}{step}"
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
        if total_limit:
            for old in checkpoint_dirs(output_dir)[:-total_limit]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def resolve_resume(output_dir: Path, resume: str | None) -> tuple[Path, int] | None:
    """`--resume latest` (None if there is no checkpoint yet) or a checkpoint path -> (path, step)."""
    if resume is None:
        return None
    if resume == "latest":
        found = checkpoint_dirs(output_dir)
        if not found:
            return None
        path = found[-1]
    else:
        path = Path(resume)
        if not path.is_dir() or not path.name.startswith(CHECKPOINT_PREFIX):
            raise ValueError(f"--resume {resume}: not a checkpoint folder (expected .../checkpoints/{CHECKPOINT_PREFIX}<step>)")
    return path, int(path.name[len(CHECKPOINT_PREFIX) :])


class LossLog:
    """Losses per step as JSON lines in `<output_dir>/logs/losses.jsonl`; written by the main process only."""

    def __init__(self, output_dir: Path, accelerator: Accelerator):
        self.path = output_dir / "logs" / "losses.jsonl"
        self.enabled = accelerator.is_main_process

    def truncate_after(self, step: int) -> None:
        """Drop the entries of steps after `step`: they belong to a run that is being resumed from there."""
        if self.enabled and self.path.exists():
            kept = [line for line in self.path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
            self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, step: int, values: dict[str, float]) -> None:
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as log:
                log.write(json.dumps({"step": step, **values}) + "\n")

    def read(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line] if self.path.exists() else []
