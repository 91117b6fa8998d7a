import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import assert_loads_as_saved
from PIL import Image
from safetensors.torch import load_file

from stylegan_hub import StyleGenerator
from stylegan_hub.cli import main


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, size in [("a", (40, 30)), ("b", (33, 50))]:
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    return folder


@pytest.fixture
def tiny_style(tiny_base):
    return str(tiny_base)


def test_stylize_folder_writes_one_png_per_input(photos, tmp_path, tiny_style):
    """Guards against outputs that are not the style's (e.g. the inputs copied): each equals the library's stylize."""
    assert main(["stylize", "--model", tiny_style, "--output-dir", str(tmp_path / "out"), str(photos)]) == 0
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outputs == ["a.png", "b.png"]
    generator = StyleGenerator.from_pretrained(tiny_style)
    for name in outputs:
        written = np.asarray(Image.open(tmp_path / "out" / name))
        assert np.array_equal(written, np.asarray(generator.stylize(photos / name))), name
        assert not np.array_equal(written, np.asarray(Image.open(photos / name))), name
    assert Image.open(tmp_path / "out" / "b.png").size == (50, 33)


def test_stylize_single_file_with_options(photos, tmp_path, tiny_style):
    """Guards against the CLI dropping an option: its output is the library's for the same options, pixel for pixel,
    and each option changes that output."""
    options = ["--strength", "0.5", "--preserve-color", "--max-side", "20", "--tile", "0"]
    assert main(["stylize", "--model", tiny_style, "-o", str(tmp_path / "single.png"), *options, str(photos / "a.png")]) == 0
    generator = StyleGenerator.from_pretrained(tiny_style)
    expected = np.asarray(generator.stylize(photos / "a.png", strength=0.5, preserve_color=True, max_side=20, tile=0))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "single.png")), expected) and max(expected.shape) == 20
    for without in [dict(strength=1.0), dict(preserve_color=False)]:
        other = generator.stylize(photos / "a.png", **{**dict(strength=0.5, preserve_color=True, max_side=20), **without})
        assert not np.array_equal(np.asarray(other), expected), without
    assert main(["stylize", "--model", tiny_style, "-o", str(tmp_path / "single.jpg"), *options, str(photos / "a.png")]) == 0
    assert Image.open(tmp_path / "single.jpg").format == "JPEG"


def test_work_side_reaches_the_library_and_a_bad_one_is_named(photos, tmp_path, tiny_style, capsys):
    assert main(["stylize", "--model", tiny_style, "-o", str(tmp_path / "fast.png"), "--work-side", "16", str(photos / "a.png")]) == 0
    generator = StyleGenerator.from_pretrained(tiny_style)
    written = np.asarray(Image.open(tmp_path / "fast.png"))
    assert np.array_equal(written, np.asarray(generator.stylize(photos / "a.png", work_side=16)))
    assert written.shape == np.asarray(Image.open(photos / "a.png")).shape
    assert not np.array_equal(written, np.asarray(generator.stylize(photos / "a.png")))
    assert main(["stylize", "--model", tiny_style, "-o", str(tmp_path / "bad.png"), "--work-side", "4", str(photos / "a.png")]) != 0
    error = capsys.readouterr().err
    assert "work_side" in error and "4" in error and "Traceback" not in error
    assert not (tmp_path / "bad.png").exists()


def test_glob_and_builtin_style(photos, tmp_path):
    assert main(["stylize", "--model", "builtin:oil", "--output-dir", str(tmp_path / "out"), str(photos / "*.png")]) == 0
    assert len(list((tmp_path / "out").glob("*.png"))) == 2


def test_bad_inputs_give_one_line_errors_and_no_output(photos, tmp_path, tiny_style, capsys):
    (photos / "broken.png").write_bytes((photos / "a.png").read_bytes()[:60])
    code = main(["stylize", "--model", tiny_style, "--output-dir", str(tmp_path / "out"), str(photos)])
    error = capsys.readouterr().err
    assert code == 1
    assert "broken.png" in error and "truncated" in error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]  # no partial file for broken

    for argv, message in [
        (["stylize", "--model", tiny_style, "-o", str(tmp_path / "x.png"), str(tmp_path / "missing.png")], "no such file"),
        (["stylize", "--model", "builtin:nope", "-o", str(tmp_path / "x.png"), str(photos / "a.png")], "no such built-in model"),
        (["stylize", "--model", tiny_style, str(photos / "a.png")], "--output-dir"),
        (["stylize", "--model", tiny_style, "-o", str(tmp_path / "x.png"), str(photos)], "exactly one input"),
        (["stylize", "--model", tiny_style, "--strength", "3", "-o", str(tmp_path / "x.png"), str(photos / "a.png")], "strength"),
    ]:
        assert main(argv) != 0
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and lines[0].startswith("stylegan-hub: error:")
        assert not (tmp_path / "x.png").exists()


def test_corrupt_model_directory(photos, tmp_path, tiny_base, capsys):
    import shutil

    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_base, broken)
    (broken / "model.safetensors").write_bytes(b"\x00" * 10)
    assert main(["stylize", "--model", str(broken), "-o", str(tmp_path / "x.png"), str(photos / "a.png")]) == 1
    assert "corrupt" in capsys.readouterr().err and not (tmp_path / "x.png").exists()


def test_info_and_styles(capsys):
    assert main(["info", "builtin:oil"]) == 0
    out = capsys.readouterr().out
    assert "parameters:" in out and "GFLOP" in out and "command:" in out and "stylegan-hub finetune" in out
    assert main(["styles"]) == 0
    listed = capsys.readouterr().out.split()
    from stylegan_hub import builtin_styles

    assert listed[: len(builtin_styles())] == builtin_styles()


def test_cli_finetune_matches_training_script_output(tmp_path, tiny_base, photos):
    """Guards against the two front ends training differently (an option or the seed lost on the way): same files,
    same weights and same logged losses, and the weights did move from the base."""
    common = ["--style-images", str(photos), "--base", str(tiny_base), "--steps", "2", "--resolution", "32", "--batch-size", "2"]
    common += ["--log-every", "1"]  # every step's losses are compared
    assert main(["finetune", *common, "--output-dir", str(tmp_path / "cli")]) == 0
    import finetune as script  # train/finetune.py

    script.main(script.parse_args([*common, "--output-dir", str(tmp_path / "script")]))
    cli, scripted = tmp_path / "cli", tmp_path / "script"
    listing = lambda root: sorted(str(p.relative_to(root)) for p in root.rglob("*") if "checkpoint" not in str(p))  # noqa: E731
    assert listing(cli) == listing(scripted)
    assert json.loads((cli / "config.json").read_text()) == json.loads((scripted / "config.json").read_text())
    assert (cli / "logs" / "losses.jsonl").read_text().splitlines() == (scripted / "logs" / "losses.jsonl").read_text().splitlines()
    for weights in ["model.safetensors", "discriminator/model.safetensors"]:
        ours, theirs, base = (load_file(root / weights) for root in (cli, scripted, tiny_base))
        assert ours.keys() == theirs.keys() == base.keys()
        assert all(torch.equal(ours[name], theirs[name]) for name in ours), weights
        assert not all(torch.equal(ours[name], base[name]) for name in ours), weights
    assert_loads_as_saved(StyleGenerator, cli)


def test_console_script_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "stylegan_hub.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "stylegan-hub" in result.stdout


def test_device_option(photos, tmp_path, tiny_style, capsys):
    assert main(["stylize", "--model", tiny_style, "--device", "cpu", "-o", str(tmp_path / "cpu.png"), str(photos / "a.png")]) == 0
    for device in ["no-such-device", "cuda:7"]:
        assert main(["stylize", "--model", tiny_style, "--device", device, "-o", str(tmp_path / "x.png"), str(photos / "a.png")]) == 1
        assert f"device {device}: not usable here" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_styles_lists_cached_hub_styles_after_builtins(tmp_path, tiny_base, monkeypatch, capsys):
    """A style pulled from the Hub earlier sits in the cache as models--org--name/snapshots/<commit>/."""
    import shutil

    from huggingface_hub import constants

    cache = tmp_path / "hub"
    commit = "0" * 40
    for repo, source in [("org/my-style", tiny_base), ("org/a-discriminator", tiny_base / "discriminator")]:
        folder = cache / f"models--{repo.replace('/', '--')}"
        shutil.copytree(source, folder / "snapshots" / commit, ignore=shutil.ignore_patterns("discriminator"))
        (folder / "refs").mkdir()
        (folder / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    assert main(["styles"]) == 0
    listed = capsys.readouterr().out.split()
    from stylegan_hub import builtin_styles

    assert listed == [*builtin_styles(), "org/my-style"]  # the discriminator repo is not a style


def test_eval_prints_a_table_and_writes_json(photos, tmp_path, tiny_style, capsys, monkeypatch):
    monkeypatch.delenv("STYLEGAN_HUB_INCEPTION_WEIGHTS", raising=False)
    output = tmp_path / "scores.json"
    argv = ["eval", "--model", tiny_style, "--photos", str(photos), "--style-images", str(photos), "--teacher", "grade"]
    assert main([*argv, "--output", str(output)]) == 0
    table = capsys.readouterr().out
    assert "| psnr |" in table and "| swd |" in table and "| content_kept |" in table
    assert "FID and KID skipped" in table
    scores = json.loads(output.read_text())
    assert scores["teacher"] == "grade" and scores["photos"] == 2
    assert scores["results"]["photo"]["content_kept"] == pytest.approx(1.0, abs=1e-6)
    assert set(scores["results"]["model"]) == {"psnr", "ssim", "content_kept", "swd", "color_distance", "style_distance"}
    assert scores["results"]["photo"]["style_distance"] == pytest.approx(1.0) and "| style_distance |" in table
    assert main([*argv[:-1], "watercolour"]) == 2
    assert "not a filter" in capsys.readouterr().err
    assert main([*argv, "--output", str(tmp_path / "missing" / "scores.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*argv, "--inception-weights", str(tmp_path / "missing.pt")]) == 1
    assert "Inception weights not found" in capsys.readouterr().err


def test_precision_option_reaches_the_library(photos, tmp_path, tiny_style, capsys):
    for precision in ("float32", "bfloat16"):
        target = tmp_path / f"{precision}.png"
        assert main(["stylize", "--model", tiny_style, "--precision", precision, "-o", str(target), str(photos / "a.png")]) == 0
        expected = StyleGenerator.from_pretrained(tiny_style).stylize(photos / "a.png", precision=precision)
        assert np.array_equal(np.asarray(Image.open(target)), np.asarray(expected))
    with pytest.raises(SystemExit):
        main(["stylize", "--model", tiny_style, "--precision", "fp8", "-o", str(tmp_path / "x.png"), str(photos / "a.png")])
    assert "invalid choice: 'fp8'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["styles"], ["--help"], ["stylize", "--help"]])
def test_listing_and_help_do_not_import_torch(argv):
    """`styles` and `--help` must start fast: they may not import torch (or the training stack)."""
    from pathlib import Path

    probe = (
        "import sys; from stylegan_hub.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'accelerate', 'diffusers', 'gradio') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=repo, timeout=60)
    assert "HEAVY []" in done.stdout, done.stdout[-500:] + done.stderr[-2000:]


def test_gflops_counts_what_the_flop_counter_counts_of_the_layers_as_defined(monkeypatch):
    """Counted with each upsampling block run as defined (nearest 2x, then its 3x3 convolution), which is what a
    card's GFLOP means; `upsample_conv` computes the same with fewer multiply-adds."""
    from torch.utils.flop_counter import FlopCounterMode

    from stylegan_hub.models import generator as layout

    monkeypatch.setattr(layout, "upsample_conv", lambda x, conv: conv(torch.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")))
    for config in [dict(base_channels=4, num_downsamples=3, num_res_blocks=1), dict(base_channels=4, num_downsamples=3, decoder_blocks=1, padding_mode="zeros")]:
        generator = StyleGenerator(**config)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            generator(torch.zeros(1, 3, 72, 40))  # 70x33 rounded up to multiples of 8
        assert generator.gflops(70, 33) == pytest.approx(counter.get_total_flops() / 1e9, rel=1e-9)


def test_errors_and_warnings_go_through_the_progress_bars_writer(photos, tmp_path, tiny_style, monkeypatch, capsys):
    """With a progress bar on screen, a plain print lands in the middle of the bar's line."""
    import warnings

    from tqdm import tqdm

    written = []
    monkeypatch.setattr(tqdm, "write", classmethod(lambda cls, message, file=None, **kwargs: written.append(message)))
    (photos / "c.png").write_bytes(b"not a png")
    assert main(["stylize", "--model", tiny_style, "--output-dir", str(tmp_path / "out"), str(photos)]) == 1
    assert len(written) == 1 and written[0].startswith("stylegan-hub: error:") and "c.png" in written[0]

    def warns(args):
        warnings.warn("push at step 2 failed, training goes on", stacklevel=2)
        return 0

    monkeypatch.setattr("stylegan_hub.cli.cmd_styles", warns)
    assert main(["styles"]) == 0
    assert written[-1] == "stylegan-hub: warning: push at step 2 failed, training goes on"
