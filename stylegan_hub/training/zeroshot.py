"""Paired renderings of many styles: what the zero-shot model (`train/pretrain_any.py`) learns from.

A style is one random draw of a filter family's parameters (the project's own filters in `stylegan_hub.artwork`),
sometimes followed by a random tone map. A `StyleBank` renders each style on a few photos, so a training example is
(photo a, style(photo a)) with style(photo b) as the style picture: the encoder has to read the style from another
picture drawn in it, as it must from a user's exemplar. Everything is rendered once, before training, and kept as
8-bit tensors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..artwork import ARTWORK_FILTERS, tone_map

FAMILIES = ("oil", "sketch", "cartoon", "grade", "tone")
TONE_AFTER = 0.35
"""How often a structural filter (oil, sketch, cartoon) is followed by a random tone map: painted and coloured."""


def _random_tone(rng: np.random.Generator) -> dict:
    mixing = np.eye(3) + rng.normal(0.0, 0.22, (3, 3))
    saturation = rng.uniform(0.3, 1.6)  # scale chroma around grey: greyscale-ish to vivid
    grey = np.full((3, 3), 1 / 3)
    matrix = (grey + saturation * (np.eye(3) - grey)) @ mixing
    matrix /= max(1.0, matrix.sum(axis=1).max())  # keep white from overflowing by much
    return {
        "matrix": np.round(matrix, 4).tolist(),
        "offset": np.round(rng.normal(0.0, 0.06, 3), 4).tolist(),
        "gamma": np.round(np.exp(rng.normal(0.0, 0.25, 3)), 4).tolist(),
    }


def sample_style(rng: np.random.Generator) -> list[dict]:
    """A random style: a chain of {"filter": name, "params": {...}} steps, JSON-safe, each filter's parameters drawn
    around its defaults (wide enough that the defaults are ordinary draws)."""
    family = FAMILIES[rng.integers(len(FAMILIES))]
    seed = int(rng.integers(2**31))
    if family == "oil":
        params = dict(radius=rng.uniform(2, 8), sharpness=rng.uniform(4, 14), saturation=rng.uniform(0.9, 1.5), texture=rng.uniform(0, 0.06), seed=seed)
    elif family == "sketch":
        paper = np.clip(1.0 - np.abs(rng.normal(0.0, 0.05, 3)), 0.8, 1.0)
        params = dict(blur=rng.uniform(3, 10), darkness=rng.uniform(1.5, 4), shading=rng.uniform(0.2, 0.7), paper=paper.tolist(), seed=seed)
    elif family == "cartoon":
        params = dict(
            levels=int(rng.integers(4, 17)),
            smoothing=rng.uniform(10, 50),
            saturation=rng.uniform(0.9, 1.6),
            line_width=rng.uniform(0.8, 2.5),
            line_threshold=float(np.exp(rng.uniform(np.log(0.003), np.log(0.015)))),
            seed=seed,
        )
    elif family == "grade":
        params = dict(
            contrast=rng.uniform(0, 1), split_tone=rng.uniform(0, 0.7), hue_pull=rng.uniform(0, 0.7), fade=rng.uniform(0, 0.15), vignette=rng.uniform(0, 0.5)
        )
    else:
        params = _random_tone(rng)
    chain = [{"filter": family, "params": {k: (round(v, 5) if isinstance(v, float) else v) for k, v in params.items()}}]
    if family in ("oil", "sketch", "cartoon") and rng.random() < TONE_AFTER:
        chain.append({"filter": "tone", "params": _random_tone(rng)})
    return chain


def render_style(chain: Sequence[dict], image: np.ndarray) -> np.ndarray:
    """Apply a style chain to a float HxWx3 image in [0, 1]."""
    for step in chain:
        apply = tone_map if step["filter"] == "tone" else ARTWORK_FILTERS[step["filter"]]
        image = apply(image, **step["params"])
    return image


def square(image: Image.Image, side: int) -> np.ndarray:
    """An RGB picture's short side scaled to `side` and centre-cropped: side x side x 3, 8 bits."""
    scale = side / min(image.size)
    width, height = max(side, round(image.width * scale)), max(side, round(image.height * scale))
    resized = image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    left, top = (width - side) // 2, (height - side) // 2
    return np.asarray(resized.crop((left, top, left + side, top + side)))


def _render_one(job: tuple[list[dict], np.ndarray]) -> np.ndarray:
    chain, photo = job
    return np.round(render_style(chain, photo.astype(np.float32) / 255.0) * 255.0).astype(np.uint8)


class StyleBank:
    """`styles` random styles, each rendered on `photos_per_style` of the photos (side x side squares).

    `photos` is (P, 3, S, S) uint8, `renders` (N, K, 3, S, S) uint8, `members` (N, K) the photo behind each render,
    and `chains` the N styles, so a bank saved with `save` can be inspected and reloaded with `load`.
    """

    def __init__(self, photos: torch.Tensor, renders: torch.Tensor, members: torch.Tensor, chains: list[list[dict]]):
        if renders.shape[1] < 2:
            raise ValueError("a style bank needs at least 2 photos per style: one to learn from, another to read the style from")
        self.photos, self.renders, self.members, self.chains = photos, renders, members, chains

    @classmethod
    def render(
        cls, images: Sequence[Image.Image], *, styles: int, photos_per_style: int, side: int, seed: int = 0, workers: int = 1
    ) -> StyleBank:
        if len(images) < photos_per_style:
            raise ValueError(f"{len(images)} photos cannot give {photos_per_style} different photos per style; lower photos_per_style")
        rng = np.random.default_rng(seed)
        photos = np.stack([square(image, side) for image in images])  # (P, S, S, 3)
        chains = [sample_style(rng) for _ in range(styles)]
        members = np.stack([rng.choice(len(photos), photos_per_style, replace=False) for _ in range(styles)])
        jobs = [(chain, photos[index]) for chain, row in zip(chains, members) for index in row]
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                rendered = list(pool.map(_render_one, jobs, chunksize=8))
        else:
            rendered = [_render_one(job) for job in jobs]
        renders = torch.from_numpy(np.stack(rendered)).permute(0, 3, 1, 2).reshape(styles, photos_per_style, 3, side, side)
        return cls(torch.from_numpy(photos).permute(0, 3, 1, 2).contiguous(), renders.contiguous(), torch.from_numpy(members), chains)

    def save(self, path: str | Path) -> None:
        tensors = {"photos": self.photos, "renders": self.renders, "members": self.members}
        torch.save({**tensors, "chains": json.dumps(self.chains)}, path)

    @classmethod
    def load(cls, path: str | Path) -> StyleBank:
        saved = torch.load(path, weights_only=True)
        return cls(saved["photos"], saved["renders"], saved["members"], json.loads(saved["chains"]))

    def sample(self, batch_size: int, resolution: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A batch of (photo crops, the same crops of their renderings), both (B, 3, R, R) in [-1, 1] (R at most the
        bank's side), and style pictures (B, 3, S, S) in [0, 1]: the same style on another photo. Uses torch's global
        generator (Accelerate checkpoints it), so a resumed run draws the same batches."""
        styles, per_style, _, side, _ = self.renders.shape
        style = torch.randint(0, styles, (batch_size,))
        shown = torch.randint(0, per_style, (batch_size,))
        other = (shown + torch.randint(1, per_style, (batch_size,))) % per_style  # never the shown photo
        photos, targets, pictures = [], [], []
        for s, a, b in zip(style.tolist(), shown.tolist(), other.tolist()):
            # Crops at the bank's own scale: the marks in the target are the size they are in the style picture.
            top, left = (int(torch.randint(0, side - resolution + 1, ())) for _ in range(2))
            pair = torch.stack([self.photos[self.members[s, a]], self.renders[s, a]])[..., top : top + resolution, left : left + resolution]
            if torch.rand(()) < 0.5:
                pair = pair.flip(-1)
            pair = pair.float()
            photos.append(pair[0])
            targets.append(pair[1])
            pictures.append(self.renders[s, b].float() / 255)
        to_signed = lambda batch: (torch.stack(batch) / 127.5 - 1).clamp(-1, 1)  # noqa: E731
        return to_signed(photos), to_signed(targets), torch.stack(pictures)
