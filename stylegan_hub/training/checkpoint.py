"""Checkpoints, resuming and the loss log shared by the pretraining and fine-tuning loops.

Checkpoints are `accelerator.save_state` folders named `checkpoint-<step>` (weights as safetensors, plus optimizer,
scheduler, EMA and RNG states), so a resumed run continues with the same step count, data and losses.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from accelerate import Accelerator

from ..files import is_write_failure, remove_stale_staging, save_error

CHECKPOINT_PREFIX = "checkpoint-"
PARTIAL_PREFIX = ".partial-"


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
    partial = root / f"{PARTIAL_PREFIX}{CHECKPOINT_PREFIX}{step}"
    failure = None
    try:
        accelerator.save_state(str(partial))
    except Exception as error:  # a full disk: remove what was written, keep the earlier checkpoints
        if not is_write_failure(error):
            raise
        failure = save_error(final, error, "the partial checkpoint was removed and the earlier ones are intact")
    accelerator.wait_for_everyone()
    if failure is not None:
        if accelerator.is_main_process:
            shutil.rmtree(partial, ignore_errors=True)
        raise failure
    if accelerator.is_main_process:
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
        if total_limit:
            for old in checkpoint_dirs(output_dir)[:-total_limit]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def remove_partial_saves(output_dir: Path) -> None:
    """Remove what a killed run left half-written: partial checkpoints and staged model files."""
    root = output_dir / "checkpoints"
    for path in root.glob(PARTIAL_PREFIX + "*") if root.is_dir() else []:
        shutil.rmtree(path, ignore_errors=True)
    remove_stale_staging(output_dir)
    remove_stale_staging(output_dir / "discriminator")


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
        """Drop the entries of steps after `step`: they belong to a run that is being resumed or restarted from there
        (also from 0, when a run was killed before its first checkpoint)."""
        if self.enabled and self.path.exists():
            kept = []
            for line in self.path.read_text().splitlines():
                try:
                    if json.loads(line)["step"] <= step:
                        kept.append(line)
                except (ValueError, KeyError, TypeError):  # the half-written last line of a killed run
                    continue
            partial = self.path.with_name(self.path.name + ".partial")
            try:
                partial.write_text("".join(line + "\n" for line in kept))
                os.replace(partial, self.path)  # a kill now leaves the old log or the new one, never half of it
            except OSError as error:
                partial.unlink(missing_ok=True)
                raise save_error(self.path, error, "the log is unchanged") from None

    def write(self, step: int, values: dict[str, float]) -> None:
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with self.path.open("a") as log:
                    log.write(json.dumps({"step": step, **values}) + "\n")
            except OSError as error:  # a half line is dropped when the run is resumed
                raise save_error(self.path, error, "the steps logged before are kept") from None

    def read(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line] if self.path.exists() else []
