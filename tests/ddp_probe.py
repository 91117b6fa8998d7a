"""Runs `train/finetune.py`'s loop under `accelerate launch` and records, per process, what it trained on and the
weights it ended with, so tests can check that gradients were really synchronised."""

import hashlib
import json
import sys
from pathlib import Path

from safetensors.torch import save_file

from stylegan_hub.training import finetune

probe = Path(sys.argv[1])
probe.mkdir(parents=True, exist_ok=True)
real_step = finetune.finetune_step
seen = []


def recording_step(models, feature_net, photos, exemplars, weights, **options):
    losses = real_step(models, feature_net, photos, exemplars, weights, **options)
    accelerator = models.accelerator
    seen.append(hashlib.sha256(photos.cpu().numpy().tobytes()).hexdigest())
    rank = accelerator.process_index
    state = {f"generator.{k}": v.detach().cpu().contiguous() for k, v in accelerator.unwrap_model(models.generator).state_dict().items()}
    state |= {
        f"discriminator.{k}": v.detach().cpu().contiguous() for k, v in accelerator.unwrap_model(models.discriminator).state_dict().items()
    }
    save_file(state, probe / f"rank{rank}.safetensors")
    (probe / f"rank{rank}.json").write_text(json.dumps({"world_size": accelerator.num_processes, "data": seen}))
    return losses


finetune.finetune_step = recording_step
finetune.main(finetune.parse_args(sys.argv[2:]))
