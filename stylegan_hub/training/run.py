"""The bookkeeping both training loops share, so each loop shows only its data and its step.

`TrainingRun` keeps the EMA of the generator (diffusers `EMAModel`), resumes from `--resume`, and after every step
checks the losses, logs them, saves checkpoints and writes before/after sample grids with the EMA weights.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from accelerate import Accelerator
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from PIL import Image
from tqdm.auto import tqdm

from ..images import save_image
from ..inference import before_after_grid
from ..models import StyleGenerator
from .checkpoint import LossLog, resolve_resume, save_checkpoint


def make_optimizers(generator: torch.nn.Module, discriminator: torch.nn.Module, args: argparse.Namespace):
    """Adam for both networks (betas as in StyleGAN) and the generator's LR schedule; frozen weights are left out."""
    betas = (0.5, 0.99)
    generator_optimizer = torch.optim.Adam(generator.parameters(), lr=args.learning_rate, betas=betas)
    trainable = [p for p in discriminator.parameters() if p.requires_grad]
    discriminator_optimizer = torch.optim.Adam(trainable, lr=args.d_learning_rate or args.learning_rate, betas=betas)
    scheduler = get_scheduler(args.lr_scheduler, generator_optimizer, num_warmup_steps=args.lr_warmup_steps, num_training_steps=args.steps)
    return generator_optimizer, discriminator_optimizer, scheduler


class TrainingRun:
    """Create after `accelerator.prepare`, and before the loop (it resumes from a checkpoint if asked)."""

    def __init__(self, accelerator: Accelerator, generator: torch.nn.Module, args: argparse.Namespace, samples: list[Image.Image]):
        self.accelerator, self.args, self.samples = accelerator, args, samples
        self.output_dir = Path(args.output_dir)
        self.generator: StyleGenerator = accelerator.unwrap_model(generator)
        self.ema = EMAModel(self.generator.parameters(), decay=args.ema_decay, use_ema_warmup=True, foreach=True)
        self.ema.to(accelerator.device)
        accelerator.register_for_checkpointing(self.ema)
        self.log = LossLog(self.output_dir, accelerator)
        self.start_step = 0
        resume = resolve_resume(self.output_dir, args.resume)
        if resume is not None:
            accelerator.load_state(str(resume[0]))
            self.start_step = resume[1]
            self.log.truncate_after(self.start_step)
        self.started = time.perf_counter()

    def steps(self, description: str) -> Iterator[int]:
        """Step numbers still to run, with a progress bar on the main process."""
        self.progress = tqdm(
            range(self.start_step + 1, self.args.steps + 1),
            initial=self.start_step,
            total=self.args.steps,
            desc=description,
            disable=not self.accelerator.is_local_main_process,
        )
        return iter(self.progress)

    def end_step(self, step: int, losses: dict[str, float]) -> None:
        args = self.args
        self.ema.step(self.generator.parameters())
        if not all(math.isfinite(value) for value in losses.values()):
            raise FloatingPointError(f"losses became {losses} at step {step}; lower --learning-rate or use --mixed-precision no")
        last = step == args.steps
        if step % args.log_every == 0 or last:
            self.log.write(step, losses)
            self.progress.set_postfix({name: f"{value:.3f}" for name, value in list(losses.items())[:2]})
        if step % args.checkpointing_steps == 0 or last:
            save_checkpoint(self.accelerator, self.output_dir, step, args.checkpoints_total_limit)
        if self.accelerator.is_main_process and (step % args.sample_every == 0 or last):
            self.ema.store(self.generator.parameters())
            self.ema.copy_to(self.generator.parameters())
            self.generator.eval()
            grid = before_after_grid(self.generator, self.samples, 128)
            self.generator.train()
            self.ema.restore(self.generator.parameters())
            save_image(grid, self.output_dir / "samples" / f"step-{step:06d}.png")

    def final_generator(self) -> StyleGenerator:
        """The generator with its EMA weights, in eval mode, once every process is done."""
        self.accelerator.wait_for_everyone()
        self.ema.copy_to(self.generator.parameters())
        return self.generator.eval()

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 1)
