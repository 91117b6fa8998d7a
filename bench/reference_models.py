"""REFERENCE architectures for the benchmarks, re-built from their papers' published definitions.

These are not part of stylegan-hub. `bench/speed.py` runs the generators below with random weights, since latency,
parameters and FLOPs depend only on the architecture; `bench/paired_layouts.py` trains the context aggregation
network on a teacher's before/after pairs beside our generator's layout, to see which layout can learn a style.

* TransformerNet: Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer" (2016), with the
  instance normalisation and upsample-then-convolve decoder of the PyTorch fast-neural-style example.
* AnimeGANv2: Chen, Liu & Chen, "AnimeGAN" (2019) generator, v2 layout (layer-normalised conv blocks, inverted
  residual blocks, bilinear upsampling) as ported to PyTorch for the converted v2 weights.
* CycleGAN ResNet-9: Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks"
  (2017), the 9-residual-block generator for 256 px images and larger (ngf 64, instance norm, transposed convs).
* Context aggregation network: Chen, Xu & Koltun, "Fast Image Processing with Fully-Convolutional Networks" (2017),
  which learns image operators (edge-aware smoothing, pencil drawing, tone mapping) from input/output pairs: 3x3
  convolutions at full resolution whose dilation doubles layer by layer, here with an output added to the input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------- TransformerNet (Johnson et al. 2016)


def _reflect_conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, bias: bool = True) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(kernel_size // 2), nn.Conv2d(in_channels, out_channels, kernel_size, stride, bias=bias))


class _ConvInstanceNorm(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, relu: bool = True):
        layers = [*_reflect_conv(in_channels, out_channels, kernel_size, stride), nn.InstanceNorm2d(out_channels, affine=True)]
        super().__init__(*layers, *([nn.ReLU()] if relu else []))


class _TransformerResidual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(_ConvInstanceNorm(channels, channels, 3), _ConvInstanceNorm(channels, channels, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _UpsampleConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = _ConvInstanceNorm(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TransformerNet(nn.Module):
    """1.68 M parameters: 9x9 stem, two stride-2 convs, five 128-channel residual blocks, two upsampling convs."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            _ConvInstanceNorm(3, 32, 9),
            _ConvInstanceNorm(32, 64, 3, stride=2),
            _ConvInstanceNorm(64, 128, 3, stride=2),
            *(_TransformerResidual(128) for _ in range(5)),
            _UpsampleConv(128, 64),
            _UpsampleConv(64, 32),
            *_reflect_conv(32, 3, 9),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


# --------------------------------------------------------------------------- AnimeGANv2 (Chen et al. 2019)


class _ConvLayerNormLReLU(nn.Sequential):
    """Conv (reflect padded) + layer norm over (C, H, W) as GroupNorm(1) + LeakyReLU(0.2), in place as published."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, padding=1, groups: int = 1):
        super().__init__(
            nn.ReflectionPad2d(padding),
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, groups=groups, bias=groups > 1),
            nn.GroupNorm(1, out_channels),
            nn.LeakyReLU(0.2, inplace=True),
        )


class _InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 project; a skip when the widths agree."""

    def __init__(self, in_channels: int, out_channels: int, expansion: int = 2):
        super().__init__()
        hidden = in_channels * expansion
        self.body = nn.Sequential(
            _ConvLayerNormLReLU(in_channels, hidden, kernel_size=1, padding=0),
            _ConvLayerNormLReLU(hidden, hidden, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.GroupNorm(1, out_channels),
        )
        self.skip = in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.skip else self.body(x)


class AnimeGANv2(nn.Module):
    """2.14 M parameters: an encoder to 1/4 resolution, four inverted residual blocks, bilinear upsampling decoder."""

    def __init__(self):
        super().__init__()
        down = (0, 1, 0, 1)  # TensorFlow's "same" padding for a stride-2 3x3 conv
        self.block_a = nn.Sequential(
            _ConvLayerNormLReLU(3, 32, 7, padding=3), _ConvLayerNormLReLU(32, 64, stride=2, padding=down), _ConvLayerNormLReLU(64, 64)
        )
        self.block_b = nn.Sequential(_ConvLayerNormLReLU(64, 128, stride=2, padding=down), _ConvLayerNormLReLU(128, 128))
        self.block_c = nn.Sequential(
            _ConvLayerNormLReLU(128, 128),
            _InvertedResidual(128, 256),
            *(_InvertedResidual(256, 256) for _ in range(3)),
            _ConvLayerNormLReLU(256, 128),
        )
        self.block_d = nn.Sequential(_ConvLayerNormLReLU(128, 128), _ConvLayerNormLReLU(128, 128))
        self.block_e = nn.Sequential(_ConvLayerNormLReLU(128, 64), _ConvLayerNormLReLU(64, 64), _ConvLayerNormLReLU(64, 32, 7, padding=3))
        self.out = nn.Conv2d(32, 3, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.block_a(x)
        h = self.block_c(self.block_b(half))
        h = self.block_d(F.interpolate(h, half.shape[-2:], mode="bilinear", align_corners=True))
        h = self.block_e(F.interpolate(h, x.shape[-2:], mode="bilinear", align_corners=True))
        return torch.tanh(self.out(h))


# --------------------------------------------------------------------------- CycleGAN ResNet-9 (Zhu et al. 2017)


class _CycleResidual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            *_reflect_conv(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(True), *_reflect_conv(channels, channels, 3)
        )
        self.norm = nn.InstanceNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.norm(self.body(x))


class CycleGANResnet9(nn.Module):
    """11.4 M parameters: 7x7 stem, two stride-2 convs, nine 256-channel residual blocks, two transposed convs."""

    def __init__(self, width: int = 64, num_blocks: int = 9):
        super().__init__()
        layers = [*_reflect_conv(3, width, 7), nn.InstanceNorm2d(width), nn.ReLU(True)]
        for i in range(2):
            layers += [nn.Conv2d(width * 2**i, width * 2 ** (i + 1), 3, 2, 1), nn.InstanceNorm2d(width * 2 ** (i + 1)), nn.ReLU(True)]
        layers += [_CycleResidual(width * 4) for _ in range(num_blocks)]
        for i in (2, 1):
            layers += [
                nn.ConvTranspose2d(width * 2**i, width * 2 ** (i - 1), 3, 2, 1, output_padding=1),
                nn.InstanceNorm2d(width * 2 ** (i - 1)),
                nn.ReLU(True),
            ]
        layers += [*_reflect_conv(width, 3, 7), nn.Tanh()]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


# --------------------------------------------------------------------------- context aggregation (Chen et al. 2017)


class ContextAggregationNet(nn.Module):
    """Full-resolution 3x3 convolutions dilated 1, 1, 2, 4, ... (the receptive field doubles per layer, no resolution
    is lost), LeakyReLU, then a 1x1 head whose output is added to the input (zero-initialised: it starts as the
    identity). The paper's adaptive normalisation is left out: our crops and pictures are normalised the same way."""

    def __init__(self, width: int = 32, dilations: tuple[int, ...] = (1, 1, 2, 4, 8, 16, 32, 64, 1)):
        super().__init__()
        layers, channels = [], 3
        for dilation in dilations:
            layers += [nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation, padding_mode="reflect"), nn.LeakyReLU(0.2)]
            channels = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, 3, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) in [-1, 1], H and W above the largest dilation
        return x + self.head(self.body(x))


REFERENCES = {"TransformerNet": TransformerNet, "AnimeGANv2": AnimeGANv2, "CycleGAN-ResNet9": CycleGANResnet9}
"""Reference generators by the name the speed report uses."""
