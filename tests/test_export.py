import copy

import numpy as np
import onnxruntime
import pytest
import torch

from stylegan_hub import StyleGanHubError, StyleGenerator
from stylegan_hub.cli import main as cli
from stylegan_hub.export import FLOAT32_TOLERANCE, INT8_MIN_PSNR, export_onnx


def make_generator(noise_channels: int = 0, residual_output: bool = False, position_inputs: bool = False, texture_side: int = 0) -> StyleGenerator:
    torch.manual_seed(0)
    model = StyleGenerator(
        base_channels=4, num_res_blocks=1, noise_channels=noise_channels, residual_output=residual_output, position_inputs=position_inputs
    )
    if texture_side:
        model = model.with_texture(torch.rand(3, 40, 50), texture_side)
    with torch.no_grad():  # a non-trivial mapping
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


@pytest.fixture(scope="module")
def generator():
    return make_generator()


def run_onnx(path, photo: torch.Tensor) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"photo": photo.numpy()})[0]


@pytest.mark.parametrize(
    "noise_channels, residual_output, position_inputs, texture_side",
    [(0, False, False, 0), (2, False, False, 0), (0, True, False, 0), (0, False, True, 0), (0, False, False, 16)],
)
def test_onnx_export_matches_pytorch_at_any_size_and_batch(noise_channels, residual_output, position_inputs, texture_side, tmp_path):
    # With noise channels or a texture the inference field is in the graph; with position inputs the maps follow the input's size.
    generator = make_generator(noise_channels, residual_output, position_inputs, texture_side)
    reference = copy.deepcopy(generator).eval()
    report = export_onnx(generator, tmp_path / "style.onnx")
    assert report.path == tmp_path / "style.onnx" and not report.int8
    assert report.max_abs_difference <= FLOAT32_TOLERANCE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["style.onnx"]  # no temporary or external-data files
    for shape in [(1, 3, 64, 64), (2, 3, 37, 50), (1, 3, 8, 129)]:  # not multiples of the stride; batch of two
        photo = torch.rand(*shape)
        with torch.inference_mode():
            expected = reference.forward_image(photo).numpy()
        exported = run_onnx(report.path, photo)
        assert exported.shape == shape
        assert np.abs(exported - expected).max() <= FLOAT32_TOLERANCE
    assert generator.training and next(generator.parameters()).dtype == torch.float32  # the caller's model untouched


def test_int8_export_is_smaller_and_keeps_the_style(tmp_path):
    generator = StyleGenerator.from_pretrained("builtin:grade")
    full = export_onnx(generator, tmp_path / "grade.onnx")
    small = export_onnx(generator, tmp_path / "grade-int8.onnx", int8=True)
    assert small.int8 and small.psnr >= INT8_MIN_PSNR
    assert small.size_bytes < full.size_bytes / 2.5  # weights in 8 bits instead of 32
    photo = torch.rand(2, 3, 48, 64)  # a real model exported with channels-last weights would only take batches of one
    assert np.abs(run_onnx(small.path, photo) - run_onnx(full.path, photo)).mean() < 0.02


def test_int8_export_that_loses_the_style_is_refused(generator, tmp_path, monkeypatch):
    import stylegan_hub.export as export

    monkeypatch.setattr(export, "INT8_MIN_PSNR", 1000.0)
    with pytest.raises(StyleGanHubError, match="export without --int8"):
        export_onnx(generator, tmp_path / "style.onnx", int8=True)
    assert list(tmp_path.iterdir()) == []


def test_a_palette_model_is_refused_with_the_reason_and_nothing_written(tmp_path):
    model = StyleGenerator(base_channels=4, num_res_blocks=1, palette_colors=6)
    with pytest.raises(StyleGanHubError, match="palette of 6 chosen per picture"):
        export_onnx(model, tmp_path / "cartoon.onnx")
    assert not list(tmp_path.iterdir())


def test_bad_export_targets(generator, tmp_path):
    with pytest.raises(ValueError, match=r"\.onnx"):
        export_onnx(generator, tmp_path / "style.bin")
    with pytest.raises(StyleGanHubError, match="no such folder"):
        export_onnx(generator, tmp_path / "missing" / "style.onnx")


def test_unwritable_folder_is_one_clear_error(generator, tmp_path, monkeypatch):
    import stylegan_hub.export as export

    def refuse(**_):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(export.tempfile, "mkstemp", refuse)  # a read-only folder, even for root
    with pytest.raises(StyleGanHubError, match=r"cannot write there \(Permission denied\)"):
        export_onnx(generator, tmp_path / "style.onnx")


def test_export_command(generator, tmp_path, capsys):
    generator.save_pretrained(tmp_path / "model")
    assert cli(["export", "--model", str(tmp_path / "model"), "-o", str(tmp_path / "style.onnx")]) == 0
    out = capsys.readouterr().out
    assert "max |ONNX - PyTorch|" in out and "sides of at least 8 pixels" in out
    assert (tmp_path / "style.onnx").is_file()
