"""The quality benchmark end to end at toy scale: every method runs, results resume, the report and README update."""

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import quality  # noqa: E402
import report_quality  # noqa: E402


@pytest.fixture
def readme(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("intro\n<!-- quality-benchmark:start -->\nold table\n<!-- quality-benchmark:end -->\nrest\n")
    return path


def test_benchmark_runs_every_method_resumes_and_writes_the_report(tiny_base, tiny_any, tmp_path, readme, capsys):
    argv = [
        "--output-dir", str(tmp_path / "bench"), "--docs", str(tmp_path / "docs"), "--readme", str(readme),
        "--styles", "grade", "--textures", "brick", "--shots", "1", "--full-methods-shots", "1", "--seeds", "1",
        "--ablations", "gram", "--steps", "8", "--resolution", "32", "--gatys-steps", "2", "--eval-side", "48",
        "--base", str(tiny_any), "--pretrained-base", str(tiny_base), "--zero-shot-model", str(tiny_any),
    ]  # fmt: skip
    assert quality.main(quality.parse_args(argv)) == 0
    records = [json.loads(line) for line in (tmp_path / "bench" / "results.jsonl").read_text().splitlines()]
    ran = {(r["kind"], r["method"]) for r in records}
    teacher_methods = {"identity", "reinhard", "gatys", "ours", "paired", "scratch", "zeroshot", "from-base", "ours:gram"}
    texture_methods = teacher_methods - {"paired", "ours:gram"} | {"texture"}  # the texture option runs on textures only
    assert ran == {("teacher", m) for m in teacher_methods} | {("texture", m) for m in texture_methods}
    texture_model = quality.StyleGenerator.from_pretrained(tmp_path / "bench" / "runs" / "texture-brick-1-texture-0")
    assert texture_model.texture_side == 256 and texture_model.texture.std() > 0.05  # the brick picture, in the model
    ours = next(r for r in records if r["method"] == "ours" and r["kind"] == "teacher")
    assert {"psnr", "ssim", "swd", "content_kept", "color_distance", "style_distance"} <= set(ours["metrics"])
    assert [point["step"] for point in ours["trajectory"]] == [1, 2, 3, 4, 5, 6, 7, 8]
    identity = next(r for r in records if r["method"] == "identity" and r["kind"] == "texture")
    assert identity["metrics"]["content_kept"] == pytest.approx(1.0, abs=1e-6)
    assert "check" in capsys.readouterr().out

    report = (tmp_path / "docs" / "benchmark.md").read_text()
    assert "## The bar" in report and "ours from before/after pairs (the paired bound)" in report and "ours, gram" in report and "brick" in report
    assert "zero-shot (builtin:any, no training)" in report and "ours from builtin:base" in report
    zero_shot, photo = (next(r for r in records if r["method"] == m and r["kind"] == "teacher") for m in ("zeroshot", "identity"))
    assert zero_shot["metrics"]["psnr"] != photo["metrics"]["psnr"]  # the exemplars' style was drawn
    assert "from zero-shot reaches the base's final at step" in report and "| grade | " in report
    for figure in ("grid.jpg", "psnr-gain.png", "style-steps.png", "grade.jpg", "brick.jpg"):  # grade, brick: per-style grids
        assert (tmp_path / "docs" / "images" / f"benchmark-{figure}").stat().st_size > 1000
    assert "style distance, 1 exemplars, every teacher style" in report and "paired model, grade" in report
    assert "texture brick (the texture option)" in report and "ours as a texture" in report
    shown = report_quality.picture_grid(tmp_path / "bench", "texture", "brick", 1, 512, tmp_path / "brick.jpg")
    assert shown == ["photo", "teacher / texture", "ours", "ours as texture", "zero-shot", "ours from base", "Reinhard", "from scratch"]
    assert "| style distance (photo = 1), 1 exemplar(s) |" in report and "STYLE_DISTANCE" not in report
    text = readme.read_text()
    assert "old table" not in text and "| check | measured |" in text and text.endswith("rest\n")

    assert quality.main(quality.parse_args(argv)) == 0  # everything measured already: nothing runs again
    assert "0 to go" in capsys.readouterr().out
    assert len((tmp_path / "bench" / "results.jsonl").read_text().splitlines()) == len(records)
    assert "1 seed(s) per learned method" in (tmp_path / "docs" / "benchmark.md").read_text()

    with (tmp_path / "bench" / "results.jsonl").open("a") as log:  # a second seed of ours only: the header says so
        log.write(json.dumps({**ours, "seed": 1}) + "\n")
    assert quality.main(quality.parse_args([*argv, "--report-only"])) == 0
    assert "1–2 seed(s) per learned method" in (tmp_path / "docs" / "benchmark.md").read_text()


def test_ablations_run_on_the_texture_styles_only_when_asked():
    argv = ["--styles", "grade", "--textures", "brick", "--shots", "1", "6", "--methods", "identity", "--ablations", "no-style"]
    for extra, texture_ablation in (([], False), (["--texture-ablations"], True)):
        cases = quality.plan(quality.parse_args([*argv, *extra]))
        assert ("teacher", "grade", 6, "ours:no-style", 0) in cases and ("teacher", "grade", 1, "ours:no-style", 0) not in cases
        assert (("texture", "brick", 1, "ours:no-style", 0) in cases) == texture_ablation


@pytest.mark.parametrize("bad", [["--shots", "9"], ["--shots", "0"], ["--seeds", "0"]])
def test_impossible_plans_are_refused_with_the_valid_range(bad, capsys):
    with pytest.raises(SystemExit):
        quality.parse_args(bad)
    error = capsys.readouterr().err
    assert "take counts from 1 to 8" in error or "--seeds must be at least 1, got 0" in error


def test_colour_ceilings_recover_a_known_colour_transform(tmp_path, capsys):
    import ceilings
    import torch

    from stylegan_hub.data import TRAIN_PHOTOS, sample_photo
    from stylegan_hub.inference import pil_to_tensor
    from stylegan_hub.metrics.report import fit_image

    torch.manual_seed(0)
    matrix = torch.tensor([[0.8, 0.1, 0.0], [0.1, 0.7, 0.1], [0.0, 0.1, 0.6], [0.1, 0.05, 0.2]])
    real = [pil_to_tensor(fit_image(sample_photo(name), 256)) for name in TRAIN_PHOTOS[:6]]  # float32 lstsq fails here
    assert torch.allclose(ceilings.fit_paired(real, [ceilings.apply_map(matrix, photo) for photo in real]), matrix, atol=1e-4)
    photos = [torch.rand(1, 3, 24, 24) for _ in range(3)]
    styled = [ceilings.apply_map(matrix, photo) for photo in photos]
    # Matching distributions of the same photos finds the transform without pairs, to a fraction of a grey level.
    unpaired = [ceilings.apply_map(ceilings.fit_unpaired(photos, styled, steps=200), photo) for photo in photos]
    assert max((a - b).abs().mean() for a, b in zip(unpaired, styled)) < 0.02
    ceilings.main(["--output-dir", str(tmp_path), "--shots", "1", "--eval-side", "32", "--steps", "5", "--styles", "grade", "sketch"])
    table = capsys.readouterr().out
    assert "| one map, unpaired on the content set |" in table and table.count("\n|") == 7 and "| photo | " in table


def test_exemplars_are_rendered_at_the_scale_the_targets_are_scored_at(tmp_path):
    """The teachers' marks scale with the picture, so exemplars made from full-size photos would show the fine-tune
    strokes and lines several times larger in pixels than the held-out targets it is scored against."""
    import numpy as np
    from PIL import Image

    task = quality.Task(tmp_path, "teacher", "cartoon", 2, eval_side=64)
    files = sorted(task.exemplar_dir.iterdir())
    assert len(files) == 2
    for path, photo in zip(files, quality.teacher_photos(2, 64)):
        exemplar = np.asarray(Image.open(path))
        assert max(exemplar.shape[:2]) == 64 == max(task.photos[0].size)
        assert np.array_equal(exemplar, np.asarray(quality.apply_artwork("cartoon", photo)))
    assert quality.Task(tmp_path, "teacher", "cartoon", 2, eval_side=48).exemplar_dir != task.exemplar_dir


def test_the_zero_shot_start_is_credited_at_the_first_step_good_on_both_measures():
    from report_quality import reached_at

    trajectory = [{"step": 50, "psnr": 22.0, "style_distance": 0.5}, {"step": 100, "psnr": 23.0, "style_distance": 0.9}]
    trajectory.append({"step": 150, "psnr": 23.5, "style_distance": 0.7})
    assert reached_at(trajectory, psnr=22.5, distance=0.8) == 150  # step 50 misses the PSNR, step 100 the distance
    assert reached_at(trajectory, psnr=24.0, distance=0.8) is None


def test_the_overview_grid_has_a_labelled_column_only_for_methods_that_ran(tmp_path):
    from PIL import Image
    from report_quality import grid_figure

    images = tmp_path / "images"
    images.mkdir()
    for method in ("identity", "ours", "reinhard"):
        Image.new("RGB", (48, 32), "gray").save(images / f"teacher-grade-1-{method}.png")
    grid_figure(tmp_path, ["grade"], [], 1, tmp_path / "grid.png", height=64)
    width = round(64 * 1.5)
    assert Image.open(tmp_path / "grid.png").width == 4 * width  # photo, teacher, ours, Reinhard: no empty columns
