import json
import shlex
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from stylegan_hub import StyleDiscriminator, StyleGenerator
from stylegan_hub.artwork import apply_artwork
from stylegan_hub.data import sample_photos
from stylegan_hub.training import finetune
from stylegan_hub.training.checkpoint import checkpoint_dirs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_exemplars(directory, style):
    """Three exemplars of a style, made from training photos (unpaired with the held-out ones)."""
    for i, photo in enumerate(sample_photos("train")[:3]):
        photo.thumbnail((192, 192))
        apply_artwork(style, photo).save(directory / f"exemplar-{i}.png")
    return directory


@pytest.fixture(scope="module")
def grade_exemplars(tmp_path_factory):
    return make_exemplars(tmp_path_factory.mktemp("grade"), "grade")


@pytest.fixture(scope="module")
def sketch_exemplars(tmp_path_factory):
    return make_exemplars(tmp_path_factory.mktemp("sketch"), "sketch")


def tiny_args(style_dir, base, output_dir, *extra):
    return finetune.parse_args(
        [
            "--style-images",
            str(style_dir),
            "--base",
            str(base),
            "--output-dir",
            str(output_dir),
            "--resolution",
            "32",
            "--batch-size",
            "2",
            "--log-every",
            "1",
            "--sample-every",
            "2",
            *extra,
        ]
    )


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def test_finetune_learns_a_style_from_few_images(sketch_exemplars, tmp_path):
    output = finetune.main(
        finetune.parse_args(
            [
                "--style-images",
                str(sketch_exemplars),
                "--output-dir",
                str(tmp_path / "style"),
                "--steps",
                "60",
                "--resolution",
                "64",
                "--checkpointing-steps",
                "60",
            ]
        )
    )
    generator = StyleGenerator.from_pretrained(output)
    before, after = [], []
    for photo in sample_photos("heldout"):
        photo.thumbnail((160, 160))
        target = np.asarray(apply_artwork("sketch", photo))
        before.append(psnr(np.asarray(photo), target))
        after.append(psnr(np.asarray(generator.stylize(photo)), target))
    gain = np.mean(after) - np.mean(before)
    print(f"held-out PSNR to the style: photo {np.mean(before):.2f} dB -> fine-tuned {np.mean(after):.2f} dB (+{gain:.2f} dB)")
    assert gain > 2.0
    # The output directory is complete: EMA generator, discriminator, card with the rebuild command, samples.
    assert StyleDiscriminator.from_pretrained(output / "discriminator")
    card = (output / "README.md").read_text()
    assert "stylegan-hub finetune" in card and "sample.png" in card and "library_name: stylegan-hub" in card
    assert Image.open(output / "sample.png").size[0] > 0 and list((output / "samples").glob("step-*.png"))


def test_resume_continues_step_count_and_losses(tiny_base, tmp_path, grade_exemplars, monkeypatch):
    straight = finetune.main(tiny_args(grade_exemplars, tiny_base, tmp_path / "straight", "--steps", "4", "--checkpointing-steps", "2"))
    expected = [json.loads(line) for line in (straight / "logs" / "losses.jsonl").read_text().splitlines()]

    real_step = finetune.finetune_step
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during step 3
        return real_step(*args, **kwargs)

    monkeypatch.setattr(finetune, "finetune_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        finetune.main(tiny_args(grade_exemplars, tiny_base, tmp_path / "resumed", "--steps", "4", "--checkpointing-steps", "2"))
    monkeypatch.setattr(finetune, "finetune_step", real_step)
    assert [p.name for p in checkpoint_dirs(tmp_path / "resumed")] == ["checkpoint-2"]

    resumed = finetune.main(
        tiny_args(grade_exemplars, tiny_base, tmp_path / "resumed", "--steps", "4", "--checkpointing-steps", "2", "--resume", "latest")
    )
    got = [json.loads(line) for line in (resumed / "logs" / "losses.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in got] == [1, 2, 3, 4]
    for a, b in zip(got, expected):
        assert a["generator"] == pytest.approx(b["generator"], rel=1e-4) and a["discriminator"] == pytest.approx(
            b["discriminator"], rel=1e-4
        )
    for name, tensor in load_file(straight / "model.safetensors").items():
        assert torch.allclose(tensor, load_file(resumed / "model.safetensors")[name], atol=1e-5)


@pytest.mark.parametrize(
    "design",
    [
        [],
        ["--color-target", "batch"],
        ["--style-distance", "gram", "--content-features", "raw", "--color-target", "batch"],
        ["--style-features", "normalized", "--style-distance", "gram"],
    ],
)
def test_loss_design_options_train(tiny_base, tmp_path, grade_exemplars, design):
    output = finetune.main(tiny_args(grade_exemplars, tiny_base, tmp_path / "style", "--steps", "3", *design))
    losses = [json.loads(line) for line in (output / "logs" / "losses.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in losses] == [1, 2, 3] and all(entry["color"] > 0 for entry in losses)
    record = json.loads((output / "training_args.json").read_text())
    assert all(flag in record["command"] for flag in design)


def test_normalized_style_features_change_what_the_style_loss_measures(tiny_base, tmp_path, grade_exemplars):
    def first_style_loss(*design):
        output = finetune.main(tiny_args(grade_exemplars, tiny_base, tmp_path / "-".join(["style", *design]), "--steps", "1", *design))
        return json.loads((output / "logs" / "losses.jsonl").read_text().splitlines()[0])["style"]

    # The same seed draws the same crops: only the features compared differ.
    assert first_style_loss() != pytest.approx(first_style_loss("--style-features", "normalized"), rel=1e-3)


def test_from_scratch_keeps_the_architecture_not_the_weights(tiny_base, tmp_path, grade_exemplars):
    output = finetune.main(
        tiny_args(grade_exemplars, tiny_base, tmp_path / "style", "--steps", "1", "--from-scratch", "--freeze-blocks", "1")
    )
    base = load_file(tiny_base / "discriminator" / "model.safetensors")
    trained = load_file(output / "discriminator" / "model.safetensors")
    assert base.keys() == trained.keys()
    assert not torch.equal(base["blocks.0.conv.weight"], trained["blocks.0.conv.weight"])  # frozen, yet not the base's
    assert json.loads((output / "config.json").read_text()) == json.loads((tiny_base / "config.json").read_text())


def test_bad_resume_and_base(tiny_base, tmp_path, grade_exemplars):
    with pytest.raises(ValueError, match="not a checkpoint folder"):
        finetune.main(tiny_args(grade_exemplars, tiny_base, tmp_path / "x", "--steps", "1", "--resume", str(tmp_path)))
    StyleGenerator(base_channels=4).save_pretrained(tmp_path / "generator-only")
    from stylegan_hub import ModelLoadError

    with pytest.raises(ModelLoadError, match="discriminator"):
        finetune.main(tiny_args(grade_exemplars, tmp_path / "generator-only", tmp_path / "y", "--steps", "1"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_keep_identical_weights_on_different_data(tiny_base, tmp_path, grade_exemplars):
    probe = tmp_path / "probe"
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        os.path.join(REPO, "tests", "ddp_probe.py"),
        str(probe),
        "--style-images",
        str(grade_exemplars),
        "--base",
        str(tiny_base),
        "--output-dir",
        str(tmp_path / "out"),
        "--resolution",
        "32",
        "--batch-size",
        "2",
        "--steps",
        "3",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((probe / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    assert ranks[0]["data"] != ranks[1]["data"]  # each process saw different crops
    weights = [load_file(probe / f"rank{r}.safetensors") for r in (0, 1)]
    assert weights[0].keys() == weights[1].keys()
    for name in weights[0]:
        assert torch.equal(weights[0][name], weights[1][name]), name
    assert StyleGenerator.from_pretrained(tmp_path / "out")


def test_pretrain_from_a_local_imagefolder_dataset(tmp_path):
    import pretrain

    data = tmp_path / "photos"
    data.mkdir()
    for i, photo in enumerate(sample_photos("train")[:3]):
        photo.thumbnail((96, 96))
        photo.save(data / f"{i}.png")
    args = pretrain.parse_args(
        [
            "--dataset",
            "imagefolder",
            "--dataset-data-dir",
            str(data),
            "--output-dir",
            str(tmp_path / "base"),
            "--steps",
            "3",
            "--resolution",
            "32",
            "--batch-size",
            "4",
            "--base-channels",
            "4",
            "--num-res-blocks",
            "1",
            "--d-channels",
            "8",
            "8",
            "8",
            "--log-every",
            "1",
        ]
    )
    output = pretrain.main(args)
    assert StyleGenerator.from_pretrained(output).num_res_blocks == 1
    assert StyleDiscriminator.from_pretrained(output / "discriminator").domain_head.out_features == len(pretrain.DOMAINS)
    entries = [json.loads(line) for line in (output / "logs" / "losses.jsonl").read_text().splitlines()]
    assert [e["step"] for e in entries] == [1, 2, 3] and all("domain" in e for e in entries)
    record = json.loads((output / "training_args.json").read_text())
    assert record["command"].startswith("python train/pretrain.py ") and "--dataset imagefolder" in record["command"]
    assert "--d-channels 8 8 8" in record["command"] and pretrain.parse_args(shlex.split(record["command"])[2:]) == args
