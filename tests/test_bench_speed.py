"""The speed benchmark at toy scale: every variant is timed, the report and README table are written."""

import re
import sys
from pathlib import Path

import pytest
import torch

from stylegan_hub import StyleGenerator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import speed  # noqa: E402
from reference_models import REFERENCES  # noqa: E402


def test_reference_architectures_match_their_published_sizes():
    expected = {"TransformerNet": (1.68, 80.6), "AnimeGANv2": (2.14, 210.3), "CycleGAN-ResNet9": (11.38, 396.4)}
    for name, cls in REFERENCES.items():
        model = cls().eval()
        params, gflops = expected[name]
        assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == params
        assert round(speed.count_gflops(model, side=128) * 16, 1) == gflops  # FLOPs grow with the pixel count
        assert model(torch.rand(1, 3, 36, 44)).shape == (1, 3, 36, 44)


def test_speed_benchmark_times_every_variant_and_writes_the_report(tmp_path, capsys):
    model = tmp_path / "model"
    StyleGenerator(base_channels=4, num_res_blocks=1).save_pretrained(model)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{speed.README_START}\nold\n{speed.README_END}\nrest\n")
    (tmp_path / "speed-notes.md").write_text("## Notes\nhand-written\n")
    argv = ["--model", str(model), "--sizes", "32", "64", "--no-4k", "--repeats", "2", "--finetune-steps", "3"]
    assert speed.main(speed.parse_args([*argv, "--output", str(tmp_path / "speed.md"), "--readme", str(readme)])) == 0

    report = (tmp_path / "speed.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and not line.startswith("| variant")]
    names = [row.split(" | ")[0].removeprefix("| ") for row in rows]
    assert names[0] == speed.BASELINE
    assert {"AnimeGANv2 fp32", "CycleGAN-ResNet9 fp32", speed.PLAIN, "ours fp32 channels-last, untiled", speed.SHIPPED, speed.FAST} <= set(names)
    assert any(name.startswith("ours ONNX Runtime int8") for name in names)
    assert "64x64 median (min-max) s" in report and "Default fine-tune step" in report
    seams = float(report.split("largest difference ")[1].split(" ")[0])
    assert seams < speed.SEAM_LIMIT and "(seamless)" in report
    assert re.search(r"Work side \d+ at 4K \(.+\): [\d.]+ dB PSNR .* same small result: [\d.]+ dB", report)
    assert report.rstrip().endswith("hand-written")
    text = readme.read_text()
    assert "old" not in text and f"| {speed.PLAIN} |" in text and text.endswith("rest\n")


def test_speed_benchmark_refuses_too_few_fine_tune_steps_in_words(capsys):
    with pytest.raises(SystemExit):
        speed.parse_args(["--finetune-steps", "1"])
    assert "--finetune-steps must be at least 3" in capsys.readouterr().err


def test_four_k_runs_each_variant_in_a_fresh_process_with_its_peak_rss(tmp_path):
    model = tmp_path / "model"
    StyleGenerator(base_channels=4, num_res_blocks=1).save_pretrained(model)
    ours = speed.in_fresh_process(speed.SHIPPED, str(model), (64, 96), runs=2)
    assert len(ours["latencies"]) == 2 and 50e6 < ours["peak_rss"] < 4e9  # torch loaded, nothing like a leak
    reference = speed.in_fresh_process(speed.BASELINE, str(model), (64, 96), runs=2)
    assert len(reference["latencies"]) == 1  # references run once at 4K
    too_big = speed.in_fresh_process(speed.BASELINE, str(model), (8000, 8000), budget=500_000_000)
    assert too_big == {"error": "did not fit in 0.5 GB"}
    broken = speed.in_fresh_process("no such variant", str(model), (64, 96))
    assert "process failed" in broken["error"]
