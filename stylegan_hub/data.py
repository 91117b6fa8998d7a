"""Training images: the sample photos that scikit-image and scikit-learn ship, image folders, Hugging Face datasets,
and random crops of them.

Everything here works offline: the default content photos come inside PyPI packages, so a fine-tune needs nothing
but the user's style images.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .images import expand_image_paths, load_image
from .models.generator import periodic_window, position_grid

# Fixed split of the colour (and two greyscale) photos shipped by scikit-image / scikit-learn.
TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "china", "hubble_deep_field", "immunohistochemistry", "camera", "moon")
HELDOUT_PHOTOS = ("chelsea", "flower", "motorcycle")


def sample_photo(name: str) -> Image.Image:
    """One of the photos bundled with scikit-image (`skimage.data.<name>`; "motorcycle" is the left view of its
    stereo pair) or scikit-learn ("china", "flower")."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return Image.fromarray(load_sample_image(f"{name}.jpg")).convert("RGB")
    import skimage.data

    if name == "motorcycle":
        return Image.fromarray(skimage.data.stereo_motorcycle()[0]).convert("RGB")
    if not hasattr(skimage.data, name):
        raise ValueError(f"unknown sample photo {name!r}; choose from {TRAIN_PHOTOS + HELDOUT_PHOTOS}")
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def sample_photos(split: str = "train") -> list[Image.Image]:
    """The bundled photos of one split: "train" (content for training) or "heldout" (samples and evaluation)."""
    names = {"train": TRAIN_PHOTOS, "heldout": HELDOUT_PHOTOS}.get(split)
    if names is None:
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    return [sample_photo(name) for name in names]


class ImageFolder(Sequence):
    """Images of a folder (or files/globs), decoded lazily and kept as RGB PIL images."""

    def __init__(self, inputs: str | os.PathLike | Sequence[str | os.PathLike]):
        inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
        self.paths = expand_image_paths(inputs)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Image.Image:
        return load_image(self.paths[index]).convert("RGB")


CORPUS_CATEGORIES = ("photo", "artwork", "texture")


class Corpus(Sequence):
    """A corpus written by `train/build_corpus.py`: its images (RGB PIL, decoded lazily) and, in `categories`, the
    index in CORPUS_CATEGORIES of each one and, in `sources`, the package it came from, read from its
    `manifest.jsonl`."""

    def __init__(self, root: str | os.PathLike):
        import json

        self.root = Path(root)
        manifest = self.root / "manifest.jsonl"
        if not manifest.is_file():
            raise ValueError(f"{root}: not a corpus (no manifest.jsonl); build one with python train/build_corpus.py --output-dir {root}")
        records = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        if not records:
            raise ValueError(f"{root}: the corpus is empty")
        self.paths = [self.root / record["file"] for record in records]
        self.categories = [CORPUS_CATEGORIES.index(record["category"]) for record in records]
        self.sources = [record["source"] for record in records]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Image.Image:
        return load_image(self.paths[index]).convert("RGB")


class DatasetImages(Sequence):
    """The image column of a Hugging Face `datasets` dataset, as RGB PIL images."""

    def __init__(self, dataset, column: str | None = None):
        from datasets import Image as ImageFeature

        if column is None:
            columns = [name for name, feature in dataset.features.items() if isinstance(feature, ImageFeature)]
            if not columns:
                raise ValueError(f"dataset has no image column (columns: {list(dataset.features)}); pass --image-column")
            column = columns[0]
        elif column not in dataset.features:
            raise ValueError(f"dataset has no column {column!r} (columns: {list(dataset.features)})")
        self.dataset, self.column = dataset, column

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Image.Image:
        return load_image(self.dataset[int(index)][self.column]).convert("RGB")


def load_hf_dataset(name: str, *, data_dir: str | None = None, split: str = "train", column: str | None = None) -> DatasetImages:
    """A dataset from the Hub (`org/name`) or a builder such as `imagefolder` with `data_dir`."""
    from datasets import load_dataset

    return DatasetImages(load_dataset(name, data_dir=data_dir, split=split), column)


class RandomCrops:
    """Random square crops of a set of images, rescaled to `resolution`, flipped at random.

    Crops cover between `min_scale` and all of the image's shorter side, so the network sees textures at several
    scales; with `min_scale=None` they are `resolution`-pixel windows at the image's own scale (a filter's radius in
    pixels is then learned as the pictures have it; an image smaller than that is taken whole and enlarged).
    With `positions`, each crop carries two more channels: the row and column in [-1, 1] of every pixel in its whole
    image (what a generator with `position_inputs` sees). With `noise_field` (C, P, P), the periodic field a generator
    with C noise inputs draws at inference, each crop carries C more: that field at the crop's place, unflipped and at
    the image's own scale (`min_scale=None`), so pairs rendered by such a model show the texture it drew from that
    noise where the noise is. Images are decoded once and kept downscaled to `max_side` (a bounded cache for large
    datasets), except with a noise field, which lies on them at their full size.
    Randomness uses torch's global generator, which Accelerate checkpoints, so a resumed run draws the same crops.
    """

    def __init__(
        self,
        images: Sequence[Image.Image],
        resolution: int,
        *,
        min_scale: float | None = 0.5,
        max_side: int = 768,
        cache_size: int = 512,
        positions: bool = False,
        noise_field: torch.Tensor | None = None,
    ):
        if len(images) == 0:
            raise ValueError("no training images")
        if resolution < 8:
            raise ValueError(f"resolution must be at least 8 pixels, got {resolution}")
        self.images, self.resolution, self.min_scale, self.max_side = images, resolution, min_scale, max_side
        if noise_field is not None:  # it lies on the pictures as they are: neither rescaled nor shrunk
            if min_scale is not None:
                raise ValueError("a noise field is drawn at the pictures' own scale: crop with min_scale=None")
            small = [image.size for image in images if min(image.size) < resolution]
            if small:
                width, height = small[0]
                raise ValueError(
                    f"a {width}x{height} picture is smaller than the {resolution}-px crops, which a noise field needs at the "
                    "pictures' own scale: lower the resolution or give larger pictures"
                )
        self.positions, self.noise_field = positions, noise_field
        self._tensor = functools.lru_cache(maxsize=cache_size)(self._decode)

    def __len__(self) -> int:
        return len(self.images)

    def _decode(self, index: int) -> torch.Tensor:
        return self._as_tensor(self.images[index])

    def _as_tensor(self, image: Image.Image) -> torch.Tensor:
        if max(image.size) > self.max_side and self.noise_field is None:  # a shrunk picture would lose its place in the field
            image = image.copy()
            image.thumbnail((self.max_side, self.max_side), Image.Resampling.LANCZOS)
        return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).contiguous()  # (3, H, W) uint8

    def crop(self, index: int) -> torch.Tensor:
        """One random crop of image `index`: (C, resolution, resolution), C = the image's channels (3) in [-1, 1]
        and, with `positions`, 2 more, then with `noise_field` its channels."""
        image = self._tensor(index)
        height, width = image.shape[-2:]
        if self.min_scale is None:
            side = min(self.resolution, height, width)
        else:
            side = max(1, round(min(height, width) * (self.min_scale + (1 - self.min_scale) * torch.rand(()).item())))
        top = int(torch.randint(0, height - side + 1, ()))
        left = int(torch.randint(0, width - side + 1, ()))
        patch = image[:, top : top + side, left : left + side].float().unsqueeze(0) / 127.5 - 1
        if self.positions:  # resized and flipped with the pixels, so each keeps the place it came from
            patch = torch.cat([patch, position_grid(top, left, side, side, (height, width)).unsqueeze(0)], dim=1)
        if side != self.resolution:
            patch = F.interpolate(patch, size=(self.resolution,) * 2, mode="bilinear", antialias=True, align_corners=False)
        if self.noise_field is not None:  # unflipped: a texture drawn from noise is not mirror-symmetric
            return torch.cat([patch[0].clamp(-1, 1), periodic_window(self.noise_field, top, left, side, side)])
        if torch.rand(()) < 0.5:
            patch = patch.flip(-1)
        return patch[0].clamp(-1, 1)

    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch (B, C, R, R) in [-1, 1] (C as `crop` gives) and the index of the image each crop came from."""
        indices = torch.randint(0, len(self.images), (batch_size,))
        return torch.stack([self.crop(int(i)) for i in indices]), indices


ASPECT_TOLERANCE = 0.02
"""How far a style image's aspect ratio may be from its original's (an export rounded to other pixels) before the
pair is refused as two different pictures."""


def before_after_pairs(style_images: ImageFolder, originals: ImageFolder) -> tuple[list[Image.Image], list[Image.Image]]:
    """The (original, styled) pictures of a paired fine-tune, matched by file name without extension (`beach.jpg`
    edited into `beach.png`); each original is resized to its styled picture's size, so the same crop of both shows
    the same place. Raises ValueError naming the files without a partner, or a pair of different shapes."""
    stems = {Path(path).stem: index for index, path in enumerate(originals.paths)}
    unmatched = [Path(path).name for path in style_images.paths if Path(path).stem not in stems]
    if unmatched:
        raise ValueError(
            f"no original for {', '.join(unmatched)}: give each style image's original photo the same file name "
            f"(extension aside); the originals are {', '.join(Path(path).name for path in originals.paths)}"
        )
    befores, afters = [], []
    for index, path in enumerate(style_images.paths):
        after, before = style_images[index], originals[stems[Path(path).stem]]
        if abs(np.log(after.width / after.height) - np.log(before.width / before.height)) > ASPECT_TOLERANCE:
            raise ValueError(
                f"{Path(path).name} is {after.width}x{after.height} but its original "
                f"{Path(originals.paths[stems[Path(path).stem]]).name} is {before.width}x{before.height}: "
                "a pair must show the same picture, uncropped"
            )
        befores.append(before.resize(after.size, Image.Resampling.LANCZOS) if before.size != after.size else before)
        afters.append(after)
    return befores, afters


class PairedCrops(RandomCrops):
    """Random crops taken at the same place, scale and flip of an original and its styled version: `sample` gives
    (B, 6, R, R), the original's channels first (then the positions, with `positions`, and the noise, with
    `noise_field`)."""

    def __init__(self, originals: Sequence[Image.Image], styled: Sequence[Image.Image], resolution: int, **kwargs):
        if len(originals) != len(styled):
            raise ValueError(f"{len(originals)} originals for {len(styled)} styled images: give one of each per pair")
        if any(original.size != picture.size for original, picture in zip(originals, styled)):
            raise ValueError("each original must have its styled picture's size (before_after_pairs resizes them)")
        super().__init__(originals, resolution, **kwargs)
        self.styled = styled

    def _decode(self, index: int) -> torch.Tensor:  # the same size, so shrunk alike
        return torch.cat([self._as_tensor(self.images[index]), self._as_tensor(self.styled[index])])


def palette(images: Sequence[Image.Image], max_side: int = 128) -> torch.Tensor:
    """Every pixel of a set of images, each first fitted into `max_side` pixels: (1, 3, N, 1) in [-1, 1], the target
    of a colour-distribution loss (a whole set's palette, where one batch of crops would be a biased sample)."""
    pixels = []
    for image in images:
        image = image.convert("RGB")  # a copy, so thumbnail leaves the caller's image alone
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        pixels.append(torch.from_numpy(np.array(image)).reshape(-1, 3).float() / 127.5 - 1)
    return torch.cat(pixels).T[None, :, :, None]
