"""The zero-shot model: a generator conditioned on a style code, the encoder that reads it from a picture, the paired
style bank it learns from, style mixing, and the commands and fine-tune that use them."""

import copy
import json

import numpy as np
import pytest
import torch
from PIL import Image

from stylegan_hub import StyleDiscriminator, StyleGenerator
from stylegan_hub.artwork import tone_map
from stylegan_hub.cli import main as cli
from stylegan_hub.errors import StyleGanHubError
from stylegan_hub.inference import pil_to_tensor, stylize
from stylegan_hub.mixing import mix_styles, parse_mix
from stylegan_hub.training.zeroshot import StyleBank, render_style, sample_style


def zero_shot_model(seed: int = 0, std: float = 2.0) -> StyleGenerator:
    """A tiny zero-shot model whose code already changes the output (trained ones do; fresh ones start unmodulated);
    a smaller `std` keeps activations of an ordinary size, for float32 comparisons with ONNX Runtime."""
    torch.manual_seed(seed)
    model = StyleGenerator(base_channels=4, num_res_blocks=1, style_dim=4, encoder_channels=4)
    torch.nn.init.normal_(model.modulation[-1].weight, std=std)
    return model.eval()


def picture(seed: int, size=(48, 40)) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


# --------------------------------------------------------------------------- the conditioned generator


def test_a_fresh_modulation_changes_nothing_until_trained():
    """Zero-initialised, so a conditioned model starts as its unconditioned layout (and its training starts stable)."""
    torch.manual_seed(0)
    model = StyleGenerator(base_channels=4, num_res_blocks=1, style_dim=4).eval()
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    assert torch.equal(model(x), model(x, style=torch.randn(1, 4)))


def test_the_style_code_and_style_pictures_steer_the_output():
    model = zero_shot_model()
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    codes = torch.randn(2, 4)
    assert not torch.allclose(model(x, style=codes), model(x))
    pictures = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(model(x, style=pictures), model(x, style=model.encoder(pictures)))
    with pytest.raises(ValueError, match="style_dim is 0"):
        StyleGenerator(base_channels=4, num_res_blocks=1)(x, style=codes)


def test_the_models_own_code_runs_as_one_affine_map_per_channel_with_the_same_output_and_gradients():
    """With its own `style_code` the batch shares one (scale, shift) per channel, applied in one fused pass
    (`channel_affine`); it must draw and train exactly as that code given per sample does."""
    model = zero_shot_model(std=0.5)
    model.style_code.copy_(torch.randn(1, 4))
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    shared, per_sample = model(x), model(x, style=model.style_code.expand(3, -1))
    assert torch.allclose(shared, per_sample, atol=1e-6)
    gradients = []
    for output in (shared, per_sample):
        model.zero_grad()
        output.square().mean().backward()
        gradients.append({name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None})
    assert "modulation.0.weight" in gradients[0] and gradients[0].keys() == gradients[1].keys()
    for name, reference in gradients[1].items():
        assert torch.allclose(gradients[0][name], reference, rtol=1e-4, atol=1e-6), name
    bf16 = copy.deepcopy(model).to(torch.bfloat16)  # the kernel that inference runs where bfloat16 is native
    assert torch.allclose(bf16(x.bfloat16()).float(), shared.detach(), atol=0.05)


def test_a_style_code_is_saved_with_the_model(tmp_path):
    model = zero_shot_model()
    styled = model.with_style(torch.randn(1, 4))
    assert not torch.equal(styled.style_code, model.style_code)  # with_style copies: the model keeps its own
    styled.save_pretrained(tmp_path)
    loaded = StyleGenerator.from_pretrained(tmp_path).eval()
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    assert torch.equal(loaded.style_code, styled.style_code)
    assert torch.equal(loaded(x), styled(x))
    with pytest.raises(ValueError, match=r"shape \(1, 4\)"):
        model.with_style(torch.randn(4))


def test_style_codes_are_the_mean_over_pictures_and_cached(monkeypatch):
    model = zero_shot_model()
    one, two = picture(1), picture(2, (64, 30))
    both = model.style_code_of([one, two])
    expected = (model.encode_style(pil_to_tensor(one)) + model.encode_style(pil_to_tensor(two))) / 2
    assert torch.allclose(both, expected, atol=1e-6)
    calls = []
    monkeypatch.setattr(type(model.encoder), "forward", lambda self, x: calls.append(1) or torch.zeros(len(x), 4))
    assert torch.allclose(model.style_code_of([one, two]), both)  # cached: the encoder did not run again
    assert not calls
    model.style_code_of(picture(3))
    assert calls


def test_models_without_an_encoder_refuse_style_pictures_in_words():
    plain = StyleGenerator(base_channels=4, num_res_blocks=1)
    with pytest.raises(ValueError, match="no style encoder"):
        plain.stylize(picture(0), style_image=picture(1))
    with pytest.raises(ValueError, match="encoder_channels=4 needs a style code"):
        StyleGenerator(encoder_channels=4)


def test_stylize_with_a_style_image_draws_that_style_and_tiles_seamlessly():
    model = zero_shot_model()
    photo, style_a, style_b = picture(0, (96, 80)), picture(1), Image.new("RGB", (40, 40), (250, 200, 20))
    result_a = np.asarray(model.stylize(photo, style_image=style_a), dtype=np.float32)
    expected = np.asarray(stylize(model.with_style(model.style_code_of(style_a)), photo), dtype=np.float32)
    assert np.abs(result_a - expected).max() <= 1
    assert np.abs(result_a - np.asarray(model.stylize(photo, style_image=style_b), dtype=np.float32)).mean() > 1
    tiled = np.asarray(model.stylize(photo, style_image=style_a, tile=48), dtype=np.float32)
    assert np.abs(tiled - result_a).max() <= 2  # one code for the whole image: tiles agree


def test_a_ready_copy_per_style_is_reused_until_the_model_changes():
    """Restyling photos with one style picture reuses one styled copy (and so its prepared inference copy); a new code
    or new weights give a new copy, a few styles are kept, and copies of the model do not carry them along."""
    from stylegan_hub.models.generator import STYLED_COPY_CACHE

    model = zero_shot_model()
    code = model.style_code_of(picture(1))
    styled = model.for_style(code)
    assert model.for_style(code.clone()) is styled and torch.equal(styled.style_code, code)
    assert model.for_style(model.style_code_of(picture(2))) is not styled
    assert "_styled_copies" not in copy.deepcopy(model).__dict__
    with torch.no_grad():
        model.modulation[-1].weight.mul_(2)
    restyled = model.for_style(code)
    assert restyled is not styled and torch.equal(restyled.modulation[-1].weight, model.modulation[-1].weight)
    for seed in range(STYLED_COPY_CACHE + 2):
        model.for_style(torch.full((1, 4), float(seed)))
    assert len(model._styled_copies) == STYLED_COPY_CACHE
    with torch.inference_mode():  # no version counters to tell a change by: a fresh copy every time
        frozen = zero_shot_model()
    assert frozen.for_style(code) is not frozen.for_style(code)


def test_onnx_export_keeps_the_saved_style(tmp_path):
    pytest.importorskip("onnxruntime")
    from stylegan_hub.export import export_onnx

    model = zero_shot_model(std=0.5).with_style(torch.randn(1, 4))
    path = export_onnx(model, tmp_path / "model.onnx").path
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path))
    photos = torch.rand(2, 3, 40, 32)  # a batch and another size than the export's: the code broadcasts over both
    (output,) = session.run(None, {session.get_inputs()[0].name: photos.numpy()})
    with torch.no_grad():
        expected = model.forward_image(photos)
    assert np.abs(output - expected.numpy()).max() < 1e-4


# --------------------------------------------------------------------------- the paired style bank


def test_random_styles_are_json_chains_that_render():
    rng = np.random.default_rng(0)
    chains = [sample_style(rng) for _ in range(40)]
    assert json.loads(json.dumps(chains)) == chains
    assert {chain[0]["filter"] for chain in chains} == {"oil", "sketch", "cartoon", "grade", "tone"}
    photo = np.random.default_rng(1).random((32, 32, 3)).astype(np.float32)
    for chain in chains[:10]:
        out = render_style(chain, photo)
        assert out.shape == photo.shape and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert np.array_equal(tone_map(photo), photo)  # the defaults change nothing


def test_the_bank_pairs_a_crop_with_its_rendering_and_the_style_on_another_photo(tmp_path):
    photos = [picture(seed, (40, 36)) for seed in range(5)]
    bank = StyleBank.render(photos, styles=3, photos_per_style=3, side=32, seed=0)
    assert bank.renders.shape == (3, 3, 3, 32, 32) and bank.photos.shape == (5, 3, 32, 32)
    bank.save(tmp_path / "bank.pt")
    again = StyleBank.load(tmp_path / "bank.pt")
    assert torch.equal(again.renders, bank.renders) and again.chains == bank.chains
    torch.manual_seed(0)
    crops, targets, pictures = bank.sample(12, 16)
    assert crops.shape == targets.shape == (12, 3, 16, 16) and pictures.shape == (12, 3, 32, 32)
    for crop, target, style_picture in zip(crops, targets, pictures):
        # Find the style and the render the style picture is, then the crop's rendering among the same style's.
        s, b = next((s, b) for s in range(3) for b in range(3) if torch.equal((bank.renders[s, b].float() / 255), style_picture))
        found = []
        for a in range(3):
            photo, render = bank.photos[bank.members[s, a]].float() / 127.5 - 1, bank.renders[s, a].float() / 127.5 - 1
            for image, flipped in ((photo, render), (photo.flip(-1), render.flip(-1))):
                for top in range(17):
                    for left in range(17):
                        if torch.allclose(image[:, top : top + 16, left : left + 16], crop, atol=1e-6):
                            found.append((a, torch.allclose(flipped[:, top : top + 16, left : left + 16], target, atol=1e-6)))
        assert found and all(same for _, same in found)  # the target is the same crop of the same photo's rendering
        assert b not in [a for a, _ in found]  # the style picture shows another photo
    with pytest.raises(ValueError, match="at least 2 photos per style"):
        StyleBank(bank.photos, bank.renders[:, :1], bank.members[:, :1], bank.chains)


def test_pretraining_learns_styles_and_ships_a_loadable_zero_shot_base(tmp_path, tiny_base):
    from pretrain_any import main, parse_args

    args = ["--output-dir", str(tmp_path / "any"), "--styles", "4", "--photos-per-style", "3", "--bank-side", "32"]
    args += ["--resolution", "16", "--batch-size", "4", "--style-dim", "4", "--encoder-channels", "4", "--base-channels", "4"]
    args += ["--num-res-blocks", "1", "--steps", "30", "--sample-every", "30", "--checkpointing-steps", "15"]
    args += ["--discriminator-from", str(tiny_base), "--bank-workers", "1", "--log-every", "1"]
    output = main(parse_args([*args, "--residual-output"]))
    model = StyleGenerator.from_pretrained(output)
    assert model.style_dim == 4 and hasattr(model, "encoder") and model.residual_output
    assert StyleDiscriminator.from_pretrained(output / "discriminator")
    losses = [json.loads(line)["l1"] for line in (output / "logs" / "losses.jsonl").read_text().splitlines()]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert model.stylize(picture(0), style_image=picture(1)).size == (48, 40)
    card = (output / "README.md").read_text()
    assert "--style-image painting.jpg" in card  # the card shows zero-shot use, and no command the CLI would refuse
    assert "--output-dir stylized photo.jpg" not in card.replace("--style-image painting.jpg --output-dir", "")
    with pytest.raises(ValueError, match="holds 4 styles on 3 photos at 32 px, not the --styles 5"):
        main(parse_args([*args[:3], "5", *args[4:]]))  # the rendered bank is reused only for the settings it has


def test_pretraining_continues_from_a_zero_shot_model_with_the_distribution_term(tmp_path, tiny_base, tiny_any):
    from pretrain_any import main, parse_args

    args = ["--output-dir", str(tmp_path / "more"), "--styles", "3", "--photos-per-style", "2", "--bank-side", "32"]
    args += ["--resolution", "32", "--batch-size", "2", "--style-dim", "4", "--encoder-channels", "4", "--base-channels", "4"]
    args += ["--num-res-blocks", "1", "--num-downsamples", "2", "--decoder-blocks", "0", "--steps", "2"]
    args += ["--discriminator-from", str(tiny_base), "--bank-workers", "1", "--log-every", "1", "--init-from", str(tiny_any)]
    args += ["--distribution-weight", "0.5", "--learning-rate", "1e-12"]
    output = main(parse_args(args))
    start, continued = StyleGenerator.from_pretrained(tiny_any), StyleGenerator.from_pretrained(output)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(start.parameters(), continued.parameters()))  # its weights, barely moved
    logged = [json.loads(line) for line in (output / "logs" / "losses.jsonl").read_text().splitlines()]
    assert all(record["distribution"] > 0 for record in logged)
    with pytest.raises(ValueError, match=r"--init-from .*: it has base_channels=4 \(not 8\); give the same layout options"):
        main(parse_args([*args[:17], "8", *args[18:]]))  # --base-channels 8


# --------------------------------------------------------------------------- mixing


def test_mixing_interpolates_codes_and_weights():
    model = zero_shot_model()
    a, b = model.with_style(torch.randn(1, 4)), model.with_style(torch.randn(1, 4))
    half = mix_styles({a: 1.0, b: 1.0})  # weights are normalised
    assert torch.allclose(half.style_code, (a.style_code + b.style_code) / 2)
    assert torch.allclose(half.stem.weight, model.stem.weight)
    other = zero_shot_model(seed=1)
    mixed = mix_styles({a: 0.25, other: 0.75})
    assert torch.allclose(mixed.stem.weight, 0.25 * a.stem.weight + 0.75 * other.stem.weight, atol=1e-6)
    assert torch.equal(mix_styles({a: 1.0, b: 0.0}).style_code, a.style_code)
    noisy = a.with_noise_channels(2)  # a style fine-tuned with noise inputs still mixes with its base
    assert mix_styles({noisy: 0.5, b: 0.5}).noise_channels == 2
    placed = a.with_position_inputs()  # and one from before/after pairs, which sees the place in the frame
    assert mix_styles({placed: 0.5, noisy: 0.5}).position_inputs
    textured = a.with_texture(torch.rand(3, 20, 20), 16)  # and a texture: the others get its picture
    with torch.no_grad():
        textured.stem.weight[:, 3:].normal_()
    photo = torch.rand(1, 3, 32, 32) * 2 - 1
    alone = mix_styles({textured: 1.0, b: 0.0}).eval()
    assert alone.texture_side == 16 and torch.allclose(alone.texture, textured.texture, atol=1e-6)
    assert torch.allclose(alone(photo), textured.eval()(photo), atol=1e-5)
    with pytest.raises(StyleGanHubError, match="draw different texture pictures"):
        mix_styles({textured: 0.5, b.with_texture(torch.rand(3, 20, 20), 16): 0.5})


def test_stylize_draws_a_blend_of_styles_in_one_call():
    model = zero_shot_model()
    a, b = model.with_style(torch.randn(1, 4)), model.with_style(torch.randn(1, 4))
    photo = picture(2)
    blended = np.asarray(model.stylize(photo, styles={a: 0.5, b: 0.5}, precision="float32"))
    assert np.array_equal(blended, np.asarray(mix_styles({a: 0.5, b: 0.5}).stylize(photo, precision="float32")))
    assert not np.array_equal(blended, np.asarray(a.stylize(photo, precision="float32")))
    with pytest.raises(ValueError, match="not both"):
        model.stylize(photo, style_image=picture(3), styles={a: 0.5, b: 0.5})


def test_mixing_refuses_what_cannot_be_blended():
    model = zero_shot_model()
    with pytest.raises(StyleGanHubError, match="no style code"):
        mix_styles({model: 0.5, StyleGenerator(base_channels=4, num_res_blocks=1): 0.5})
    with pytest.raises(StyleGanHubError, match="different architectures"):
        mix_styles({model: 0.5, StyleGenerator(base_channels=8, num_res_blocks=1, style_dim=4): 0.5})
    with pytest.raises(StyleGanHubError, match="not all 0"):
        mix_styles({model: 0.0, model.with_style(torch.ones(1, 4)): 0.0})
    with pytest.raises(StyleGanHubError, match="two or more"):
        mix_styles({model: 1.0})
    assert parse_mix(["builtin:any=0.5", "a=b=0.25"]) == {"builtin:any": 0.5, "a=b": 0.25}
    with pytest.raises(StyleGanHubError, match="NAME=WEIGHT"):
        parse_mix(["oil"])


# --------------------------------------------------------------------------- commands and fine-tuning


def test_cli_stylizes_from_a_style_picture_and_mixes(tmp_path, tiny_any, tiny_base, capsys):
    picture(0).save(tmp_path / "photo.png")
    picture(1).save(tmp_path / "style.png")
    assert cli(["stylize", "--model", str(tiny_any), "--style-image", str(tmp_path / "style.png"), "-o", str(tmp_path / "out.png"), str(tmp_path / "photo.png")]) == 0
    model = StyleGenerator.from_pretrained(tiny_any)
    expected = np.asarray(model.stylize(tmp_path / "photo.png", style_image=tmp_path / "style.png"), dtype=np.float32)
    assert np.abs(np.asarray(Image.open(tmp_path / "out.png"), dtype=np.float32) - expected).max() <= 1

    assert cli(["stylize", "--model", str(tiny_base), "--style-image", str(tmp_path / "style.png"), "-o", str(tmp_path / "x.png"), str(tmp_path / "photo.png")]) != 0
    assert "takes no style picture; use --model builtin:any" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    assert cli(["stylize", "--model", "builtin:any", "-o", str(tmp_path / "y.png"), str(tmp_path / "photo.png")]) != 0
    assert "builtin:any draws the style of a picture: add --style-image PICTURE" in capsys.readouterr().err

    assert cli(["export", "--model", str(tiny_any), "--style-image", str(tmp_path / "style.png"), "-o", str(tmp_path / "style.onnx")]) == 0
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "style.onnx"))
    photo = torch.rand(1, 3, 32, 32)
    (exported,) = session.run(None, {session.get_inputs()[0].name: photo.numpy()})
    with torch.no_grad():
        expected = model.with_style(model.style_code_of(tmp_path / "style.png")).forward_image(photo)
    assert np.abs(exported - expected.numpy()).max() < 1e-4  # the picture's style, not the model's saved one

    other = model.with_style(torch.randn(1, 4))
    other.save_pretrained(tmp_path / "other")
    assert cli(["mix", f"{tiny_any}=0.5", f"{tmp_path / 'other'}=0.5", "-o", str(tmp_path / "mixed")]) == 0
    mixed = StyleGenerator.from_pretrained(tmp_path / "mixed")
    assert torch.allclose(mixed.style_code, (model.style_code + other.style_code) / 2)
    assert cli(["mix", f"{tiny_any}=0.5", f"{tmp_path / 'other'}=0.5", "-o", str(tmp_path / "mixed")]) != 0
    assert "exists" in capsys.readouterr().err
    assert cli(["mix", f"{tiny_any}=-1", f"{tmp_path / 'other'}=0.5", "-o", str(tmp_path / "refused")]) != 0
    assert "mixing weights must be >= 0" in capsys.readouterr().err and not (tmp_path / "refused").exists()


def test_a_fine_tune_from_a_zero_shot_base_starts_from_the_exemplars_style(tmp_path, tiny_any):
    from stylegan_hub.training import finetune
    from stylegan_hub.training.config import FinetuneConfig

    exemplars = tmp_path / "exemplars"
    exemplars.mkdir()
    for seed in (4, 5):
        picture(seed, (40, 40)).save(exemplars / f"{seed}.png")
    config = FinetuneConfig(
        output_dir=str(tmp_path / "style"), style_images=[str(exemplars)], base=str(tiny_any), steps=2, resolution=16, batch_size=2, sample_every=2
    )
    output = finetune.main(config)
    base = StyleGenerator.from_pretrained(tiny_any)
    tuned = StyleGenerator.from_pretrained(output)
    assert torch.allclose(tuned.style_code, base.style_code_of([Image.open(p) for p in sorted(exemplars.iterdir())]), atol=1e-6)
    assert not torch.allclose(tuned.style_code, base.style_code)
    # The encoder is not trained (DDP would refuse its unused parameters), nor is the modulation of the fixed code
    # (it made the outputs blow up), and the card offers no zero-shot use.
    for kept in ("encoder", "modulation"):
        assert all(torch.equal(a, b) for a, b in zip(getattr(tuned, kept).state_dict().values(), getattr(base, kept).state_dict().values()))
    assert not torch.equal(tuned.head.weight, base.head.weight)
    assert "--style-image painting.jpg" not in (output / "README.md").read_text()


def test_the_default_fine_tune_starts_from_the_zero_shot_model(tmp_path):
    """builtin:any is the default base (docs/zeroshot.md: it scored better than builtin:base at 1 and 6 exemplars)."""
    from stylegan_hub.training import finetune

    exemplars = tmp_path / "exemplars"
    exemplars.mkdir()
    picture(6, (40, 40)).save(exemplars / "6.png")
    config = finetune.parse_args(["--style-images", str(exemplars), "--output-dir", str(tmp_path / "style")])
    assert config.steps_to_run == 200 and config.replace(original_images=["originals"]).steps_to_run == 600
    output = finetune.main(config.replace(steps=1, resolution=16, batch_size=2))
    zero_shot = StyleGenerator.from_pretrained("builtin:any")
    assert torch.allclose(StyleGenerator.from_pretrained(output).style_code, zero_shot.style_code_of(exemplars / "6.png"), atol=1e-6)
    assert "fine-tuned from `builtin:any`" in (output / "README.md").read_text()


def test_the_zero_shot_benchmark_writes_its_report_grid_and_mixing_strip(tmp_path, tiny_any):
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO / "bench"))
    import zeroshot

    picture(5).save(tmp_path / "my-painting.png")
    argv = ["--model", str(tiny_any), "--docs", str(tmp_path), "--eval-side", "48", "--repeats", "1", "--style-pictures", str(tmp_path / "my-painting.png")]
    summary = zeroshot.main(zeroshot.parse_args(argv))
    report = (tmp_path / "zeroshot.md").read_text()
    assert "| texture brick |" in report and "| teacher cartoon |" in report and "50/50 mix lies between" in report
    assert "| picture my-painting |" in report
    assert (tmp_path / "images" / "zeroshot-grid.jpg").is_file() and (tmp_path / "images" / "mixing-strip.jpg").is_file()
    distances = summary["mixing"]["teacher oil (picture)"]
    assert distances["1.0"] < distances["0.0"]  # all of the oil code is closer to the oil than none of it
    own = summary["mixing"]["teacher sketch (its outputs)"]
    assert own["0.0"] < 1e-3 < own["0.5"] < own["1.0"]  # the blend moves away from the sketch's own outputs
    assert set(summary["between"]) == {"picture", "its outputs"}
    assert summary["style_code_s"] > 0 and summary["stylize_512_s"] > 0
