"""The paired-layouts benchmark at toy scale: both layouts train, are scored and timed, and bad settings are refused."""

import math
import sys
from pathlib import Path

import pytest
import torch

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


def test_dilations_too_large_for_the_crop_are_refused_in_words(capsys):
    with pytest.raises(SystemExit):
        paired_layouts.parse_args(["--crop", "64", "--can-dilations", "1", "64"])
    assert "--can-dilations up to 64" in capsys.readouterr().err
