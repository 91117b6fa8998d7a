"""How far changing colours alone goes on the teacher styles: the reference points behind the quality bar.

    python bench/ceilings.py                  # Markdown tables for 6 and 1 exemplars (a few minutes on 2 cores)
    python bench/ceilings.py --shots 6

Every row maps each held-out photo's pixels through one affine colour transform (RGB -> RGB, 12 numbers) and is scored
by PSNR against the teacher, exactly as `bench/quality.py` scores a model:

* photo                    -- no transform (the identity baseline);
* per-photo fit (oracle)   -- a transform fitted to each held-out photo's own target: knows the answer;
* one map, paired          -- one transform for the style, least squares on the (train photo, exemplar) pairs;
* one map, unpaired        -- one transform fitted by matching colour distributions (sliced Wasserstein) of a set
                              of content photos to the exemplars' pixels, with the content set being either the
                              exemplars' own source photos or the fine-tune's content set (all bundled train photos).

The gap between the last two rows is what an unpaired method loses when its content photos are not the exemplars'
sources, which is the case for every real user.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from quality import Task

from stylegan_hub.artwork import ARTWORK_FILTERS
from stylegan_hub.data import TRAIN_PHOTOS, sample_photo
from stylegan_hub.inference import pil_to_tensor
from stylegan_hub.losses import color_distribution_loss
from stylegan_hub.metrics.fidelity import psnr
from stylegan_hub.metrics.report import fit_image

IDENTITY = torch.cat([torch.eye(3), torch.zeros(1, 3)])  # (4, 3): RGB and a constant in, RGB out
SAMPLES = 8192  # pixels of each side per step of the unpaired fit


def as_palette(colors: torch.Tensor) -> torch.Tensor:
    """(N, 3) in [0, 1] -> (1, 3, N, 1) in [-1, 1], the layout of the fine-tune's colour loss."""
    return colors.T[None, :, :, None] * 2 - 1


def pixels(images: list[torch.Tensor]) -> torch.Tensor:
    """(1, 3, H, W) images -> (N, 3) pixels."""
    return torch.cat([image[0].flatten(1).T for image in images])


def apply_map(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """One affine colour transform (4, 3) applied to a (1, 3, H, W) image in [0, 1]."""
    flat = pixels([image])
    mapped = torch.cat([flat, torch.ones(len(flat), 1)], dim=1) @ matrix
    return mapped.T.reshape(image.shape).clamp(0, 1)


def fit_paired(photos: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    source = pixels(photos).double()  # float32 least squares over 10^5 pixels comes out wrong
    design = torch.cat([source, torch.ones(len(source), 1, dtype=torch.float64)], dim=1)
    return torch.linalg.lstsq(design, pixels(targets).double(), driver="gelsd").solution.float()


def fit_unpaired(content: list[torch.Tensor], exemplars: list[torch.Tensor], steps: int = 300, seed: int = 0) -> torch.Tensor:
    """The transform whose outputs on the content pixels have the exemplars' colour distribution (starts at identity)."""
    torch.manual_seed(seed)
    source, target = pixels(content), pixels(exemplars)
    source = torch.cat([source, torch.ones(len(source), 1)], dim=1)
    matrix = IDENTITY.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([matrix], lr=0.01)
    for _ in range(steps):
        mapped = (source[torch.randint(0, len(source), (SAMPLES,))] @ matrix).clamp(0, 1)
        loss = color_distribution_loss(as_palette(mapped), as_palette(target[torch.randint(0, len(target), (SAMPLES,))]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return matrix.detach()


def rows_for(task: Task, eval_side: int, steps: int) -> dict[str, float]:
    """Each row's mean PSNR on the held-out photos: the transform(s) it maps them with, one per photo."""
    # The photos the exemplars were made from, in the order of task.exemplars (their files are named after them).
    sources = [pil_to_tensor(fit_image(sample_photo(path.stem), eval_side)) for path in sorted(task.exemplar_dir.iterdir())]
    content = [pil_to_tensor(fit_image(sample_photo(name), eval_side)) for name in TRAIN_PHOTOS]
    count = len(task.photo_tensors)
    rows = {
        "photo": [IDENTITY] * count,
        "per-photo fit (oracle)": [fit_paired([photo], [target]) for photo, target in zip(task.photo_tensors, task.targets)],
        "one map, paired": [fit_paired(sources, task.exemplars)] * count,
        "one map, unpaired on the exemplars' sources": [fit_unpaired(sources, task.exemplars, steps)] * count,
        "one map, unpaired on the content set": [fit_unpaired(content, task.exemplars, steps)] * count,
    }
    return {
        name: sum(psnr(apply_map(matrix, photo), target) for matrix, photo, target in zip(matrices, task.photo_tensors, task.targets))
        / count
        for name, matrices in rows.items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="build/bench-quality", help="where the benchmark keeps its exemplars")
    parser.add_argument("--styles", nargs="+", default=list(ARTWORK_FILTERS), choices=list(ARTWORK_FILTERS), help="teacher styles")
    parser.add_argument("--shots", nargs="+", type=int, default=[6, 1])
    parser.add_argument("--eval-side", type=int, default=256)
    parser.add_argument("--steps", type=int, default=300, help="Adam steps of each unpaired fit (default: %(default)s)")
    args = parser.parse_args(argv)
    for shots in args.shots:
        table = {
            style: rows_for(Task(Path(args.output_dir), "teacher", style, shots, args.eval_side), args.eval_side, args.steps)
            for style in args.styles
        }
        styles = list(table)
        print(f"\n{shots} exemplar(s): PSNR (dB) against the teacher\n")
        print("| colour transform | " + " | ".join(styles) + " | mean |")
        print("|---" * (len(styles) + 2) + "|")
        for row in table[styles[0]]:
            values = [table[style][row] for style in styles]
            print(f"| {row} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {sum(values) / len(values):.2f} |")


if __name__ == "__main__":
    main()
