"""The bookkeeping both training loops share, so each loop shows only its data and its step.

`TrainingRun` keeps the EMA of the generator (diffusers `EMAModel`), resumes from `--resume`, and after every step
checks the losses, logs them, saves checkpoints and writes before/after sample grids with the EMA weights. At the end
it saves the model directory (generator with EMA weights, discriminator, sample, card) and, with `--push-to-hub`,
publishes it from the main process.
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from accelerate import Accelerator
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from PIL import Image
from tqdm.auto import tqdm

from ..errors import HubError
from ..files import staged_dir
from ..images import save_image
from ..inference import before_after_grid
from ..models import StyleDiscriminator, StyleGenerator
from ..models.hub import DISCRIMINATOR_SUBFOLDER
from .card import SAMPLE_IMAGE, write_model_card
from .checkpoint import LossLog, remove_partial_saves, resolve_resume, save_checkpoint
from .config import TrainingConfig
from .hub import create_repo, push_model_dir

GAN_BETAS, REGRESSION_BETAS = (0.5, 0.99), (0.9, 0.99)
"""Adam's betas: StyleGAN's for a generator in an adversarial game; the usual first moment for a plain regression
(before/after pairs by L1), where the short memory of 0.5 let the loss spike (docs/benchmark-notes.md)."""


def make_optimizers(generator: torch.nn.Module, discriminator: torch.nn.Module, config: TrainingConfig, *, adversarial: bool = True):
    """Adam for both networks and the generator's LR schedule; frozen weights are left out."""
    betas = GAN_BETAS if adversarial else REGRESSION_BETAS
    generator_optimizer = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=betas)
    trainable = [p for p in discriminator.parameters() if p.requires_grad]
    discriminator_optimizer = torch.optim.Adam(trainable, lr=config.d_learning_rate or config.learning_rate, betas=betas)
    scheduler = get_scheduler(config.lr_scheduler, generator_optimizer, num_warmup_steps=config.lr_warmup_steps, num_training_steps=config.steps)
    return generator_optimizer, discriminator_optimizer, scheduler


class TrainingRun:
    """Create after `accelerator.prepare`, and before the loop (it resumes from a checkpoint if asked).

    `record` describes the run for the model card (task, title, description, base, tags, datasets, command,
    arguments); the run adds its steps, time and hardware.
    """

    def __init__(
        self,
        accelerator: Accelerator,
        generator: torch.nn.Module,
        discriminator: torch.nn.Module,
        config: TrainingConfig,
        samples: list[Image.Image],
        record: dict,
        on_step: Callable[[TrainingRun, int, dict[str, float]], None] | None = None,
    ):
        self.accelerator, self.config, self.samples, self.record, self.on_step = accelerator, config, samples, record, on_step
        self.output_dir = Path(config.output_dir)
        self.generator: StyleGenerator = accelerator.unwrap_model(generator)
        self.discriminator: StyleDiscriminator = accelerator.unwrap_model(discriminator)
        if config.push_to_hub and accelerator.is_main_process:
            create_repo(config.push_to_hub, private=config.hub_private or None)
        self.ema = EMAModel(self.generator.parameters(), decay=config.ema_decay, use_ema_warmup=True, foreach=True)
        self.ema.to(accelerator.device)
        accelerator.register_for_checkpointing(self.ema)
        self.log = LossLog(self.output_dir, accelerator)
        self.start_step = 0
        if accelerator.is_main_process:
            remove_partial_saves(self.output_dir)
        accelerator.wait_for_everyone()
        resume = resolve_resume(self.output_dir, config.resume)
        if resume is not None:
            accelerator.load_state(str(resume[0]))
            self.start_step = resume[1]
        self.log.truncate_after(self.start_step)  # steps logged after the checkpoint (or with none) are run again
        self.completed_step = self.start_step
        self.stop_requested = False
        self.started = time.perf_counter()

    def steps(self, description: str) -> Iterator[int]:
        """Step numbers still to run, with a progress bar on the main process; ends early after `request_stop`."""
        self.progress = tqdm(
            range(self.start_step + 1, self.config.steps + 1),
            initial=self.start_step,
            total=self.config.steps,
            desc=description,
            disable=not self.accelerator.is_local_main_process,
        )
        for step in self.progress:
            if self.stop_requested:
                break
            yield step

    def request_stop(self) -> None:
        """End the loop after the current step; `finish` then checkpoints and saves the model as it is.

        For single-process runs (the app, notebooks): under several processes every one must be asked.
        """
        self.stop_requested = True

    @contextmanager
    def ema_generator(self) -> Iterator[StyleGenerator]:
        """The generator with its EMA weights, in eval mode, inside the block; training weights again after it."""
        self.ema.store(self.generator.parameters())
        self.ema.copy_to(self.generator.parameters())
        self.generator.eval()
        try:
            yield self.generator
        finally:
            self.generator.train()
            self.ema.restore(self.generator.parameters())

    def end_step(self, step: int, losses: dict[str, float]) -> None:
        config = self.config
        self.ema.step(self.generator.parameters())
        if not all(math.isfinite(value) for value in losses.values()):
            raise FloatingPointError(f"losses became {losses} at step {step}; lower --learning-rate or use --mixed-precision no")
        last = step == config.steps
        if step % config.log_every == 0 or last:
            self.log.write(step, losses)
            self.progress.set_postfix({name: f"{value:.3f}" for name, value in list(losses.items())[:2]})
        if step % config.checkpointing_steps == 0 or last:
            save_checkpoint(self.accelerator, self.output_dir, step, config.checkpoints_total_limit)
            if config.push_to_hub and config.push_checkpoints and not last and self.accelerator.is_main_process:
                self._push_progress(step)
        if self.accelerator.is_main_process and (step % config.sample_every == 0 or last):
            with self.ema_generator() as generator:
                grid = before_after_grid(generator, self.samples, 128)
            save_image(grid, self.output_dir / "samples" / f"step-{step:06d}.png")
        self.completed_step = step
        if self.on_step is not None and self.accelerator.is_main_process:
            self.on_step(self, step, losses)

    def save_model(self, directory: Path, steps: int) -> None:
        """Write a loadable model directory with the EMA generator, the discriminator, a sample grid and the card."""
        with staged_dir(directory) as staging:  # all of it or nothing: a full disk or a kill keeps the previous model
            with self.ema_generator() as generator:
                generator.save_pretrained(staging)
                sample = before_after_grid(generator, self.samples)
            self.discriminator.save_pretrained(staging / DISCRIMINATOR_SUBFOLDER)
            save_image(sample, staging / SAMPLE_IMAGE)
            hardware = {"device": self.accelerator.device.type, "num_processes": self.accelerator.num_processes}
            progress = {"steps": steps, "planned_steps": self.config.steps, "train_seconds": self.seconds}
            write_model_card(staging, {**self.record, **hardware, **progress})

    def _push_progress(self, step: int) -> None:
        """Publish the style as it is at a checkpoint; a failed push warns and training goes on."""
        with tempfile.TemporaryDirectory() as staging:
            self.save_model(Path(staging), step)
            try:
                push_model_dir(staging, self.config.push_to_hub, commit_message=f"Training in progress: step {step}")
            except HubError as error:
                warnings.warn(f"push at step {step} failed, training goes on: {error}", stacklevel=2)

    def finish(self) -> Path:
        """Save the final model (EMA weights) on the main process, push it if asked, and end the run on every process.

        The model is saved before the push, so a failed push loses nothing: the error says how to push it later.
        """
        accelerator, config = self.accelerator, self.config
        steps = self.completed_step
        if steps < config.steps and steps % config.checkpointing_steps and steps:  # stopped early: keep it resumable
            save_checkpoint(accelerator, self.output_dir, steps, config.checkpoints_total_limit)
        accelerator.wait_for_everyone()
        failure = None
        if accelerator.is_main_process:
            self.save_model(self.output_dir, steps)
            if config.push_to_hub:
                try:
                    result = push_model_dir(
                        self.output_dir,
                        config.push_to_hub,
                        commit_message=f"Trained for {steps} steps" + (f" of {config.steps} planned" if steps < config.steps else ""),
                    )
                    accelerator.print(f"pushed to {result.url}")
                except HubError as error:
                    failure = error
        accelerator.wait_for_everyone()
        accelerator.end_training()
        if failure is not None:
            raise HubError(
                f"{failure}\nThe trained model is saved in {self.output_dir}; "
                f"push it later with: stylegan-hub push {self.output_dir} {config.push_to_hub}"
            )
        return self.output_dir

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 1)
