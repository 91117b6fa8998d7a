"""How train/make_builtins.py turns artwork files into a style's exemplars and its card's list, and distils a teacher."""

import json

import make_builtins  # train/ is on the path (conftest.py)
import numpy as np
import pytest
import torch
from PIL import Image

from stylegan_hub import StyleGenerator
from stylegan_hub.inference import pil_to_tensor
from stylegan_hub.training import finetune
from stylegan_hub.training.card import TRAINING_RECORD


def cutout(colour: tuple[int, int, int], size: int = 120) -> Image.Image:
    """A filled disc with a black rim on a transparent square, as a clip-art stamp is."""
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot(yy - size / 2, xx - size / 2)
    pixels = np.zeros((size, size, 4), np.uint8)
    pixels[radius < size / 2 - 1] = (0, 0, 0, 255)
    pixels[radius < size / 2 - 6] = (*colour, 255)
    return Image.fromarray(pixels, "RGBA")


def test_stamp_sheets_lay_cutouts_over_most_of_the_paper_and_rebuild_exactly():
    stamps = [cutout(colour) for colour in ((230, 40, 30), (40, 160, 60), (40, 80, 220), (250, 210, 30))]
    sheets = make_builtins.stamp_sheets(stamps, 3, side=256)
    assert len(sheets) == 3 and all(sheet.mode == "RGB" and sheet.size == (256, 256) for sheet in sheets)
    pixels = np.stack([np.asarray(sheet) for sheet in sheets])
    paper = (pixels == 255).all(axis=-1).mean()
    assert paper < 0.5  # mostly fills and outlines, not empty paper
    assert (pixels.max(axis=-1) < 30).mean() > 0.03  # the rims (outlines) are drawn
    assert not np.array_equal(pixels[0], pixels[1])  # each sheet has its own layout
    again = np.stack([np.asarray(sheet) for sheet in make_builtins.stamp_sheets(stamps, 3, side=256)])
    assert np.array_equal(pixels, again)
    assert not np.array_equal(pixels, np.stack([np.asarray(s) for s in make_builtins.stamp_sheets(stamps, 3, side=256, seed=1)]))


def test_a_sheet_style_exemplars_are_sheets_of_its_files_and_its_card_lists_each_file(tmp_path, monkeypatch):
    files = []
    for index, colour in enumerate(((230, 40, 30), (40, 80, 220))):
        cutout(colour).save(tmp_path / f"stamp-{index}.png")
        files.append(str(tmp_path / f"stamp-{index}.png"))
    style = make_builtins.ArtworkStyle("Test clip art.", "some-package", "GPL-2", "gpl-2.0", tuple(files), sheets=2)
    monkeypatch.setitem(make_builtins.ARTWORK_STYLES, "test-clipart", style)
    exemplars = make_builtins.exemplar_images("test-clipart")
    assert [image.size for image in exemplars] == [(make_builtins.SHEET_SIDE,) * 2] * 2
    assert sorted(e["name"] for e in make_builtins.exemplar_record("test-clipart")["exemplars"]) == ["stamp-0.png", "stamp-1.png"]
    assert all(e["licence"] == "GPL-2" for e in make_builtins.exemplar_record("test-clipart")["exemplars"])


def test_distil_learns_the_teachers_renderings_in_the_small_layout_with_its_palette(tmp_path, tiny_base, monkeypatch):
    torch.manual_seed(0)
    teacher_dir = tmp_path / "teacher"
    teacher = StyleGenerator(base_channels=4, num_downsamples=3, num_res_blocks=1, palette_colors=3)
    teacher.save_pretrained(teacher_dir)
    monkeypatch.setattr(make_builtins, "DISTILLED_LAYOUT", str(tiny_base))
    monkeypatch.setattr(make_builtins, "FILTER_SIDES", (48,))
    monkeypatch.setattr(make_builtins, "PAIRED_SETTINGS", {**make_builtins.PAIRED_SETTINGS, "steps": 2, "batch_size": 2, "resolution": 32})
    student_dir = make_builtins.distil(teacher_dir, "clip", tmp_path / "work")

    student = StyleGenerator.from_pretrained(student_dir)
    layout = json.loads((tiny_base / "config.json").read_text())
    assert (student.num_downsamples, student.stem.out_channels) == (layout["num_downsamples"], layout["base_channels"])
    assert student.residual_output and student.palette_colors == 3  # fresh weights, the change learned, the snap kept
    photos = make_builtins.filter_photos()
    renderings = sorted((tmp_path / "work" / "renderings" / "clip").glob("*.png"))
    assert len(renderings) == len(photos)
    first = pil_to_tensor(Image.open(tmp_path / "work" / "renderings" / "clip" / "clip-0.png"))
    assert torch.equal(first, pil_to_tensor(teacher.stylize(photos[0], precision="float32")))
    arguments = json.loads((student_dir / TRAINING_RECORD).read_text())["arguments"]
    assert arguments["from_scratch"] and arguments["palette_colors"] == 0 and arguments["original_images"]


def test_distilling_a_teacher_with_noise_inputs_shows_the_student_the_teachers_noise_field(tmp_path, tiny_base, monkeypatch):
    torch.manual_seed(0)
    teacher_dir = tmp_path / "teacher"
    StyleGenerator(base_channels=4, num_downsamples=3, num_res_blocks=1, noise_channels=2).save_pretrained(teacher_dir)
    monkeypatch.setattr(make_builtins, "DISTILLED_LAYOUT", str(tiny_base))
    monkeypatch.setattr(make_builtins, "FILTER_SIDES", (48,))
    monkeypatch.setattr(make_builtins, "PAIRED_SETTINGS", {**make_builtins.PAIRED_SETTINGS, "steps": 2, "batch_size": 2, "resolution": 32})
    given = []
    step = finetune.paired_step
    monkeypatch.setattr(finetune, "paired_step", lambda *args: given.append(args[-1]) or step(*args))
    student_dir = make_builtins.distil(teacher_dir, "ink", tmp_path / "work")

    assert StyleGenerator.from_pretrained(student_dir).noise_channels == 2
    assert len(given) == 2 and all(noise is not None and noise.shape[1] == 2 for noise in given)  # the field, not fresh draws
    arguments = json.loads((student_dir / TRAINING_RECORD).read_text())["arguments"]
    assert arguments["pair_noise"] == "field" and arguments["pair_crops"] == "native"


def test_a_texture_teacher_is_not_distilled(tmp_path):
    teacher_dir = tmp_path / "teacher"
    StyleGenerator(base_channels=4, num_res_blocks=1).with_texture(torch.rand(3, 20, 20), 16).save_pretrained(teacher_dir)
    with pytest.raises(ValueError, match="draws from its own picture"):
        make_builtins.distil(teacher_dir, "bricks", tmp_path / "work")
