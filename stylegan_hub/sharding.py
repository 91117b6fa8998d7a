"""Batch stylizing across processes, GPUs and nodes with Accelerate:

    accelerate launch --multi_gpu --num_processes 4 -m stylegan_hub.cli stylize --model M --output-dir out/ photos/

Every process lists the same inputs (sorted, as `expand_image_paths` gives them), takes every n-th one from its own
index on, and writes each result atomically (a temporary file renamed into place), so no output is ever half
written and no two processes write the same file; `--skip-existing` makes a re-run skip finished outputs. Each
process prints a summary line with its images per second, and the main process the total. Without a launcher it is
one process doing everything.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def select(self, items: Sequence) -> list:
        """This process's share: items index, index + count, index + 2 count, ..."""
        return list(items[self.index :: self.count])


def launched_processes() -> int:
    """How many processes a launcher (accelerate launch, torchrun) started; 1 without one."""
    return int(os.environ.get("WORLD_SIZE", "1"))


@dataclass
class BatchSummary:
    shard: Shard
    written: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"process {self.shard.index} of {self.shard.count}: {self.written} written, {self.skipped} skipped, "
            f"{self.failed} failed in {self.seconds:.1f} s ({self.rate:.2f} images/s)"
        )


class Workers:
    """This process's place among the launched ones: its shard and device, and a barrier and totals across them
    (through Accelerate's PartialState, only when several processes run)."""

    def __init__(self):
        self.state = None
        if launched_processes() > 1:
            from accelerate import PartialState
            from accelerate.utils import parse_flag_from_env

            # PartialState leaves ACCELERATE_USE_CPU to Accelerator; without it, CPU processes would not join up
            self.state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
        self.shard = Shard(self.state.process_index, self.state.num_processes) if self.state else Shard()

    @property
    def device(self) -> str | None:
        return str(self.state.device) if self.state else None

    @property
    def is_main(self) -> bool:
        return self.state is None or self.state.is_main_process

    def close(self) -> None:
        """Leave the process group together: a process that exits while its group is still up can be aborted by
        gloo's threads ("terminate called without an active exception") after its work is done."""
        if self.state is not None:
            self.state.wait_for_everyone()
            self.state.destroy_process_group()

    def totals(self, summary: BatchSummary) -> tuple[int, int, int, float]:
        """(written, skipped, failed, slowest seconds) over all processes (waits for all of them)."""
        counts = (summary.written, summary.skipped, summary.failed, summary.seconds)
        if self.state is None:
            return counts
        import torch
        from accelerate.utils import gather

        gathered = gather(torch.tensor([counts], dtype=torch.float64, device=self.state.device)).cpu()
        return (*(int(v) for v in gathered[:, :3].sum(0)), float(gathered[:, 3].max()))


def run_batch(
    jobs: Sequence[tuple[Path, Path]],
    work: Callable[[Path, Path], None],
    *,
    shard: Shard,
    skip_existing: bool = False,
    on_error: Callable[[Exception], None] = lambda error: print(error, file=sys.stderr),
    errors: tuple[type[Exception], ...] = (Exception,),
    progress: Callable | None = None,
) -> BatchSummary:
    """Run `work(source, target)` for this shard's jobs; a job whose target exists is skipped with `skip_existing`;
    an error of the `errors` types is reported with `on_error` and counted, and the others still run."""
    summary = BatchSummary(shard)
    mine = shard.select(jobs)
    start = time.perf_counter()
    for source, target in progress(mine) if progress else mine:
        if skip_existing and target.exists():
            summary.skipped += 1
            continue
        try:
            work(source, target)
            summary.written += 1
        except errors as error:
            summary.failed += 1
            on_error(error)
    summary.seconds = time.perf_counter() - start
    return summary
