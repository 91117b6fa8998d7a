"""The paired-layouts benchmark at toy scale: both layouts train, are scored and timed, and bad settings are refused."""

import json
import math
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import paired_layouts  # noqa: E402
from reference_models import ContextAggregationNet  # noqa: E402


def test_each_layout_is_trained_scored_and_timed(capsys):
    args = paired_layouts.parse_args(
        ["--styles", "grade", "--steps", "3", "--eval-every", "2", "--side", "64", "--crop", "32", "--can-dilations", "1", "2", "--latency-side", "32"]
    )
    rows = paired_layouts.main(args)
    assert [(row["layout"], row["step"]) for row in rows] == [("unet", 2), ("unet", 3), ("can", 2), ("can", 3)]
    assert all(math.isfinite(row[name]) for row in rows for name in ("psnr", "ssim", "style_distance", "seconds_per_step"))
    printed = capsys.readouterr().out
    assert "| can | grade | 3 |" in printed and "faster than TransformerNet" in printed


def test_the_context_aggregation_network_starts_as_the_identity_and_keeps_the_size():
    photo = torch.rand(1, 3, 37, 45) * 2 - 1
    assert torch.equal(ContextAggregationNet(8, (1, 2, 4))(photo), photo)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--crop", "64", "--can-dilations", "1", "64"], "--can-dilations up to 64"),
        (["--can-dilations", "0", "2"], "each must be at least 1"),
        (["--crop", "100"], "--crop 100: give a multiple of 8"),
        (["--pairs", "40"], "more come from a corpus (--corpus DIR)"),
    ],
)
def test_settings_the_layouts_cannot_take_are_refused_in_words(argv, message, capsys):
    with pytest.raises(SystemExit):
        paired_layouts.parse_args(argv)
    assert message in capsys.readouterr().err


def test_the_layouts_learn_from_the_quality_benchmarks_six_pairs_and_are_scored_on_its_held_out_photos():
    args = paired_layouts.parse_args(["--side", "32", "--crop", "32", "--can-dilations", "1"])
    train_pairs, photos, targets = paired_layouts.pairs("grade", args)
    assert len(train_pairs) == 6 and len(photos) == len(targets) == 3
    assert all(photo.shape == target.shape for photo, target in train_pairs)


def test_pairs_can_come_from_a_corpus_photos_only_and_thick_enough_to_crop(tmp_path):
    records = []
    pictures = [("wide", "photo", (96, 72)), ("panorama", "photo", (96, 20)), ("painting", "artwork", (96, 72)), ("tall", "photo", (60, 90))]
    for name, category, size in pictures:
        (tmp_path / category).mkdir(exist_ok=True)
        Image.effect_noise(size, 40).convert("RGB").save(tmp_path / category / f"{name}.png")
        records.append({"file": f"{category}/{name}.png", "category": category, "source": "test"})
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    args = paired_layouts.parse_args(["--corpus", str(tmp_path), "--pairs", "3", "--side", "64", "--crop", "32", "--can-dilations", "1"])
    train_pairs, _, _ = paired_layouts.pairs("grade", args)
    assert [tuple(photo.shape[-2:]) for photo, _ in train_pairs] == [(48, 64), (64, 43)]  # the panorama is too thin
    with pytest.raises(SystemExit, match="the corpus .* has 3 photos"):
        paired_layouts.pairs("grade", paired_layouts.parse_args(["--corpus", str(tmp_path), "--pairs", "4"]))
