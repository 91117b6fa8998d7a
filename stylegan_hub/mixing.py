"""Style mixing: a weighted blend of styles that carry a style code, as one ordinary model.

Styles of one family (the zero-shot model `builtin:any`, its styles from pictures, and the personal styles fine-tuned
from it) share an architecture and start from the same weights, so a blend interpolates their style codes and their
weights alike (for pictures of one zero-shot model the weights are equal and only the codes move). The result saves,
loads and pushes like any other model.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .errors import StyleGanHubError
from .models import StyleGenerator


def _load(style: str | StyleGenerator) -> tuple[str, StyleGenerator]:
    if isinstance(style, StyleGenerator):
        return "a model", style
    return str(style), StyleGenerator.from_pretrained(style)


def mix_styles(styles: Mapping[str | StyleGenerator, float]) -> StyleGenerator:
    """One model drawing a blend of `styles` (model names or loaded models, each with a weight >= 0; the weights are
    normalised to sum to 1), e.g. `mix_styles({"my-oil": 0.7, "my-ink": 0.3})`."""
    if len(styles) < 2:
        raise StyleGanHubError(f"give two or more styles to mix, got {len(styles)}")
    weights = [float(weight) for weight in styles.values()]
    if any(not weight >= 0 for weight in weights) or sum(weights) <= 0:
        raise StyleGanHubError(f"mixing weights must be >= 0 and not all 0, got {weights}")
    models = [_load(style) for style in styles]
    for name, model in models:
        if not model.style_dim:
            raise StyleGanHubError(
                f"{name}: has no style code, so it cannot be mixed; mix styles fine-tuned from builtin:any (stylegan-hub finetune --base builtin:any)"
            )
    # A style fine-tuned with noise or position inputs (from pairs) still mixes with its base: the others get them too,
    # with zero weights.
    noise_channels = max(model.noise_channels for _, model in models)
    models = [(name, model.with_noise_channels(noise_channels)) for name, model in models]
    if any(model.position_inputs for _, model in models):
        models = [(name, model.with_position_inputs()) for name, model in models]
    # A texture style mixes with styles without a texture (they get its picture, with zero weights), not with another
    # texture: averaged, two pictures would lie over each other.
    textured = [(name, model) for name, model in models if model.texture_side]
    if textured:
        texture_name, texture_model = textured[0]
        picture = texture_model.texture.detach().cpu()
        for name, model in textured[1:]:
            if not torch.equal(model.texture.detach().cpu(), picture):
                raise StyleGanHubError(
                    f"{name} and {texture_name} draw different texture pictures, which cannot be blended; mix a texture style only with styles without one"
                )
        side = texture_model.texture_side
        models = [(name, model if model.texture_side else model.with_texture((picture[0] + 1) / 2, side)) for name, model in models]
    first_name, first = models[0]
    for name, model in models:
        if model._hub_mixin_config != first._hub_mixin_config:
            raise StyleGanHubError(f"{name} and {first_name} have different architectures and cannot be mixed; mix styles of one base model")
    total = sum(weights)
    states = [{key: value.detach().cpu() for key, value in model.state_dict().items()} for _, model in models]  # any devices
    mixed = {key: sum(weight / total * state[key].float() for weight, state in zip(weights, states)).to(value.dtype) for key, value in states[0].items()}
    result = StyleGenerator(**first._hub_mixin_config)
    result.load_state_dict(mixed)
    return result.to(next(first.parameters()).device).eval()


def parse_mix(words: list[str]) -> dict[str, float]:
    """Command-line `NAME=WEIGHT` words -> {name: weight}."""
    styles = {}
    for word in words:
        name, equals, weight = word.rpartition("=")
        try:
            styles[name] = float(weight)
        except ValueError:
            name = ""
        if not equals or not name:
            raise StyleGanHubError(f"{word!r}: write each style as NAME=WEIGHT, e.g. builtin:any=0.5")
    return styles

