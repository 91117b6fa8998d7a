"""The style generator: a small fully-convolutional U-Net, light enough for real-time use on a CPU.

Layout (C = base_channels, N = num_downsamples, input H, W divisible by 2**N):

    noise     + noise_channels per-pixel noise maps beside the photo (B, 3 + noise_channels, H, W), optional
    stem      3 + noise_channels -> C   (B, C, H, W)
    down i    C*2**i -> C*2**(i+1), /2  (B, C*2**N, H/2**N, W/2**N) after N of them
    body      num_res_blocks residual blocks at the lowest resolution
    up i      x2 nearest + conv, plus the encoder feature of the same size (additive skip),
              then decoder_blocks residual blocks at that resolution (room to draw strokes and lines)
    head      C -> 3                    (B, 3, H, W), values in about [-1, 1]

The noise inputs (as in StyleGAN and Ulyanov et al.'s texture networks) give a texture such as hatching a source
of variation that is not in the photo: without them a fine-tune on hatching learns a tint (docs/benchmark-notes.md).

There is no normalisation layer: instance/group norm would make each tile of a large image normalise differently
and leave seams, while this network's output at a pixel depends only on its neighbourhood.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .hub import HubModel

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

PADDING_MODES = ("zeros", "reflect", "replicate")
NOISE_PERIOD = 256
"""The inference noise field repeats every this many pixels (a fixed 256x256 draw per noise channel)."""
HUB_METADATA = dict(
    library_name="stylegan-hub",
    pipeline_tag="image-to-image",
    license="apache-2.0",
    tags=["style-transfer", "gan", "image-to-image"],
)


def conv3x3(in_channels: int, out_channels: int, padding_mode: str, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, padding_mode=padding_mode)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, padding_mode: str):
        super().__init__()
        self.conv1 = conv3x3(channels, channels, padding_mode)
        self.conv2 = conv3x3(channels, channels, padding_mode)
        nn.init.zeros_(self.conv2.weight)  # starts as the identity, so a deep body trains as easily as a shallow one
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(x), 0.2))


class UpBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, padding_mode: str, num_res_blocks: int = 0):
        super().__init__()
        self.conv = conv3x3(in_channels, out_channels, padding_mode)
        self.refine = nn.Sequential(*(ResidualBlock(out_channels, padding_mode) for _ in range(num_res_blocks)))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.refine(F.leaky_relu(self.conv(x) + skip, 0.2))


GENERATOR_CARD = """---
{{ card_data }}
---

A stylegan-hub style model. Use it with `StyleGenerator.from_pretrained("<this model>").stylize("photo.jpg")`
or `stylegan-hub stylize --model <this model> --output-dir out/ photo.jpg`.
"""


class StyleGenerator(HubModel, model_card_template=GENERATOR_CARD, **HUB_METADATA):
    """Maps a photo in [-1, 1] to the same photo in one learned style.

    Use `stylize` for images of any size, mode and format; `forward` is the raw network on a batch whose height and
    width are multiples of `size_multiple`.
    """

    added_config = {"decoder_blocks": 0, "noise_channels": 0}  # arguments added after models were published, with the value they had

    def __init__(
        self,
        base_channels: int = 16,
        num_downsamples: int = 2,
        num_res_blocks: int = 4,
        padding_mode: str = "reflect",
        decoder_blocks: int = 0,
        noise_channels: int = 0,
    ):
        super().__init__()
        for name, value, low in (
            ("base_channels", base_channels, 1),
            ("num_downsamples", num_downsamples, 0),
            ("num_res_blocks", num_res_blocks, 0),
            ("decoder_blocks", decoder_blocks, 0),
            ("noise_channels", noise_channels, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if num_downsamples > 5:
            raise ValueError(f"num_downsamples must be at most 5, got {num_downsamples}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.num_downsamples = num_downsamples
        self.num_res_blocks = num_res_blocks
        self.decoder_blocks = decoder_blocks
        self.noise_channels = noise_channels
        widths = [base_channels * 2**i for i in range(num_downsamples + 1)]
        self.stem = conv3x3(3 + noise_channels, widths[0], padding_mode)
        self.down = nn.ModuleList(conv3x3(widths[i], widths[i + 1], padding_mode, stride=2) for i in range(num_downsamples))
        self.body = nn.Sequential(*(ResidualBlock(widths[-1], padding_mode) for _ in range(num_res_blocks)))
        self.up = nn.ModuleList(UpBlock(widths[i + 1], widths[i], padding_mode, decoder_blocks) for i in reversed(range(num_downsamples)))
        self.head = conv3x3(widths[0], 3, padding_mode)
        if noise_channels:  # rebuilt from a fixed seed, never saved: every copy of the model draws the same field
            field = torch.randn(1, noise_channels, NOISE_PERIOD, NOISE_PERIOD, generator=torch.Generator().manual_seed(0))
            self.register_buffer("noise_field", field, persistent=False)

    def with_noise_channels(self, noise_channels: int) -> "StyleGenerator":
        """This model with `noise_channels` noise inputs: added ones get zero weights, so the output is unchanged
        until training gives the noise a use (a texture to draw). Fewer than the model has is refused."""
        if noise_channels < self.noise_channels:
            raise ValueError(f"noise_channels {noise_channels}: this model already has {self.noise_channels}")
        if noise_channels == self.noise_channels:
            return self
        config = dict(self._hub_mixin_config, noise_channels=noise_channels)
        widened = type(self)(**config).to(self.stem.weight)
        state = self.state_dict()
        extra = noise_channels - self.noise_channels
        state["stem.weight"] = torch.cat([state["stem.weight"], state["stem.weight"].new_zeros(self.stem.out_channels, extra, 3, 3)], dim=1)
        widened.load_state_dict(state)
        return widened.train(self.training)

    @property
    def size_multiple(self) -> int:
        """Height and width given to `forward` must be multiples of this."""
        return 2**self.num_downsamples

    @property
    def receptive_radius(self) -> int:
        """How far (in input pixels) an output pixel can see; tiles overlap by about this much to hide seams."""
        scale_of_body = 2**self.num_downsamples
        encoder = 1 + sum(2**i for i in range(self.num_downsamples))
        decoder = sum(2**i * (1 + 2 * self.decoder_blocks) for i in range(self.num_downsamples)) + 1
        return encoder + 2 * self.num_res_blocks * scale_of_body + decoder

    def gflops(self, height: int = 512, width: int = 512) -> float:
        """Floating-point operations (multiply and add counted apart) of one forward pass, in billions.

        Counted as `torch.utils.flop_counter.FlopCounterMode` counts them (convolutions only, no biases), but from one
        pass on the smallest input the network takes: every layer's output is a fixed fraction of the input's pixels,
        so the count scales exactly with height x width (once rounded up to multiples of `size_multiple`). That takes
        milliseconds, where a real 512x512 pass or the flop counter's import takes seconds.
        """
        height, width = -(-height // self.size_multiple) * self.size_multiple, -(-width // self.size_multiple) * self.size_multiple
        side = 2 * self.size_multiple  # reflection padding needs at least 2 pixels at the lowest resolution
        parameter = next(self.parameters())
        total = 0

        def count(conv: nn.Conv2d, inputs, output: torch.Tensor) -> None:
            nonlocal total
            total += 2 * output.numel() * conv.kernel_size[0] * conv.kernel_size[1] * conv.in_channels // conv.groups

        hooks = [m.register_forward_hook(count) for m in self.modules() if isinstance(m, nn.Conv2d)]
        try:
            with torch.no_grad():
                self(torch.zeros(1, 3, side, side, device=parameter.device, dtype=parameter.dtype))
        finally:
            for hook in hooks:
                hook.remove()
        return total * (height * width) / (side * side) / 1e9

    def noise_like(self, x: torch.Tensor, origin: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """The noise channels for batch x: fresh draws while training, so the learned texture cannot hang on one
        draw; at inference a fixed field tied to image position (`origin` is the top-left pixel of `x` in the whole
        image), so the tiles of a large image agree where they overlap and every run gives the same picture."""
        batch, _, height, width = x.shape
        if self.training:
            return torch.randn(batch, self.noise_channels, height, width, device=x.device, dtype=x.dtype)
        rows = (torch.arange(height, device=x.device) + origin[0]) % NOISE_PERIOD
        cols = (torch.arange(width, device=x.device) + origin[1]) % NOISE_PERIOD
        field = self.noise_field.index_select(2, rows).index_select(3, cols)
        return field.to(x.dtype).expand(batch, -1, -1, -1)

    def forward(self, x: torch.Tensor, origin: tuple[int, int] = (0, 0)) -> torch.Tensor:
        # x: (B, 3, H, W) in [-1, 1], H and W multiples of size_multiple
        if x.shape[-2] % self.size_multiple or x.shape[-1] % self.size_multiple:
            raise ValueError(
                f"height and width must be multiples of {self.size_multiple}, got {tuple(x.shape[-2:])}; "
                "use stylize() for images of any size"
            )
        if self.noise_channels:
            x = torch.cat([x, self.noise_like(x, origin)], dim=1)  # (B, 3 + noise_channels, H, W)
        h = F.leaky_relu(self.stem(x), 0.2)
        skips = []
        for down in self.down:
            skips.append(h)
            h = F.leaky_relu(down(h), 0.2)
        h = self.body(h)
        for up, skip in zip(self.up, reversed(skips)):
            h = up(h, skip)
        return self.head(h)

    def forward_image(self, photo: torch.Tensor, origin: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """The network as an image filter: (B, 3, H, W) in [0, 1] -> the same size in [0, 1], for any H and W of at
        least 2 * size_multiple (reflection padding up to the stride's multiple, cropped after). This is what the
        ONNX export contains; `stylize` adds tiling, tiny images, strength and colour options around it. `origin`
        places a tile in its whole image (see `noise_like`)."""
        height, width = photo.shape[-2:]
        x = (photo.float() * 2 - 1).to(next(self.parameters()).dtype)  # scaled in float32, then the network's dtype
        x = F.pad(x, (0, -width % self.size_multiple, 0, -height % self.size_multiple), mode="reflect")
        return ((self(x, origin)[..., :height, :width].float() + 1) / 2).clamp(0, 1)

    def stylize(
        self,
        image: "str | Image.Image | np.ndarray | torch.Tensor",
        strength: float = 1.0,
        preserve_color: bool = False,
        max_side: int | None = None,
        tile: int | None = None,
        precision: str = "auto",
        work_side: int | None = None,
    ) -> "Image.Image | list[Image.Image]":
        """Stylize a photo (path, PIL image, numpy array) or a tensor batch in [0, 1]; see `stylegan_hub.inference`."""
        from ..inference import stylize

        return stylize(
            self, image, strength=strength, preserve_color=preserve_color, max_side=max_side, tile=tile, precision=precision, work_side=work_side
        )
