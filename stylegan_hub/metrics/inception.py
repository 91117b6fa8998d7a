"""FID and KID: distances between Inception-v3 feature distributions (Heusel et al. 2017; Bińkowski et al. 2018).

They need the pretrained Inception network, which is never downloaded here: point `--inception-weights` or the
environment variable STYLEGAN_HUB_INCEPTION_WEIGHTS at a local copy of the TorchScript file that StyleGAN2-ADA,
StyleGAN3 and clean-fid use (`inception-2015-12-05.pt`: called as `model(uint8 NCHW, return_features=True)`, returns
2048 features per image). Without one, `evaluate_outputs` skips FID and KID and says why.

Both are only meaningful on many images (hundreds or more); on a handful of held-out photos they are noisy.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from ..errors import StyleGanHubError

INCEPTION_ENV = "STYLEGAN_HUB_INCEPTION_WEIGHTS"
INCEPTION_METRICS = ("fid", "kid")  # both lower is better; KID is reported x1e3
SKIPPED_MESSAGE = (
    "FID and KID skipped: no Inception weights. Give a local copy of inception-2015-12-05.pt (the TorchScript file "
    f"StyleGAN3 and clean-fid use) with --inception-weights or {INCEPTION_ENV}; nothing is downloaded."
)


class InceptionUnavailable(StyleGanHubError):
    """No usable Inception network was given, so FID/KID cannot be computed."""


def inception_weights_path(path: str | os.PathLike | None = None) -> Path | None:
    """The weights file given directly or through STYLEGAN_HUB_INCEPTION_WEIGHTS; None when neither is set."""
    path = path or os.environ.get(INCEPTION_ENV)
    return Path(path) if path else None


@functools.lru_cache(maxsize=2)
def load_inception(path: Path) -> torch.jit.ScriptModule:
    if not path.is_file():
        raise InceptionUnavailable(f"Inception weights not found at {path}; give the path of a local inception-2015-12-05.pt")
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except (RuntimeError, ValueError) as error:
        raise InceptionUnavailable(f"{path} is not a TorchScript Inception network ({error}); use inception-2015-12-05.pt") from None


def inception_features(model: torch.jit.ScriptModule, images: list[torch.Tensor]) -> np.ndarray:
    """(N, D) features of images (B, 3, H, W) in [0, 1]; the network resizes to 299 px itself."""
    features = []
    with torch.no_grad():
        for image in images:
            pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8)
            features.append(model(pixels, return_features=True).double().reshape(pixels.shape[0], -1))
    return torch.cat(features).numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) between Gaussians fitted to two (N, D) feature sets."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(np.square(mean_a - mean_b).sum() + np.trace(cov_a + cov_b - 2 * root))


def kernel_distance(a: np.ndarray, b: np.ndarray, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets (as StyleGAN2-ADA computes KID)."""
    dims = a.shape[1]
    size = min(len(a), len(b), subset_size)
    if size < 2:
        raise ValueError(f"KID needs at least 2 images in each set, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        kxx, kyy, kxy = ((p @ q.T / dims + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
        within = (kxx.sum() - np.diag(kxx).sum() + kyy.sum() - np.diag(kyy).sum()) / (size - 1)
        total += (within - 2 * kxy.sum() / size) / size
    return float(total / subsets)


def inception_scores(
    outputs: list[torch.Tensor], references: list[torch.Tensor], weights: str | os.PathLike | None = None
) -> dict[str, float]:
    """FID and KID (x1e3) of the outputs against the references; raises InceptionUnavailable without weights."""
    path = inception_weights_path(weights)
    if path is None:
        raise InceptionUnavailable(SKIPPED_MESSAGE)
    model = load_inception(path)
    a, b = inception_features(model, outputs), inception_features(model, references)
    return {"fid": frechet_distance(a, b), "kid": kernel_distance(a, b) * 1e3}
