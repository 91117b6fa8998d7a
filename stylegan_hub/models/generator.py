"""The style generator: a small fully-convolutional U-Net, light enough for real-time use on a CPU.

Layout (C = base_channels, N = num_downsamples, input H, W divisible by 2**N):

    noise     + noise_channels per-pixel noise maps beside the photo (B, 3 + noise_channels, H, W), optional
    texture   + 3 maps of a stored texture picture (texture_side pixels square, mirrored and repeated over the frame),
              optional: a texture style's own picture at every place, for the network to compose the photo with
    position  + 2 maps of where each pixel is in the whole picture (row, column in [-1, 1]), optional: a change that
              depends on the place in the frame, such as a vignette, can be drawn
    stem      3 + noise_channels (+ 3) (+ 2) -> C   (B, C, H, W)
    down i    C*2**i -> C*2**(i+1), /2  (B, C*2**N, H/2**N, W/2**N) after N of them
    body      num_res_blocks residual blocks at the lowest resolution
    up i      x2 nearest + conv (computed at the low resolution), plus the encoder feature of the same size (additive skip),
              then decoder_blocks residual blocks at that resolution (room to draw strokes and lines)
    head      C -> 3                    (B, 3, H, W), values in about [-1, 1]; with residual_output, added to the photo:
              the network learns the change (starting as the identity), not the whole picture
    palette   optional: every pixel snapped to the nearest of palette_colors colours, the k-means palette of the
              picture's own output (`stylegan_hub.models.palette`): flat fills and hard steps, as a cartoon has
    style     optional: a style code (B, style_dim) scales and shifts every stage's channels (FiLM); the code comes
              from the model's own `style_code` (a fine-tuned style) or from `encoder` run on a style picture
              (zero-shot, `stylegan_hub.models.encoder`)

The noise inputs (as in StyleGAN and Ulyanov et al.'s texture networks) give a texture such as hatching a source
of variation that is not in the photo: without them a fine-tune on hatching learns a tint (docs/benchmark-notes.md).

The texture input goes further for a texture style: a few per-pixel losses cannot make a network *synthesise* bricks
or pebbles from noise in a short fine-tune (every texture came out as one grain, docs/benchmark-notes.md), but given
the texture itself at each place, the network only has to learn how to lay it over the photo. Like the noise field it
is tied to the place in the picture, so tiles agree; unlike it, it is saved with the model (`with_texture`).

The position maps are of the whole picture, not of the tile or crop at hand (`origin` and `frame` in `forward`), so
tiling stays seamless; training crops bring their own (`stylegan_hub.data.RandomCrops(positions=True)`).

There is no normalisation layer: instance/group norm would make each tile of a large image normalise differently
and leave seams, while this network's output at a pixel depends only on its neighbourhood. The style code is one
vector for the whole image, so conditioning on it keeps that property.
"""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .encoder import ENCODER_SIDE, StyleEncoder, fit_style_picture
from .hub import HubModel
from .palette import PALETTE_SIDE, kmeans_palette, snap_to_palette

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    from PIL import Image

PADDING_MODES = ("zeros", "reflect", "replicate")
# Padding the upsampled map by each mode equals padding the map before nearest upsampling by this one: one pixel of
# reflection around a 2x-repeated map lands on the edge pixel itself.
LOW_RESOLUTION_PADDING = {"zeros": "constant", "reflect": "replicate", "replicate": "replicate"}
# Along one axis, output pixel 2i+a of (nearest 2x upsampling, then a 3-tap kernel w) reads low-resolution pixels
# i-1+a and i+a with the taps summed as FOLD[a] @ w: (w0, w1+w2) for a = 0, (w0+w1, w2) for a = 1.
FOLD = ((1.0, 0.0, 0.0), (0.0, 1.0, 1.0)), ((1.0, 1.0, 0.0), (0.0, 0.0, 1.0))
NOISE_PERIOD = 256
"""The inference noise field repeats every this many pixels (a fixed 256x256 draw per noise channel)."""
STYLE_CODE_CACHE = 64
"""How many style pictures' codes a model remembers, so restyling another photo costs only the generator."""
STYLED_COPY_CACHE = 4
"""How many styles a model keeps a ready copy of (`for_style`): the app's visitors switch between a few pictures."""
_STYLE_CODE_LOCK = threading.Lock()
HUB_METADATA = dict(
    library_name="stylegan-hub",
    pipeline_tag="image-to-image",
    license="apache-2.0",
    tags=["style-transfer", "gan", "image-to-image"],
)


def position_grid(top: int, left: int, height: int, width: int, frame: tuple[int, int], device=None) -> torch.Tensor:
    """Row and column in [-1, 1] of each pixel of a (height, width) region whose top-left pixel is (top, left) in a
    picture of size `frame`: (2, height, width), float32. What a generator with `position_inputs` sees."""
    rows = (torch.arange(top, top + height, device=device, dtype=torch.float32) + 0.5) / frame[0] * 2 - 1
    cols = (torch.arange(left, left + width, device=device, dtype=torch.float32) + 0.5) / frame[1] * 2 - 1
    return torch.stack([rows[:, None].expand(height, width), cols[None, :].expand(height, width)])


def periodic_window(field: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """The (..., height, width) window of a periodic field (..., P, P) whose top-left pixel is (top, left): the noise
    a generator with noise inputs sees at that place of a picture at inference."""
    period = field.shape[-1]
    rows = (torch.arange(height, device=field.device) + top) % period
    cols = (torch.arange(width, device=field.device) + left) % period
    return field.index_select(-2, rows).index_select(-1, cols)


def mirrored(picture: torch.Tensor) -> torch.Tensor:
    """(..., S, S) -> (..., 2S, 2S): the picture beside and below its mirror images, which repeats without seams."""
    wide = torch.cat([picture, picture.flip(-1)], dim=-1)
    return torch.cat([wide, wide.flip(-2)], dim=-2)


def square_picture(picture: torch.Tensor, side: int) -> torch.Tensor:
    """(3, H, W) -> (3, side, side): the shorter side scaled to `side` (antialiased), the centre square kept."""
    height, width = picture.shape[-2:]
    scale = side / min(height, width)
    size = (max(side, round(height * scale)), max(side, round(width * scale)))
    scaled = F.interpolate(picture[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (size[0] - side) // 2, (size[1] - side) // 2
    return scaled[:, top : top + side, left : left + side].clamp(0, 1)


def conv3x3(in_channels: int, out_channels: int, padding_mode: str, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, padding_mode=padding_mode)


def channel_affine(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """x * scale + shift with one (scale, shift) per channel: (B, C, H, W), (C,), (C,) -> (B, C, H, W).

    As an inference-mode batch norm (mean 0, variance 1) it is one fused pass; the broadcast multiply-add takes two
    and in bfloat16 on a CPU is ten times slower (1x16x512x512: 5.6 ms against 0.47 ms)."""
    return F.batch_norm(x, torch.zeros_like(scale), torch.ones_like(scale), scale, shift, training=False, momentum=0.0, eps=0.0)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, padding_mode: str):
        super().__init__()
        self.conv1 = conv3x3(channels, channels, padding_mode)
        self.conv2 = conv3x3(channels, channels, padding_mode)
        nn.init.zeros_(self.conv2.weight)  # starts as the identity, so a deep body trains as easily as a shallow one
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(x), 0.2))


def upsample_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """`conv` (3x3, padding 1) of x upsampled 2x by nearest neighbour, computed at x's resolution: (B, I, H, W) ->
    (B, O, 2H, 2W) in x's memory format.

    Each output phase (2i+a, 2j+b) is a 2x2 convolution of x with the 3x3 kernel's taps folded (FOLD), so all four
    are one convolution with 4·O outputs: 16 multiply-adds per output channel and input pixel instead of 36, and no
    upsampled copy. Exact up to rounding; the module and its weights stay a plain Conv2d."""
    batch, _, height, width = x.shape
    fold = torch.tensor(FOLD, dtype=conv.weight.dtype, device=conv.weight.device)  # (2, 2, 3): phase, tap, tap
    kernels = torch.einsum("ayi,ocij,bxj->abocyx", fold, conv.weight, fold).flatten(0, 2)  # (4·O, I, 2, 2)
    padded = F.pad(x, (1, 1, 1, 1), mode=LOW_RESOLUTION_PADDING[conv.padding_mode])
    bias = conv.bias.repeat(4) if conv.bias is not None else None
    phases = F.conv2d(padded, kernels, bias).permute(0, 2, 3, 1).unflatten(-1, (2, 2, -1))  # (B, H+1, W+1, 2, 2, O)
    # Phase (a, b) of output pixel (2i+a, 2j+b) sits at (i+a, j+b) of its map.
    rows = [torch.stack([phases[:, a : a + height, b : b + width, a, b] for b in (0, 1)], 3) for a in (0, 1)]
    y = torch.stack(rows, 2).reshape(batch, 2 * height, 2 * width, -1).permute(0, 3, 1, 2)  # channels-last memory
    return y if x.is_contiguous(memory_format=torch.channels_last) else y.contiguous()


class UpBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, padding_mode: str, num_res_blocks: int = 0):
        super().__init__()
        self.conv = conv3x3(in_channels, out_channels, padding_mode)
        self.refine = nn.Sequential(*(ResidualBlock(out_channels, padding_mode) for _ in range(num_res_blocks)))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():  # as defined: ONNX Runtime quantises a weight to int8, not a folded kernel
            up = self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        else:
            up = upsample_conv(x, self.conv)
        return self.refine(F.leaky_relu(up + skip, 0.2))


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

    added_config = {"decoder_blocks": 0, "noise_channels": 0, "style_dim": 0, "encoder_channels": 0, "residual_output": False, "palette_colors": 0, "position_inputs": False, "texture_side": 0}  # arguments added after models were published, with the value they had

    def __init__(
        self,
        base_channels: int = 16,
        num_downsamples: int = 2,
        num_res_blocks: int = 4,
        padding_mode: str = "reflect",
        decoder_blocks: int = 0,
        noise_channels: int = 0,
        style_dim: int = 0,
        encoder_channels: int = 0,
        residual_output: bool = False,
        palette_colors: int = 0,
        position_inputs: bool = False,
        texture_side: int = 0,
    ):
        super().__init__()
        for name, value, low in (
            ("base_channels", base_channels, 1),
            ("num_downsamples", num_downsamples, 0),
            ("num_res_blocks", num_res_blocks, 0),
            ("decoder_blocks", decoder_blocks, 0),
            ("noise_channels", noise_channels, 0),
            ("style_dim", style_dim, 0),
            ("encoder_channels", encoder_channels, 0),
            ("palette_colors", palette_colors, 0),
            ("texture_side", texture_side, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        for name, value in (("residual_output", residual_output), ("position_inputs", position_inputs)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, got {value!r}")
        if num_downsamples > 5:
            raise ValueError(f"num_downsamples must be at most 5, got {num_downsamples}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        if palette_colors == 1:
            raise ValueError("palette_colors must be 0 (no palette) or at least 2, got 1: one colour draws nothing")
        if encoder_channels and not style_dim:
            raise ValueError(f"encoder_channels={encoder_channels} needs a style code to encode into: set style_dim > 0")
        self.num_downsamples = num_downsamples
        self.num_res_blocks = num_res_blocks
        self.decoder_blocks = decoder_blocks
        self.noise_channels = noise_channels
        self.style_dim = style_dim
        self.residual_output = residual_output
        self.palette_colors = palette_colors
        self.position_inputs = position_inputs
        self.texture_side = texture_side
        widths = [base_channels * 2**i for i in range(num_downsamples + 1)]
        self.stem = conv3x3(3 + noise_channels + 3 * bool(texture_side) + 2 * position_inputs, widths[0], padding_mode)
        self.down = nn.ModuleList(conv3x3(widths[i], widths[i + 1], padding_mode, stride=2) for i in range(num_downsamples))
        self.body = nn.Sequential(*(ResidualBlock(widths[-1], padding_mode) for _ in range(num_res_blocks)))
        self.up = nn.ModuleList(UpBlock(widths[i + 1], widths[i], padding_mode, decoder_blocks) for i in reversed(range(num_downsamples)))
        self.head = conv3x3(widths[0], 3, padding_mode)
        if residual_output:  # the change starts at zero: an untrained model returns the photo exactly
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        if noise_channels:  # rebuilt from a fixed seed, never saved: every copy of the model draws the same field
            field = torch.randn(1, noise_channels, NOISE_PERIOD, NOISE_PERIOD, generator=torch.Generator().manual_seed(0))
            self.register_buffer("noise_field", field, persistent=False)
        if texture_side:  # saved: the picture this model draws its texture from, in [-1, 1] (set by `with_texture`)
            self.register_buffer("texture", torch.zeros(1, 3, texture_side, texture_side))
        if style_dim:
            # Channels modulated, in forward's order: stem, each down, body, each up.
            self.modulated = [widths[0], *widths[1:], widths[-1], *reversed(widths[:-1])]
            hidden = 4 * style_dim
            self.modulation = nn.Sequential(nn.Linear(style_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 2 * sum(self.modulated)))
            nn.init.zeros_(self.modulation[-1].weight)  # starts unmodulated: the code's effect is learned
            nn.init.zeros_(self.modulation[-1].bias)
            self.register_buffer("style_code", torch.zeros(1, style_dim))  # saved: the style a fine-tuned model draws
        if encoder_channels:
            self.encoder = StyleEncoder(encoder_channels, style_dim)

    def with_noise_channels(self, noise_channels: int) -> "StyleGenerator":
        """This model with `noise_channels` noise inputs: added ones get zero weights, so the output is unchanged
        until training gives the noise a use (a texture to draw). Fewer than the model has is refused."""
        if noise_channels < self.noise_channels:
            raise ValueError(f"noise_channels {noise_channels}: this model already has {self.noise_channels}")
        if noise_channels == self.noise_channels:
            return self
        return self._with_stem_inputs(dict(noise_channels=noise_channels), 3 + self.noise_channels, noise_channels - self.noise_channels)

    def with_texture(self, picture: torch.Tensor, side: int) -> "StyleGenerator":
        """This model drawing from `picture` (3, H, W) in [0, 1], a texture: its shorter side scaled to `side` pixels and
        its centre square kept, given to the network at every place of a photo (see the module's docstring). A model
        without a texture input gets one with zero weights, so its output is unchanged until training uses it."""
        if side < 16 or min(picture.shape[-2:]) < 16:
            raise ValueError(f"a texture needs at least 16x16 pixels, got side {side} and a picture of {tuple(picture.shape[-2:])}")
        if self.texture_side:  # the same weights, a new picture of any size
            textured = type(self)(**dict(self._hub_mixin_config, texture_side=side)).to(self.stem.weight)
            textured.load_state_dict(dict(self.state_dict(), texture=textured.texture))
            textured.train(self.training)
        else:
            textured = self._with_stem_inputs(dict(texture_side=side), 3 + self.noise_channels, 3)
        textured.texture.copy_(square_picture(picture.float(), side)[None] * 2 - 1)
        return textured

    def with_position_inputs(self) -> "StyleGenerator":
        """This model seeing where each pixel is in the picture (`position_inputs`): the added inputs get zero
        weights, so the output is unchanged until training finds a use for them (a vignette)."""
        if self.position_inputs:
            return self
        return self._with_stem_inputs(dict(position_inputs=True), self.stem.in_channels, 2)

    def _with_stem_inputs(self, changes: dict, index: int, count: int) -> "StyleGenerator":
        """A copy with the layout `changes` that add `count` stem inputs at `index`, their weights zero."""
        widened = type(self)(**dict(self._hub_mixin_config, **changes)).to(self.stem.weight)
        state = dict(widened.state_dict(), **self.state_dict())  # a buffer the layout adds (a texture) starts fresh
        weight = state["stem.weight"]
        zeros = weight.new_zeros(self.stem.out_channels, count, 3, 3)
        state["stem.weight"] = torch.cat([weight[:, :index], zeros, weight[:, index:]], dim=1)
        widened.load_state_dict(state)
        return widened.train(self.training)

    def with_palette_colors(self, palette_colors: int) -> "StyleGenerator":
        """This model snapping its output to `palette_colors` colours chosen per picture (0: no snap); the weights
        are the same, the snap is in the layout."""
        if palette_colors == self.palette_colors:
            return self
        snapping = type(self)(**dict(self._hub_mixin_config, palette_colors=palette_colors)).to(self.stem.weight)
        snapping.load_state_dict(self.state_dict())
        return snapping.train(self.training)

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

        The layers as defined (an upsampling block's convolution at its output size, though `upsample_conv` runs it
        with 16/36 of those multiply-adds), counted as `torch.utils.flop_counter.FlopCounterMode` counts them
        (convolutions only, no biases), but from one pass on the smallest input the network takes: every layer's
        output is a fixed fraction of the input's pixels, so the count scales exactly with height x width (once
        rounded up to multiples of `size_multiple`). That takes milliseconds, where a real 512x512 pass or the flop
        counter's import takes seconds.
        """
        height, width = -(-height // self.size_multiple) * self.size_multiple, -(-width // self.size_multiple) * self.size_multiple
        side = 2 * self.size_multiple  # reflection padding needs at least 2 pixels at the lowest resolution
        parameter = next(self.parameters())
        total = 0

        def count(module: nn.Module, inputs, output: torch.Tensor) -> None:
            nonlocal total
            conv = module.conv if isinstance(module, UpBlock) else module  # its output has the convolution's shape
            total += 2 * output.numel() * conv.kernel_size[0] * conv.kernel_size[1] * conv.in_channels // conv.groups

        upsampling = {id(m.conv) for m in self.modules() if isinstance(m, UpBlock)}  # counted by their block
        counted = [m for m in self.modules() if isinstance(m, UpBlock) or (isinstance(m, nn.Conv2d) and id(m) not in upsampling)]
        hooks = [m.register_forward_hook(count) for m in counted]
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
        return periodic_window(self.noise_field, *origin, height, width).to(x.dtype).expand(batch, -1, -1, -1)

    def texture_like(self, x: torch.Tensor, origin: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """The texture channels for batch x (B, 3, H, W): the stored texture, mirrored so that it repeats without
        seams, at x's place in the whole image (`origin`, as in `noise_like`); while training, at a random place
        for each sample, so the network learns to use any part of it."""
        batch, _, height, width = x.shape
        tile = mirrored(self.texture[0])  # (3, 2S, 2S)
        if not self.training:
            return periodic_window(tile, *origin, height, width).to(x.dtype).expand(batch, -1, -1, -1)
        places = torch.randint(0, tile.shape[-1], (batch, 2)).tolist()
        return torch.stack([periodic_window(tile, top, left, height, width) for top, left in places]).to(x.dtype)

    def position_like(self, x: torch.Tensor, origin: tuple[int, int] = (0, 0), frame: tuple[int, int] | None = None) -> torch.Tensor:
        """Row and column of every pixel of x in the whole picture, each in [-1, 1] (B, 2, H, W): `origin` is x's
        top-left pixel in the picture and `frame` the picture's height and width (default: x is the whole picture)."""
        batch, _, height, width = x.shape
        grid = position_grid(*origin, height, width, frame or (height, width), x.device)
        return grid.to(x.dtype).expand(batch, -1, -1, -1)

    def encode_style(self, pictures: torch.Tensor) -> torch.Tensor:
        """Style pictures (B, 3, H, W) in [0, 1], any size -> one style code (1, style_dim): the mean of their codes,
        so a few exemplars of one style give one style."""
        if not hasattr(self, "encoder"):
            raise ValueError("this model has no style encoder: use a zero-shot model such as builtin:any for style pictures")
        parameter = next(self.encoder.parameters())
        fitted = fit_style_picture(pictures.to(parameter.device, torch.float32), ENCODER_SIDE)
        return self.encoder(fitted.to(parameter.dtype) * 2 - 1).float().mean(dim=0, keepdim=True)

    def style_code_of(self, pictures: "str | Image.Image | np.ndarray | list") -> torch.Tensor:
        """The style code (1, style_dim) of one style picture or several of one style (paths, PIL images, arrays).

        Codes are cached by the pictures' pixels, so restyling more photos with the same style picture costs only the
        generator."""
        import hashlib

        from ..images import load_image
        from ..inference import pil_to_tensor

        items = pictures if isinstance(pictures, (list, tuple)) else [pictures]
        if not items:
            raise ValueError("give at least one style picture")
        loaded = []
        for item in items:
            picture = load_image(item).convert("RGB")
            factor = min(picture.size) // (2 * ENCODER_SIDE)  # the encoder sees ENCODER_SIDE px: no need to hash or
            loaded.append(picture.reduce(factor) if factor > 1 else picture)  # convert a large picture at full size
        key = hashlib.sha256(b"".join(hashlib.sha256(p.tobytes() + repr(p.size).encode()).digest() for p in loaded)).hexdigest()
        cache = self.__dict__.setdefault("_style_codes", {})  # on the CPU, whatever device the model moves to
        if key not in cache:
            parameter = next(self.parameters())
            with torch.inference_mode():
                codes = [self.encode_style(pil_to_tensor(p).to(parameter.device)) for p in loaded]  # sizes differ
            with _STYLE_CODE_LOCK:  # the app reads codes from several threads
                if len(cache) >= STYLE_CODE_CACHE:
                    cache.pop(next(iter(cache)), None)
                cache[key] = torch.cat(codes).mean(dim=0, keepdim=True).cpu()
        return cache[key].to(self.style_code.device, copy=True)

    def with_style(self, code: torch.Tensor) -> "StyleGenerator":
        """A copy of this model that draws the style `code` (1, style_dim) by default (its saved `style_code`)."""
        if not self.style_dim:
            raise ValueError("this model takes no style code (style_dim is 0)")
        if code.shape != (1, self.style_dim):
            raise ValueError(f"a style code for this model has shape (1, {self.style_dim}), got {tuple(code.shape)}")
        styled = copy.deepcopy(self)
        styled.style_code.copy_(code.detach())
        return styled

    def for_style(self, code: torch.Tensor) -> "StyleGenerator":
        """`with_style(code)` for stylizing: the copy is kept and handed out again for the same code while this
        model's weights are unchanged, so its prepared inference copy is reused too. Shared: do not train it."""
        from ..inference import state_fingerprint

        fingerprint = state_fingerprint(self)
        if fingerprint is None:
            return self.with_style(code)
        key = (code.detach().cpu().float().numpy().tobytes(), fingerprint)
        cache = self.__dict__.setdefault("_styled_copies", {})
        with _STYLE_CODE_LOCK:
            styled = cache.get(key)
        if styled is None:
            styled = self.with_style(code)
            with _STYLE_CODE_LOCK:
                if len(cache) >= STYLED_COPY_CACHE:
                    cache.pop(next(iter(cache)), None)
                cache[key] = styled
        return styled

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_styled_copies", None)  # copies and pickles leave out the ready copies of this model's styles
        return state

    def _modulations(self, style: torch.Tensor | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(scale, shift) pairs for the stages in `modulated`'s order: each (C,) for the model's own `style_code`,
        which every sample shares, else (B, C, 1, 1) for one code per sample."""
        code = self.style_code if style is None else style
        scales, shifts = self.modulation(code.to(self.style_code.dtype)).chunk(2, dim=1)
        scales, shifts = (scales[0], shifts[0]) if style is None else (scales[..., None, None], shifts[..., None, None])
        dim = 0 if style is None else 1
        return list(zip((1 + scales).split(self.modulated, dim), shifts.split(self.modulated, dim)))

    def forward(
        self,
        x: torch.Tensor,
        origin: tuple[int, int] = (0, 0),
        style: torch.Tensor | None = None,
        palette: torch.Tensor | None = None,
        snap: bool = True,
        frame: tuple[int, int] | None = None,
        positions: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # x: (B, 3, H, W) in [-1, 1], H and W multiples of size_multiple; `origin` and `frame` place it in its whole
        # picture (a tile), or `positions` (B, 2, H, W) gives each pixel's place (training crops)
        # noise (models with noise_channels): (B, noise_channels, H, W) instead of `noise_like`'s, for training crops
        # that carry the inference field at their place (a distillation of a model with noise inputs)
        # style: None (the model's style_code), codes (B, style_dim), or style pictures (B, 3, S, S) in [-1, 1]
        # fitted to ENCODER_SIDE, encoded here so that training under DDP sees one forward for both networks
        # palette (models with palette_colors): (B, palette_colors, 3) to snap to, else each output's own; snap=False
        # returns the output before the snap (what a palette is chosen from)
        if x.shape[-2] % self.size_multiple or x.shape[-1] % self.size_multiple:
            raise ValueError(
                f"height and width must be multiples of {self.size_multiple}, got {tuple(x.shape[-2:])}; "
                "use stylize() for images of any size"
            )
        if noise is not None and noise.shape[1] != self.noise_channels:
            raise ValueError(f"{noise.shape[1]} noise channels given to a model with {self.noise_channels} noise inputs")
        if style is not None and not self.style_dim:
            raise ValueError("this model takes no style code (style_dim is 0)")
        if style is not None and style.dim() == 4:
            if not hasattr(self, "encoder"):
                raise ValueError("this model has no style encoder: pass style codes, not pictures")
            style = self.encoder(style)
        films = iter(self._modulations(style) if self.style_dim else ())

        def modulate(h: torch.Tensor) -> torch.Tensor:
            scale, shift = next(films, (None, None))
            if scale is None:
                return h
            return channel_affine(h, scale, shift) if scale.dim() == 1 else h * scale + shift

        photo = x
        if self.noise_channels:
            x = torch.cat([x, self.noise_like(x, origin) if noise is None else noise.to(x)], dim=1)  # (B, 3 + noise_channels, H, W)
        if self.texture_side:
            x = torch.cat([x, self.texture_like(photo, origin)], dim=1)  # (B, 3 + noise_channels + 3, H, W)
        if self.position_inputs:
            x = torch.cat([x, (self.position_like(x, origin, frame) if positions is None else positions).to(x)], dim=1)
        h = modulate(F.leaky_relu(self.stem(x), 0.2))
        skips = []
        for down in self.down:
            skips.append(h)
            h = modulate(F.leaky_relu(down(h), 0.2))
        h = modulate(self.body(h))
        for up, skip in zip(self.up, reversed(skips)):
            h = modulate(up(h, skip))
        out = photo + self.head(h) if self.residual_output else self.head(h)
        if not self.palette_colors or not snap:
            return out
        if palette is None:  # chosen among the colours a picture can show, as `palette_of` chooses it
            palette = kmeans_palette(out.detach().clamp(-1, 1), self.palette_colors)
        return snap_to_palette(out, palette)

    def forward_image(
        self,
        photo: torch.Tensor,
        origin: tuple[int, int] = (0, 0),
        palette: torch.Tensor | None = None,
        snap: bool = True,
        frame: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """The network as an image filter: (B, 3, H, W) in [0, 1] -> the same size in [0, 1], for any H and W of at
        least 2 * size_multiple (reflection padding up to the stride's multiple, cropped after). This is what the
        ONNX export contains; `stylize` adds tiling, tiny images, strength and colour options around it. `origin`
        places a tile in its whole image (see `noise_like`) and `frame` is that image's height and width (default: the
        photo is the whole image), `palette` gives a tile its whole image's palette (`palette_of`)."""
        height, width = photo.shape[-2:]
        x = (photo.float() * 2 - 1).to(next(self.parameters()).dtype)  # scaled in float32, then the network's dtype
        x = F.pad(x, (0, -width % self.size_multiple, 0, -height % self.size_multiple), mode="reflect")
        if palette is not None:
            palette = palette.to(x) * 2 - 1
        output = self(x, origin, palette=palette, snap=snap, frame=frame or (height, width))  # the padding is outside the frame
        return ((output[..., :height, :width].float() + 1) / 2).clamp(0, 1)

    def palette_of(self, photo: torch.Tensor) -> torch.Tensor | None:
        """The palette (B, palette_colors, 3) in [0, 1] this model snaps a whole photo (B, 3, H, W) in [0, 1] to,
        chosen from its output on the photo fitted into PALETTE_SIDE pixels: the tiles of a large photo share it, and
        a photo that fits gets exactly the palette of an untiled pass. None for a model without a palette."""
        if not self.palette_colors:
            return None
        from ..inference import fit_tensor

        with torch.no_grad():
            return kmeans_palette(self.forward_image(fit_tensor(photo.float(), PALETTE_SIDE), snap=False), self.palette_colors)

    def stylize(
        self,
        image: "str | Image.Image | np.ndarray | torch.Tensor",
        strength: float = 1.0,
        preserve_color: bool = False,
        max_side: int | None = None,
        tile: int | None = None,
        precision: str = "auto",
        work_side: int | None = None,
        style_image: "str | Image.Image | np.ndarray | list | None" = None,
        styles: "Mapping[str | StyleGenerator, float] | None" = None,
    ) -> "Image.Image | list[Image.Image]":
        """Stylize a photo (path, PIL image, numpy array) or a tensor batch in [0, 1]; see `stylegan_hub.inference`.

        `style_image` (a zero-shot model such as builtin:any): draw the style of that picture, or of several pictures
        of one style, instead of the model's own. `styles` ({model name or model: weight}): draw a blend of styles
        that carry a style code instead, on this model's device; it loads and blends them on every call, so for many
        photos blend once with `stylegan_hub.mixing.mix_styles`."""
        from ..inference import stylize

        if style_image is not None and styles is not None:
            raise ValueError("give style_image or styles, not both")
        if styles is not None:
            from ..mixing import mix_styles

            model = mix_styles(styles).to(next(self.parameters()).device)
        else:
            model = self if style_image is None else self.for_style(self.style_code_of(style_image))
        return stylize(
            model, image, strength=strength, preserve_color=preserve_color, max_side=max_side, tile=tile, precision=precision, work_side=work_side
        )
