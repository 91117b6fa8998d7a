"""Render the quality benchmark's results: docs/benchmark.md, its figures, and the README's benchmark section."""

from __future__ import annotations

import datetime
import re
import statistics
from collections import defaultdict
from pathlib import Path

from PIL import Image

from stylegan_hub.artwork import apply_artwork

LABELS = {
    "identity": "photo (identity)",
    "reinhard": "Reinhard",
    "gatys": "Gatys optimisation",
    "ours": "**ours**",
    "texture": "**ours as a texture** (the texture option)",
    "paired": "ours from before/after pairs (the paired bound)",
    "scratch": "ours from scratch",
    "zeroshot": "zero-shot (builtin:any, no training)",
    "from-base": "ours from builtin:base",
}
README_START, README_END = "<!-- quality-benchmark:start -->", "<!-- quality-benchmark:end -->"
NOTES_FILE = "benchmark-notes.md"
MARKS = {True: "✅", False: "❌", None: ""}
GRID_METHODS = ("identity", "target", "ours", "texture", "zeroshot", "from-base", "paired", "gatys", "reinhard", "scratch")
PICTURE_LABELS = {  # the short column names of both picture grids
    "identity": "photo",
    "target": "teacher / texture",
    "ours": "ours",
    "texture": "ours as texture",
    "zeroshot": "zero-shot",
    "from-base": "ours from base",
    "paired": "paired",
    "gatys": "Gatys",
    "reinhard": "Reinhard",
    "scratch": "from scratch",
}


def replace_readme_section(readme: Path, start: str, end: str, lines: list[str]) -> None:
    """Rewrite what lies between the `start` and `end` markers of the README (left alone when they are missing)."""
    if not readme.exists():
        return
    text = readme.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        readme.write_text(pattern.sub(lambda _: "\n".join([start, *lines, "", end]), text))


def pyplot():
    """matplotlib's pyplot drawing to files only (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def label(method: str) -> str:
    return LABELS.get(method, f"ours, {method.removeprefix('ours:')}")


def cell(stats: dict, name: str, digits: int) -> str:
    if name not in stats:
        return "–"
    median, low, high = stats[name]
    spread = f" ({low:.{digits}f}–{high:.{digits}f})" if high - low > 10**-digits else ""
    return f"{median:.{digits}f}{spread}"


def mean_over(summary: dict, styles: list[str], shots: int, method: str, name: str) -> float | None:
    values = [summary[("teacher", s, shots, method)][name][0] for s in styles if ("teacher", s, shots, method) in summary]
    return sum(values) / len(values) if values and len(values) == len(styles) else None


PAIRED_BEFORE = {"oil": 29.50, "sketch": 17.96, "cartoon": 21.14, "grade": 25.73}  # the paired model before the redesign
DETERMINISTIC = frozenset({"identity", "reinhard", "gatys", "zeroshot"})  # the same output at every seed: run once
TEACHER_CEILING = {"oil": 36.0, "sketch": 21.0, "cartoon": 30.0, "grade": 26.0}  # what a deterministic model can reach
# Grade's ceiling is its vignette, invisible to a generator without position inputs; one learned from pairs has them.
CEILING_NOTE = {"grade": " without position inputs"}


def bar_checks(summary: dict, styles: list[str], textures: list[str], shots: list[int]) -> list[tuple[str, str, str, bool | None]]:
    """The issue's bar: (check, measured, target, passed); passed is None for figures reported beside it."""
    checks = []
    most, fewest = max(shots), min(shots)
    for count in sorted({most, fewest}):
        ours = mean_over(summary, styles, count, "ours", "psnr")
        identity, reinhard = (mean_over(summary, styles, count, m, "psnr") for m in ("identity", "reinhard"))
        if None in (ours, identity, reinhard):
            continue
        margin = 3.0 if count == most else 0.0
        better = max(identity, reinhard)
        checks.append(
            (
                f"mean PSNR, {count} exemplar(s): ours vs the better of identity and Reinhard",
                f"{ours:.2f} vs {better:.2f} dB ({ours - better:+.2f})",
                f"≥ +{margin:.0f} dB" if margin else "above",
                ours - better >= margin if margin else ours > better,
            )
        )
        ssim = mean_over(summary, styles, count, "ours", "ssim")
        best_ssim = max(mean_over(summary, styles, count, m, "ssim") for m in ("identity", "reinhard"))
        if count == most:
            checks.append(
                (f"mean SSIM, {count} exemplar(s): ours vs both baselines", f"{ssim:.3f} vs {best_ssim:.3f}", "above", ssim > best_ssim)
            )
        distances = {s: summary[("teacher", s, count, "ours")]["style_distance"][0] for s in styles if ("teacher", s, count, "ours") in summary}
        if count == most:
            worst = max(distances, key=distances.get)
            checks.append(
                (
                    f"style distance, {count} exemplars, every teacher style (photo = 1)",
                    ", ".join(f"{s} {d:.2f}" for s, d in distances.items()),
                    "≤ 0.60 each",
                    distances[worst] <= 0.6,
                )
            )
        else:
            reinhard_distance = mean_over(summary, styles, count, "reinhard", "style_distance")
            mean_distance = sum(distances.values()) / len(distances)
            checks.append(
                (
                    f"mean style distance, {count} exemplar(s): ours vs photo (1) and Reinhard",
                    f"{mean_distance:.2f} vs 1.00 and {reinhard_distance:.2f}",
                    "below both",
                    mean_distance < min(1.0, reinhard_distance),
                )
            )
        if count == most:
            for style in styles:
                paired = summary.get(("teacher", style, count, "paired"), {}).get("psnr")
                if paired:
                    halfway = (PAIRED_BEFORE[style] + TEACHER_CEILING[style]) / 2
                    checks.append(
                        (
                            f"paired model, {style}: PSNR (before {PAIRED_BEFORE[style]:.1f}, ceiling {TEACHER_CEILING[style]:.0f}"
                            f"{CEILING_NOTE.get(style, '')})",
                            f"{paired[0]:.2f} dB",
                            f"≥ {halfway:.2f} (half the gap)",
                            paired[0] >= halfway,
                        )
                    )
    for name in textures:  # scored as a user learns a texture: with the texture option where it was run
        method = "texture" if ("texture", name, 1, "texture") in summary else "ours"
        ours = summary.get(("texture", name, 1, method))
        if ours:
            distance, kept = ours["style_distance"][0], ours["content_kept"][0]
            how = "the texture option" if method == "texture" else "the default fine-tune"
            checks.append(
                (
                    f"texture {name} ({how}): style distance to the exemplar (photo = 1), content kept",
                    f"{distance:.2f}, {kept:.2f}",
                    "≤ 0.50, ≥ 0.60",
                    distance <= 0.5 and kept >= 0.6,
                )
            )
    return checks


def teacher_table(summary: dict, styles: list[str], shots: int, methods: list[str], name: str, digits: int) -> list[str]:
    heading = {"style_distance": "style distance (photo = 1)"}.get(name, name.upper())
    lines = [f"| {heading}, {shots} exemplar(s) | " + " | ".join(styles) + " | mean |", "|---" * (len(styles) + 2) + "|"]
    for method in methods:
        if not any(("teacher", s, shots, method) in summary for s in styles):
            continue
        cells = [cell(summary.get(("teacher", s, shots, method), {}), name, digits) for s in styles]
        mean = mean_over(summary, styles, shots, method, name)
        lines.append(f"| {label(method)} | " + " | ".join(cells) + f" | {'–' if mean is None else f'{mean:.{digits}f}'} |")
    return lines


def reached_at(trajectory: list[dict], psnr: float, distance: float) -> int | None:
    """The first logged step at which a fine-tune is at least as good as (`psnr`, `distance`) on both, or None."""
    return next((p["step"] for p in trajectory if p["psnr"] >= psnr and p["style_distance"] <= distance), None)


def from_base_table(results: dict, styles: list[str], shots: int) -> list[str]:
    """The default fine-tune (started from the zero-shot model) against the one started from the general base, along
    the steps: where each stands at half the steps and when the default first reaches the other's final PSNR and style
    distance."""
    runs = {}
    for (kind, style, count, method, _), record in sorted(results.items()):
        if (kind, count) == ("teacher", shots) and method in ("ours", "from-base") and record["trajectory"]:
            runs.setdefault((style, method), record)  # the first seed: trajectories are not medians
    lines = [
        f"| {shots} exemplar(s), PSNR / style distance | from the base, half the steps | from the base, all "
        "| from zero-shot (default), half the steps | from zero-shot (default), all | from zero-shot reaches the base's final at step |",
        "|---|---|---|---|---|---|",
    ]
    for style in styles:
        if (style, "ours") not in runs or (style, "from-base") not in runs:
            continue
        base, start = runs[(style, "from-base")]["trajectory"], runs[(style, "ours")]["trajectory"]
        half = base[-1]["step"] // 2
        points = [next((p for p in base if p["step"] >= half), base[-1]), base[-1], next((p for p in start if p["step"] >= half), start[-1]), start[-1]]
        cells = [f"{p['psnr']:.2f} / {p['style_distance']:.2f}" for p in points]
        step = reached_at(start, base[-1]["psnr"], base[-1]["style_distance"])
        lines.append(f"| {style} | " + " | ".join(cells) + f" | {'not within ' + str(start[-1]['step']) if step is None else step} |")
    return lines if len(lines) > 2 else []


def texture_table(summary: dict, textures: list[str], methods: list[str]) -> list[str]:
    lines = ["| style distance ↓ / content kept ↑ | " + " | ".join(textures) + " |", "|---" * (len(textures) + 1) + "|"]
    for method in methods:
        if not any(("texture", t, 1, method) in summary for t in textures):
            continue
        cells = []
        for t in textures:
            stats = summary.get(("texture", t, 1, method), {})
            cells.append(f"{cell(stats, 'style_distance', 2)} / {cell(stats, 'content_kept', 2)}" if stats else "–")
        lines.append(f"| {label(method)} | " + " | ".join(cells) + " |")
    return lines


def ablation_table(summary: dict, styles: list[str], textures: list[str], shots: int, methods: list[str]) -> list[str]:
    lines = [
        f"| variant ({shots} exemplars, mean over teacher styles) | PSNR | SSIM | style distance | content kept | texture style distance | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for method in methods:
        values = [mean_over(summary, styles, shots, method, n) for n in ("psnr", "ssim", "style_distance", "content_kept", "seconds")]
        if values[0] is None:
            continue
        texture = [summary[("texture", t, 1, method)]["style_distance"][0] for t in textures if ("texture", t, 1, method) in summary]
        shown = f"{sum(texture) / len(texture):.2f}" if texture and len(texture) == len(textures) else "–"
        psnr, ssim, distance, kept, seconds = values
        lines.append(f"| {label(method)} | {psnr:.2f} | {ssim:.3f} | {distance:.2f} | {kept:.2f} | {shown} | {seconds:.0f} |")
    return lines


# --------------------------------------------------------------------------- figures


def grid_figure(root: Path, styles: list[str], textures: list[str], shots: int, path: Path, height: int = 128) -> None:
    """One row per style: photo, ground truth (or the texture), then each method's output on the first held-out photo."""
    rows = [("teacher", s, shots) for s in styles] + [("texture", t, 1) for t in textures]
    images_dir = root / "images"
    tiles = []
    for kind, style, count in rows:
        photo_file = images_dir / f"{kind}-{style}-{count}-identity.png"
        if not photo_file.exists():
            continue
        photo = Image.open(photo_file).convert("RGB")
        row = []
        for method in GRID_METHODS:
            if method == "target":
                image = (
                    apply_artwork(style, photo)
                    if kind == "teacher"
                    else Image.open(next((root / "exemplars" / f"texture-{style}-1").iterdir()))
                )
            else:
                file = images_dir / f"{kind}-{style}-{count}-{method}.png"
                image = Image.open(file) if file.exists() else None
            row.append(image)
        tiles.append(row)
    if not tiles:
        return
    shown = [c for c, method in enumerate(GRID_METHODS) if any(row[c] is not None for row in tiles)]  # methods that ran
    tiles = [[row[c] for c in shown] for row in tiles]
    width = round(height * 1.5)
    grid = Image.new("RGB", (width * len(shown), height * len(tiles)), "white")
    for r, row in enumerate(tiles):
        for c, image in enumerate(row):
            if image is not None:
                image = image.convert("RGB")
                image.thumbnail((width, height), Image.Resampling.LANCZOS)
                grid.paste(image, (c * width + (width - image.width) // 2, r * height + (height - image.height) // 2))
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(grid.width / 100, grid.height / 100 + 0.5), dpi=100)
    axis.imshow(grid)
    axis.set_xticks([width * (i + 0.5) for i in range(len(shown))])
    axis.set_xticklabels([PICTURE_LABELS[GRID_METHODS[c]] for c in shown], fontsize=8)
    axis.set_yticks([height * (i + 0.5) for i in range(len(tiles))])
    axis.set_yticklabels([s for _, s, _ in rows][: len(tiles)], fontsize=8)
    figure.tight_layout()
    figure.savefig(path, pil_kwargs={"quality": 90})
    plt.close(figure)


PICTURE_METHODS = ("identity", "target", "ours", "texture", "zeroshot", "from-base", "paired", "reinhard", "scratch")


def picture_grid(root: Path, kind: str, style: str, shots: int, side: int, path: Path) -> list[str]:
    """One style at picture size: photo, teacher (or the texture), ours and the baselines side by side, labelled;
    returns the columns' labels (none, and no picture, with fewer than three pictures to show)."""
    from PIL import ImageDraw

    images = root / "images"
    tiles = []
    for method in PICTURE_METHODS:
        if method == "target" and kind == "texture":
            file = next((root / "exemplars" / f"texture-{style}-1").iterdir())
        else:
            file = images / f"{kind}-{style}-{shots}-{method}-{side}.png"
        if file.exists():
            tiles.append((PICTURE_LABELS[method], Image.open(file).convert("RGB")))
    if len(tiles) < 3:
        return []
    height = max(image.height for _, image in tiles if _ != "teacher / texture")
    scaled = []
    for name, image in tiles:
        image = image.copy()
        image.thumbnail((side, height), Image.Resampling.LANCZOS)
        scaled.append((name, image))
    width = max(image.width for _, image in scaled)
    grid = Image.new("RGB", (width * len(scaled), height + 24), "white")
    draw = ImageDraw.Draw(grid)
    for index, (name, image) in enumerate(scaled):
        grid.paste(image, (index * width + (width - image.width) // 2, 24 + (height - image.height) // 2))
        draw.text((index * width + 6, 5), f"{style}: {name}" if index == 0 else name, fill="black")
    grid.save(path, quality=90)  # photographs: JPEG is a fifth of PNG's size
    return [name for name, _ in scaled]


def gain_figure(summary: dict, styles: list[str], shots: int, methods: list[str], path: Path) -> None:
    """PSNR gain over the photo itself per teacher style and method, with min–max over seeds."""
    plt = pyplot()
    methods = [m for m in methods if m != "identity" and any(("teacher", s, shots, m) in summary for s in styles)]
    figure, axis = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / max(1, len(methods))
    for i, method in enumerate(methods):
        medians, errors = [], [[], []]
        for style in styles:
            stats = summary.get(("teacher", style, shots, method), {}).get("psnr")
            base = summary[("teacher", style, shots, "identity")]["psnr"][0]
            median, low, high = stats if stats else (base, base, base)
            medians.append(median - base)
            errors[0].append(median - low)
            errors[1].append(high - median)
        positions = [j + (i - (len(methods) - 1) / 2) * width for j in range(len(styles))]
        axis.bar(positions, medians, width, yerr=errors, capsize=2, label=label(method).replace("*", ""))
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xticks(range(len(styles)))
    axis.set_xticklabels(styles)
    axis.set_ylabel(f"PSNR gain over the photo (dB), {shots} exemplars")
    axis.legend(fontsize=7, ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def trajectory_figure(results: dict, styles: list[str], textures: list[str], shots: int, path: Path) -> None:
    """Style distance on the held-out photos along the default fine-tune (the photo is 1)."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for kind, names, count in (("teacher", styles, shots), ("texture", textures, 1)):
        for name in names:
            runs = [r for (k, s, c, m, _), r in results.items() if (k, s, c, m) == (kind, name, count, "ours") and r["trajectory"]]
            if not runs:
                continue
            steps = [point["step"] for point in runs[0]["trajectory"]]
            medians = []
            for index in range(len(steps)):
                values = sorted(r["trajectory"][index]["style_distance"] for r in runs if len(r["trajectory"]) > index)
                medians.append(values[len(values) // 2])
            axis.plot([0, *steps], [1.0, *medians], marker="o", markersize=3, label=f"{name} ({kind})")
    axis.axhline(0.6, color="grey", linestyle="--", linewidth=0.8)
    axis.set_xlabel("fine-tune step")
    axis.set_ylabel("style distance (photo = 1)")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# --------------------------------------------------------------------------- the report


def write_report(summary: dict, results: dict, root: Path, docs: Path, readme: Path, machine: str) -> str:
    """Write docs/benchmark.md, its figures and the README section; returns the bar's verdict as text."""
    styles = sorted({s for (k, s, _, _) in summary if k == "teacher"}, key=["oil", "sketch", "cartoon", "grade"].index)
    textures = sorted({s for (k, s, _, _) in summary if k == "texture"})
    shots = sorted({c for (k, _, c, _) in summary if k == "teacher"})
    methods = sorted({m for (*_, m) in summary}, key=lambda m: (m.startswith("ours:"), list(LABELS).index(m) if m in LABELS else 0, m))
    main_methods = [m for m in methods if not m.startswith("ours:")]
    seeds_per_run = defaultdict(set)  # learned methods only: the others are deterministic and run once
    for kind, style, count, method, seed in results:
        if method not in DETERMINISTIC:
            seeds_per_run[(kind, style, count, method)].add(seed)
    counts = [len(seeds) for seeds in seeds_per_run.values()] or [1]
    seeds = str(min(counts)) if min(counts) == max(counts) else f"{min(counts)}–{max(counts)}"
    images = docs / "images"
    images.mkdir(parents=True, exist_ok=True)
    most = max(shots) if shots else 1
    checks = bar_checks(summary, styles, textures, shots) if shots else []
    passed = bool(checks) and all(ok for *_, ok in checks if ok is not None)
    pictures = [
        (kind, style, count)
        for kind, style, count in [("teacher", s, most) for s in styles] + [("texture", t, 1) for t in textures]
        if picture_grid(root, kind, style, count, 512, images / f"benchmark-{style}.jpg")
    ]
    fine_tune_seconds = sorted(r["seconds"] for (k, _, c, m, _), r in results.items() if (k, c, m) == ("teacher", most, "ours"))

    bar = ["| check | measured | target | |", "|---|---|---|---|"]
    bar += [f"| {check} | {measured} | {target} | {MARKS[ok]} |" for check, measured, target, ok in checks]
    lines = [
        "# Quality benchmark: learning a style from a few images",
        "",
        f"Measured {datetime.date.today()} on {machine} with `python bench/quality.py`: exemplar counts "
        f"{', '.join(map(str, shots))}, {seeds} seed(s) per learned method (cells give the median and, in brackets, the "
        "min–max over seeds). Scores are on the held-out photos (chelsea, flower, motorcycle) fitted into 256 px; the "
        "fine-tune saw only the exemplars.",
        (
            f"A default fine-tune took {fine_tune_seconds[0]:.0f} s at best and {statistics.median(fine_tune_seconds):.0f} s "
            "median, wall clock (more when the machine was shared)."
            if fine_tune_seconds
            else ""
        ),
        "",
        "## The bar",
        "",
        *bar,
        "",
        "## Teacher styles (ground truth known)",
        "",
        "Exemplars are the teacher filter applied to the first 1, 3 or 6 train photos (astronaut, coffee, rocket, china, "
        "Hubble deep field, immunohistochemistry). PSNR and SSIM compare with the teacher's rendering of the held-out photo.",
        "",
    ]
    for count in shots:
        lines += [*teacher_table(summary, styles, count, main_methods, "psnr", 2), ""]
        lines += [*teacher_table(summary, styles, count, main_methods, "ssim", 3), ""]
        lines += [*teacher_table(summary, styles, count, main_methods, "style_distance", 2), ""]
        if comparison := from_base_table(results, styles, count):
            lines += [
                f"The default fine-tune, which starts from the zero-shot model (`builtin:any`, from the exemplars' style code), "
                f"against one started from the general base (`builtin:base`), at equal steps ({count} exemplar(s), one seed):",
                "",
                *comparison,
                "",
            ]
    if textures:
        lines += [
            "## Texture styles (no ground truth)",
            "",
            "One scikit-image texture is the only exemplar; the style distance is the outputs' patch SWD to the texture "
            "as a share of the photo's (lower is closer), content kept is the share of the photo's contours still there, in "
            "the same place and direction (texture added where the photo is smooth does not count against it).",
            "",
            *texture_table(summary, textures, main_methods),
            "",
        ]
    lines += [
        "## Ablations",
        "",
        "Each row is the default fine-tune with the settings its name stands for (`bench/quality.py` ABLATIONS).",
        "",
        *ablation_table(summary, styles, textures, most, [m for m in methods if m in ("ours", "scratch") or m.startswith("ours:")]),
        "",
        "## Figures",
        "",
        "Each style at 512 px on a held-out photo: the photo, the teacher's rendering (or the texture), ours and the "
        "baselines.",
        "",
        *[f"![{style}](images/benchmark-{style}.jpg)\n" for kind, style, count in pictures],
        "All styles and methods at a glance (256-px outputs, Gatys included):",
        "",
        "![outputs](images/benchmark-grid.jpg)",
        "",
        "![PSNR gain](images/benchmark-psnr-gain.png)",
        "",
        "![style distance along the fine-tune](images/benchmark-style-steps.png)",
        "",
    ]
    notes = docs / NOTES_FILE  # hand-written findings, kept across re-renders
    if notes.exists():
        lines += [notes.read_text()]
    (docs / "benchmark.md").write_text("\n".join(lines))
    grid_figure(root, styles, textures, most, images / "benchmark-grid.jpg")
    gain_figure(summary, styles, most, main_methods, images / "benchmark-psnr-gain.png")
    trajectory_figure(results, styles, textures, most, images / "benchmark-style-steps.png")

    replace_readme_section(
        readme,
        README_START,
        README_END,
        [*bar, "", *teacher_table(summary, styles, most, main_methods, "psnr", 2), "", *teacher_table(summary, styles, most, main_methods, "style_distance", 2)],
    )
    return ("bar reached" if passed else "bar NOT reached") + "\n" + "\n".join(bar)
