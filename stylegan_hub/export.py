"""Export a style generator for runtimes without PyTorch: ONNX, optionally quantised to int8.

The exported graph is the whole image filter (`StyleGenerator.forward_image`): a float32 batch (B, 3, H, W) in
[0, 1] in, the stylized batch of the same size out, for any H and W of at least 2 * size_multiple. Every export is
checked with ONNX Runtime against PyTorch on the bundled held-out photos before it is reported as written.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import StyleGanHubError
from .inference import inference_generator
from .metrics import psnr
from .models import StyleGenerator

FLOAT32_TOLERANCE = 1e-4
"""Largest |ONNX - PyTorch| accepted for a float32 export (outputs in [0, 1]; measured: about 2e-7)."""
INT8_MIN_PSNR = 35.0
"""An int8 export whose output is further than this (dB) from float32's is refused as not keeping the style."""
CHECK_SIDE = 256
"""Check and calibration photos are fitted into this many pixels."""


@dataclass
class ExportReport:
    path: Path
    int8: bool
    max_abs_difference: float  # against PyTorch float32, on the held-out photos
    psnr: float  # dB, same comparison
    size_bytes: int


class _ImageFilter(torch.nn.Module):
    """forward_image as the module's forward (what torch.onnx.export traces)."""

    def __init__(self, generator: StyleGenerator):
        super().__init__()
        self.generator = generator

    def forward(self, photo: torch.Tensor) -> torch.Tensor:
        return self.generator.forward_image(photo)


@contextlib.contextmanager
def _quiet():
    """The exporter narrates its passes and warns about torchvision ops; the quantiser suggests a pre-processing
    step that cannot infer this model's symbolic shapes. None of it is actionable for a user of `export`."""
    loggers = [logging.getLogger(), logging.getLogger("torch.onnx")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", (FutureWarning, DeprecationWarning))
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _photos(split: str) -> list[np.ndarray]:
    from .data import sample_photos
    from .inference import pil_to_tensor
    from .metrics.report import fit_image

    return [pil_to_tensor(fit_image(photo, CHECK_SIDE)).numpy() for photo in sample_photos(split)]


def _require_packages() -> None:
    """Fail before a slow export when the ONNX packages are missing, naming the install command."""
    import importlib.util

    missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise StyleGanHubError(f"exporting to ONNX needs {', '.join(missing)}: pip install 'stylegan-hub[export]'")


def _session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: ONNX Runtime warns about every unused initializer
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _quantize_int8(source: Path, target: Path) -> None:
    """Static int8 quantisation (QDQ, per-channel weights), activation ranges calibrated on the bundled train photos."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class BundledPhotos(CalibrationDataReader):
        def __init__(self):
            self.photos = iter(_photos("train"))

        def get_next(self) -> dict | None:
            photo = next(self.photos, None)
            return None if photo is None else {"photo": photo}

    quantize_static(
        str(source),
        str(target),
        BundledPhotos(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        reduce_range=True,  # 7-bit weights: x86 CPUs without VNNI saturate u8 x s8 products at full range (30 dB)
    )


def _work_file(target: Path) -> Path:
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".onnx")
    os.close(descriptor)
    return Path(name)


def _all_pixels(images: list[torch.Tensor]) -> torch.Tensor:
    """Images (1, 3, H, W) of different sizes as one (1, 3, N, 1) image, so one PSNR covers every pixel."""
    return torch.cat([image.flatten(2) for image in images], dim=2)[..., None]


def compare_with_pytorch(reference: StyleGenerator, path: Path) -> tuple[float, float]:
    """(max |ONNX - PyTorch|, PSNR in dB) of the exported model at `path` on the held-out photos; `reference` is the
    float32 generator it was exported from."""
    session = _session(path)
    photos = _photos("heldout")
    exported = [torch.from_numpy(session.run(None, {"photo": photo})[0]) for photo in photos]
    with torch.inference_mode():
        expected = [reference.forward_image(torch.from_numpy(photo)) for photo in photos]
    exported, expected = _all_pixels(exported), _all_pixels(expected)
    return float((exported - expected).abs().max()), psnr(exported, expected)


def export_onnx(generator: StyleGenerator, path: str | os.PathLike, *, int8: bool = False) -> ExportReport:
    """Write `generator` as an ONNX model at `path` (int8: statically quantised), checked against PyTorch.

    Raises StyleGanHubError when the exported model does not reproduce PyTorch (float32: within
    FLOAT32_TOLERANCE; int8: at least INT8_MIN_PSNR dB); the file is then not left behind. A model with position
    inputs (learned from before/after pairs) takes its input as the whole picture: run it tile by tile and each tile
    gets a vignette of its own.
    """
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"the output should end in .onnx, got {path}")
    if not path.parent.is_dir():
        raise StyleGanHubError(f"{path.parent}: no such folder; create it first")
    if generator.palette_colors:
        raise StyleGanHubError(
            f"this model snaps its colours to a palette of {generator.palette_colors} chosen per picture (k-means), "
            "which the ONNX export does not carry yet: run it with PyTorch (stylegan-hub stylize)"
        )
    _require_packages()
    # A float32 copy on the CPU (the caller's model untouched), with contiguous weights: channels-last ones make
    # torch.export specialise the graph to batches of one.
    generator = copy.deepcopy(inference_generator(generator, "float32")).to("cpu", memory_format=torch.contiguous_format)
    minimum = 2 * generator.size_multiple
    example = torch.rand(1, 3, CHECK_SIDE, CHECK_SIDE, generator=torch.Generator().manual_seed(0))
    dims = {0: torch.export.Dim("batch", min=1), 2: torch.export.Dim("height", min=minimum), 3: torch.export.Dim("width", min=minimum)}
    # Work files beside the target (same file system, so the final rename is atomic), never clobbering a user's file.
    try:
        float_path, written = _work_file(path), _work_file(path)
    except OSError as error:
        raise StyleGanHubError(f"{path.parent}: cannot write there ({error.strerror})") from None
    try:
        with _quiet():
            torch.onnx.export(
                _ImageFilter(generator).eval(),
                (example,),
                str(float_path),
                dynamo=True,
                input_names=["photo"],
                output_names=["stylized"],
                dynamic_shapes={"photo": dims},
                external_data=False,
            )
            if int8:
                _quantize_int8(float_path, written)
            else:
                float_path.replace(written)
        worst, psnr = compare_with_pytorch(generator, written)
        if int8 and psnr < INT8_MIN_PSNR:
            raise StyleGanHubError(
                f"the int8 model reaches only {psnr:.1f} dB PSNR against float32 (minimum {INT8_MIN_PSNR:.0f}): "
                "quantisation loses this style; export without --int8"
            )
        if not int8 and worst > FLOAT32_TOLERANCE:
            raise StyleGanHubError(f"the ONNX model differs from PyTorch by up to {worst:.2e} (tolerance {FLOAT32_TOLERANCE:.0e})")
        written.replace(path)
    finally:
        for leftover in (float_path, written):
            leftover.unlink(missing_ok=True)
    return ExportReport(path, int8, worst, psnr, path.stat().st_size)
