import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_loads_as_saved
from PIL import Image
from safetensors.torch import load_file

from stylegan_hub import ModelLoadError, StyleDiscriminator, StyleGenerator, builtin_styles
from stylegan_hub.cli import main as cli
from stylegan_hub.models.generator import square_picture, upsample_conv
from stylegan_hub.models.hub import builtin_names


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (StyleGenerator, dict(base_channels=8, num_downsamples=3, num_res_blocks=2, padding_mode="zeros", decoder_blocks=1, noise_channels=2, style_dim=4, encoder_channels=4, residual_output=True, palette_colors=3, position_inputs=True, texture_side=16)),
        (StyleDiscriminator, dict(channels=[8, 16, 16], num_domains=3)),
    ],
)
def test_round_trip_identical_outputs_and_complete_config(tmp_path, cls, kwargs):
    torch.manual_seed(0)
    model = cls(**kwargs).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and not list(tmp_path.glob("*.bin"))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["_class_name"] == cls.__name__
    assert {k: v for k, v in config.items() if not k.startswith("_")} == kwargs  # every __init__ argument, JSON-safe
    loaded = cls.from_pretrained(tmp_path)
    assert not loaded.training
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out, ref = loaded(x), model(x)
    for a, b in zip(out if isinstance(out, tuple) else [out], ref if isinstance(ref, tuple) else [ref]):
        assert torch.equal(a, b)


def test_hub_metadata():
    info = StyleGenerator._hub_mixin_info.model_card_data
    assert info.library_name == "stylegan-hub" and info.pipeline_tag == "image-to-image"
    assert {"style-transfer", "gan"} <= set(info.tags)


def _saved(tmp_path):
    StyleGenerator(base_channels=4, num_res_blocks=1).save_pretrained(tmp_path)
    return tmp_path


def _edit_config(path, **changes):
    config = json.loads((path / "config.json").read_text())
    config.update(changes)
    config = {k: v for k, v in config.items() if v is not None}
    (path / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(base_channels=8), "wrong shape"),
        (dict(num_res_blocks=2), "missing"),
        (dict(num_res_blocks=None), "missing keys: ['num_res_blocks']"),
        (dict(extra_option=1), "unknown keys: ['extra_option']"),
        (dict(_format_version=99), "upgrade"),
        (dict(_class_name="UNet2DModel"), "holds a UNet2DModel"),
        (dict(_class_name=None), "not a stylegan-hub model"),
        (dict(padding_mode="circular-ish"), "invalid config"),
        (dict(base_channels=-3), "invalid config"),
    ],
)
def test_strict_loading_errors(tmp_path, change, message):
    _edit_config(_saved(tmp_path), **change)
    with pytest.raises(ModelLoadError, match=message.replace("[", r"\[").replace("]", r"\]")):
        StyleGenerator.from_pretrained(tmp_path)


def test_a_model_saved_before_decoder_blocks_existed_still_loads(tmp_path):
    """Styles published before the argument was added have no `decoder_blocks` in their config: they had none."""
    saved = _saved(tmp_path)
    _edit_config(saved, decoder_blocks=None)
    assert "decoder_blocks" not in json.loads((tmp_path / "config.json").read_text())
    loaded = StyleGenerator.from_pretrained(tmp_path)
    assert loaded.decoder_blocks == 0 and all(len(up.refine) == 0 for up in loaded.up)


def test_a_residual_generator_learns_the_change_and_starts_as_the_identity(tmp_path):
    """With `residual_output` the head's output is added to the photo, so an untrained model returns the photo exactly
    through every path users take (the prepared inference copy, tiling); models saved before the option had none."""
    generator = StyleGenerator(base_channels=4, num_res_blocks=1, noise_channels=2, style_dim=4, residual_output=True).eval()
    photo = torch.rand(1, 3, 40, 56)
    assert torch.allclose(generator.forward_image(photo), photo, atol=1e-6)
    picture = Image.fromarray((photo[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    for tile in (None, 16):
        assert np.array_equal(np.asarray(generator.stylize(picture, tile=tile, precision="float32")), np.asarray(picture))
    with torch.no_grad():
        generator.head.bias.fill_(0.2)  # a learned change is added on top of the photo
    assert torch.allclose(generator.forward_image(photo), (photo + 0.1).clamp(0, 1), atol=1e-6)
    with pytest.raises(ValueError, match="residual_output must be true or false"):
        StyleGenerator(residual_output=1)
    _edit_config(_saved(tmp_path), residual_output=None)
    assert StyleGenerator.from_pretrained(tmp_path).residual_output is False


def test_noise_is_fresh_while_training_and_a_fixed_field_of_image_position_at_inference(tmp_path):
    """Fresh draws keep a learned texture from hanging on one draw; at inference the field belongs to the image's
    pixels, so a tile at `origin` sees exactly the noise the whole image has there, and no copy of the model differs."""
    model = StyleGenerator(base_channels=4, num_res_blocks=1, noise_channels=3)
    x = torch.zeros(2, 3, 40, 48)
    assert not torch.equal(model.noise_like(x), model.noise_like(x))
    model.eval()
    whole = model.noise_like(torch.zeros(1, 3, 600, 600))
    assert whole.shape == (1, 3, 600, 600) and torch.equal(whole, model.noise_like(torch.zeros(1, 3, 600, 600)))
    assert torch.equal(model.noise_like(x, origin=(300, 520))[0], whole[0, :, 300:340, 520:568])
    assert 0.9 < whole.std() < 1.1 and not torch.equal(whole[:, 0], whole[:, 1])
    model.save_pretrained(tmp_path)
    assert "noise_field" not in load_file(tmp_path / "model.safetensors")  # rebuilt from its seed, not stored
    assert torch.equal(StyleGenerator.from_pretrained(tmp_path).noise_like(x), model.noise_like(x))


def test_adding_noise_channels_keeps_the_output_and_saves_them(tmp_path):
    torch.manual_seed(0)
    plain = StyleGenerator(base_channels=4, num_res_blocks=1).eval()
    widened = plain.with_noise_channels(3)
    assert widened.noise_channels == 3 and not widened.training and widened.with_noise_channels(3) is widened
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert torch.allclose(widened(x), plain(x), atol=1e-6)
    with torch.no_grad():
        widened.stem.weight[:, 3:] += 0.5  # once trained, the noise shows
    assert not torch.allclose(widened(x), plain(x), atol=1e-3)
    widened.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["noise_channels"] == 3
    assert torch.equal(StyleGenerator.from_pretrained(tmp_path)(x), widened(x))
    with pytest.raises(ValueError, match="already has 3"):
        widened.with_noise_channels(2)


def test_a_texture_input_starts_unused_lies_on_the_picture_by_place_and_is_saved_with_the_model(tmp_path):
    """A texture style's own picture at every place: mirrored so it repeats without seams, tied to the image's pixels at
    inference (tiles agree), at random places while training; the picture is part of the saved model."""
    torch.manual_seed(0)
    plain = StyleGenerator(base_channels=4, num_res_blocks=1, noise_channels=2).eval()
    picture = torch.rand(3, 40, 60)
    textured = plain.with_texture(picture, 16)
    assert textured.texture_side == 16 and textured.stem.in_channels == 8 and plain.stem.in_channels == 5
    assert torch.allclose(textured.texture[0], square_picture(picture, 16) * 2 - 1)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(textured(x), plain(x), atol=1e-6)  # zero weights: unchanged until trained
        textured.stem.weight[:, 5:] += 0.5
        assert not torch.allclose(textured(x), plain(x), atol=1e-3)
    whole = textured.texture_like(torch.zeros(1, 3, 80, 80))
    assert torch.equal(whole[..., :16, :16], textured.texture)
    assert torch.equal(whole[..., :16, 16:32], textured.texture.flip(-1))  # the mirror: no seam where copies meet
    assert torch.equal(whole[..., :32, :32], whole[..., 32:64, 32:64])  # repeats every two sides
    assert torch.equal(textured.texture_like(x, origin=(5, 7)), whole[..., 5:37, 7:39])
    textured.train()
    batch = textured.texture_like(torch.zeros(8, 3, 20, 20))
    assert batch.shape == (8, 3, 20, 20) and len({sample.sum().item() for sample in batch}) > 1  # places vary
    textured.save_pretrained(tmp_path)
    loaded = StyleGenerator.from_pretrained(tmp_path).eval()
    assert loaded.texture_side == 16 and torch.equal(loaded.texture, textured.texture)
    assert torch.equal(loaded(x), textured.eval()(x))
    other = textured.with_texture(torch.rand(3, 30, 30), 24)  # another picture and size, the same weights
    assert other.texture.shape == (1, 3, 24, 24) and torch.equal(other.stem.weight, textured.stem.weight)
    noisier = textured.with_noise_channels(4)  # noise inputs go before the texture's, with zero weights
    assert torch.allclose(noisier(x), textured(x), atol=1e-6)
    with pytest.raises(ValueError, match="at least 16x16"):
        plain.with_texture(picture, 8)
    with pytest.raises(ValueError, match="texture_side must be an integer >= 0"):
        StyleGenerator(texture_side=-1)


def test_a_palette_model_draws_only_its_palette_one_palette_for_all_tiles_and_learns_through_the_snap(tmp_path):
    """A cartoon's flat fills: every pixel is one of `palette_colors` colours chosen per picture by k-means; the
    tiles of a large picture share the whole picture's palette (per-tile palettes would differ and leave seams);
    the snap passes gradients straight through, so training reaches the layers before it."""
    generator = StyleGenerator(base_channels=4, num_res_blocks=1, residual_output=True, palette_colors=5).eval()
    blocks = torch.rand(5, 3)[torch.arange(40 * 56) * 5 // (40 * 56)].T.reshape(1, 3, 40, 56)  # five flat colours
    with torch.no_grad():
        assert torch.allclose(generator.forward_image(blocks), blocks, atol=1e-5)  # k-means finds a picture's own five colours
        photo = torch.rand(1, 3, 300, 420)
        styled = generator.forward_image(photo)
    assert len(torch.unique(styled.flatten(2)[0].T, dim=0)) == 5 and (styled - photo).abs().mean() > 0.02
    picture = Image.fromarray((torch.rand(600, 700, 3) * 255).byte().numpy())
    whole = np.asarray(generator.stylize(picture, tile=0, precision="float32"))
    assert np.array_equal(np.asarray(generator.stylize(picture, tile=128, precision="float32")), whole)
    assert len(np.unique(whole.reshape(-1, 3), axis=0)) == 5
    generator.train()
    generator(photo[..., :64, :64] * 2 - 1).mean().backward()
    assert generator.head.weight.grad.abs().sum() > 0
    plain = StyleGenerator(base_channels=4, num_res_blocks=1)
    snapping = plain.with_palette_colors(4)
    assert snapping.palette_colors == 4 and plain.with_palette_colors(0) is plain
    assert torch.equal(snapping.head.weight, plain.head.weight)  # the same weights: the snap is in the layout
    snapping.save_pretrained(tmp_path)
    assert StyleGenerator.from_pretrained(tmp_path).palette_colors == 4
    _edit_config(tmp_path, palette_colors=None)  # saved before the option existed
    assert StyleGenerator.from_pretrained(tmp_path).palette_colors == 0
    with pytest.raises(ValueError, match="palette_colors must be 0 .* or at least 2"):
        StyleGenerator(palette_colors=1)


def test_a_palette_is_chosen_among_the_colours_a_picture_can_show():
    """Outputs beyond [-1, 1] are clipped when shown: a palette chosen from them would hold colours that clip to
    the same one, and would differ from `palette_of`'s (the palette of a large picture's tiles)."""
    generator = StyleGenerator(base_channels=4, num_res_blocks=1, residual_output=True, palette_colors=6).eval()
    with torch.no_grad():
        generator.head.bias += 0.8  # the output overshoots white
        photo = torch.rand(1, 3, 64, 96)
        styled = generator.forward_image(photo)
        palette = generator.palette_of(photo)[0]
    assert len(torch.unique(styled.flatten(2)[0].T, dim=0)) == 6
    assert torch.allclose(torch.unique(styled.flatten(2)[0].T, dim=0), torch.unique(palette, dim=0), atol=1e-6)


def test_unexpected_weight_is_rejected(tmp_path):
    from safetensors.torch import load_file, save_file

    _saved(tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    state["extra.weight"] = torch.zeros(1)
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(ModelLoadError, match="unexpected: \\['extra.weight'\\]"):
        StyleGenerator.from_pretrained(tmp_path)


def test_corrupt_truncated_and_missing_weights(tmp_path):
    _saved(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ModelLoadError, match="corrupt or truncated"):
        StyleGenerator.from_pretrained(tmp_path)
    weights.write_bytes(b"not safetensors at all")
    with pytest.raises(ModelLoadError, match="corrupt or truncated"):
        StyleGenerator.from_pretrained(tmp_path)
    weights.unlink()
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickles are never read")
    with pytest.raises(ModelLoadError, match="no model.safetensors"):
        StyleGenerator.from_pretrained(tmp_path)


def test_bad_config_json_and_wrong_class(tmp_path):
    StyleDiscriminator(channels=[4]).save_pretrained(tmp_path / "d")
    with pytest.raises(ModelLoadError, match="holds a StyleDiscriminator, not a StyleGenerator"):
        StyleGenerator.from_pretrained(tmp_path / "d")
    (tmp_path / "d" / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        StyleDiscriminator.from_pretrained(tmp_path / "d")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        StyleGenerator.from_pretrained(tmp_path / "empty")


@pytest.mark.parametrize("name", ["builtin:no-such-style", "./missing-dir", "/definitely/missing", "not a repo id!"])
def test_unknown_model_names(name):
    with pytest.raises(ModelLoadError, match="built-in"):
        StyleGenerator.from_pretrained(name)


def test_hub_id_not_cached_offline_is_explained():
    with pytest.raises(ModelLoadError, match="not in the local cache"):
        StyleGenerator.from_pretrained("someone/style-that-is-not-cached")


def test_file_instead_of_directory(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="is a file"):
        StyleGenerator.from_pretrained(tmp_path / "model.safetensors")


def test_revision_of_a_local_or_builtin_model_is_refused(tmp_path, capsys):
    StyleGenerator(base_channels=4).save_pretrained(tmp_path / "model")
    Image.new("RGB", (16, 16)).save(tmp_path / "photo.png")
    for name in ("builtin:oil", str(tmp_path / "model")):
        with pytest.raises(ModelLoadError, match="only applies to Hub models"):
            StyleGenerator.from_pretrained(name, revision="v1")
    assert cli(["stylize", "--model", "builtin:oil", "--revision", "v1", "-o", str(tmp_path / "out.png"), str(tmp_path / "photo.png")]) == 1
    assert "revision 'v1' only applies to Hub models" in capsys.readouterr().err


def test_builtin_styles_all_load_and_are_distinct():
    styles = builtin_styles()
    assert len(styles) >= 3 and "builtin:base" in builtin_names() and "builtin:base" not in styles
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    outputs = []
    for name in styles:
        assert name.startswith("builtin:")  # a colon can never be part of a Hub repo id
        generator = StyleGenerator.from_pretrained(name)
        outputs.append(generator(x))
    assert all(not torch.allclose(a, b, atol=1e-2) for i, a in enumerate(outputs) for b in outputs[i + 1 :])
    assert_loads_as_saved(StyleDiscriminator, builtin_dir("base") / "discriminator")


def builtin_dir(name):
    from stylegan_hub.models.hub import BUILTIN_DIR

    return BUILTIN_DIR / name


def test_builtin_models_are_small_and_documented():
    total = sum(f.stat().st_size for f in builtin_dir("base").parent.rglob("*") if f.is_file())
    # The base layout's generator is 8 MB (the base uses it); builtin:any's is 11 MB (its style modulation and
    # encoder), the small layout's 4 MB (the filter styles and the distilled builtin:clipart and builtin:ink); a new
    # model here must not grow the package unnoticed.
    assert total < 60e6
    for name in builtin_names():
        card = (builtin_dir(name.split(":")[1]) / "README.md").read_text()
        assert "python train/" in card or "stylegan-hub finetune" in card  # the exact rebuild command


def test_forward_rejects_odd_sizes():
    with pytest.raises(ValueError, match="multiples of 4"):
        StyleGenerator(base_channels=4)(torch.zeros(1, 3, 30, 32))


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_the_upsampling_convolution_runs_at_low_resolution_with_the_same_output_and_gradients(padding_mode, channels_last):
    """`upsample_conv` folds nearest 2x upsampling into the 3x3 kernel; it must equal (and train as) the plain
    upsample-then-convolve it replaces, edges included, and keep the input's memory format."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(5, 3, 3, padding=1, padding_mode=padding_mode)
    x = torch.randn(2, 5, 6, 7, requires_grad=True)
    fast_input = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    fast = upsample_conv(fast_input, conv)
    plain = conv(torch.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))
    assert fast.shape == plain.shape == (2, 3, 12, 14) and torch.allclose(fast, plain, atol=1e-5)
    assert fast.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    weights = torch.randn_like(plain)
    gradients = [torch.autograd.grad((y * weights).sum(), (x, conv.weight, conv.bias)) for y in (fast, plain)]
    for mine, reference in zip(*gradients):
        assert torch.allclose(mine, reference, atol=1e-4)


def test_gflops_and_parameters():
    generator = StyleGenerator()
    assert generator.num_parameters() > 100_000
    assert generator.gflops(512, 512) == pytest.approx(4 * generator.gflops(256, 256), rel=0.01)


def test_copy_of_builtin_is_loadable(tmp_path):
    shutil.copytree(builtin_dir("base"), tmp_path / "copy")
    assert_loads_as_saved(StyleGenerator, tmp_path / "copy")


def test_builtin_cards_show_metrics_that_reproduce(tmp_path, monkeypatch):
    """The figures on a built-in style's card are measured by make_builtins, and re-measuring gives the same."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "train"))
    import make_builtins

    shipped = builtin_dir("grade") / "metrics.json"
    figures = json.loads(shipped.read_text())
    card = (builtin_dir("grade") / "README.md").read_text()
    assert all(f"| {name} | {value} |" in card for name, value in figures.items())
    (tmp_path / "grade").mkdir()
    monkeypatch.setattr(make_builtins, "BUILTIN_DIR", tmp_path)
    make_builtins.write_metrics("grade")
    assert json.loads((tmp_path / "grade" / "metrics.json").read_text()) == figures


def test_position_inputs_see_the_place_in_the_whole_picture_and_tiles_agree():
    """A flat grey photo stays flat without position inputs; with them the output can change across the frame (a
    vignette), and a tiled run gives every tile the whole picture's positions, so it matches the untiled one."""
    from stylegan_hub.inference import run_generator, run_generator_tiled

    grey = torch.full((1, 3, 72, 96), 0.5)
    outputs = {}
    for position_inputs in (False, True):
        torch.manual_seed(0)
        model = StyleGenerator(base_channels=4, num_res_blocks=1, position_inputs=position_inputs).eval()
        torch.nn.init.normal_(model.stem.weight, std=0.3)
        outputs[position_inputs] = run_generator(model, grey)
    spread = {key: output.std(dim=(-2, -1)).max() for key, output in outputs.items()}  # across the frame, per channel
    assert spread[False] < 1e-5 < 1e-3 < spread[True]
    tiled = run_generator_tiled(model, grey, tile=64, overlap=24)
    assert (tiled - outputs[True]).abs().max() < 2e-3
    left_half = run_generator(model, grey[..., :48], frame=(72, 96))  # a tile, placed in its picture
    assert not torch.allclose(left_half, run_generator(model, grey[..., :48]), atol=1e-3)


def test_adding_position_inputs_keeps_the_output_and_noise_goes_before_them(tmp_path):
    torch.manual_seed(0)
    model = StyleGenerator(base_channels=4, num_res_blocks=1).eval()
    photo = torch.rand(1, 3, 32, 40) * 2 - 1
    with torch.no_grad():
        expected = model(photo)
        placed = model.with_position_inputs()
        assert placed.position_inputs and placed.stem.in_channels == 5 and torch.allclose(placed(photo), expected, atol=1e-6)
        torch.nn.init.normal_(placed.stem.weight[:, 3:])  # the positions now matter
        noisy = placed.with_noise_channels(2)  # noise maps are inserted before the position maps, with zero weights
        assert noisy.stem.in_channels == 7 and torch.allclose(noisy(photo), placed(photo), atol=1e-6)
    placed.save_pretrained(tmp_path)
    assert StyleGenerator.from_pretrained(tmp_path).position_inputs
