"""The discriminator, which is also the project's perceptual network.

It is pretrained to tell photos from several kinds of artwork (and real images from generated ones), so its features
describe colour, texture and edges; fine-tuning keeps its lower blocks frozen (FreezeD) and measures content and style
(Gram) losses in those frozen features, so no third-party network such as VGG is needed.

    block i   conv3x3 + conv3x3 stride 2    (B, channels[i], H/2**(i+1), W/2**(i+1))
    adv_head  1x1 conv on the last block    (B, 1, H/2**n, W/2**n)   real/fake logit per patch
    domain_head  pooled last block -> linear (B, num_domains)        photo / artwork kind logits
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .generator import HUB_METADATA
from .hub import DISCRIMINATOR_SUBFOLDER, HubModel


class DownBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.down = nn.Conv2d(out_channels, out_channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.down(F.leaky_relu(self.conv(x), 0.2)), 0.2)


DISCRIMINATOR_CARD = """---
{{ card_data }}
---

The discriminator of a stylegan-hub model: it keeps the model fine-tunable (`stylegan-hub finetune --base <model>`)
and its frozen features are the perceptual space of the content and style losses. Load it with
`StyleDiscriminator.from_pretrained("<model>/discriminator")`.
"""


class StyleDiscriminator(HubModel, model_card_template=DISCRIMINATOR_CARD, **HUB_METADATA):
    """Patch discriminator with a feature pyramid for perceptual losses and a domain head for pretraining."""

    hub_subfolder = DISCRIMINATOR_SUBFOLDER

    def __init__(self, channels: list[int] = (32, 64, 128, 128), num_domains: int = 5):
        super().__init__()
        channels = list(channels)
        if not channels or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in channels):
            raise ValueError(f"channels must be a non-empty list of positive integers, got {channels!r}")
        if not isinstance(num_domains, int) or isinstance(num_domains, bool) or num_domains < 1:
            raise ValueError(f"num_domains must be an integer >= 1, got {num_domains!r}")
        widths = [3, *channels]
        self.blocks = nn.ModuleList(DownBlock(widths[i], widths[i + 1]) for i in range(len(channels)))
        self.adv_head = nn.Conv2d(channels[-1], 1, 1)
        self.domain_head = nn.Linear(channels[-1], num_domains)

    @property
    def size_multiple(self) -> int:
        return 2 ** len(self.blocks)

    def features(self, x: torch.Tensor, num_blocks: int | None = None) -> list[torch.Tensor]:
        """Outputs of the first `num_blocks` blocks (all by default) for an image batch in [-1, 1]."""
        features = []
        for block in self.blocks[:num_blocks]:
            x = block(x)
            features.append(x)
        return features

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real/fake logits per patch (B, 1, h, w) and domain logits (B, num_domains), from one pass."""
        top = self.features(x)[-1]
        return self.adv_head(top), self.domain_head(top.mean(dim=(2, 3)))
