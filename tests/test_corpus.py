"""train/build_corpus.py on a tiny fake file system: sources found, sorted, de-duplicated and recorded."""

import json
import struct

import build_corpus
import numpy as np
import pytest
from PIL import Image


def photo(seed: int, size=(320, 240)) -> Image.Image:
    """Smooth random shapes plus sensor noise: many colours, almost no pixel equal to its neighbours."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[1], 0 : size[0]] / max(size)
    base = np.stack([np.sin(x * rng.uniform(2, 9) + rng.uniform(0, 6)) * np.cos(y * rng.uniform(2, 9)) for _ in range(3)], axis=2)
    noisy = (base * 0.4 + 0.5) * 255 + rng.normal(0, 6, base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def drawing(size=(300, 300)) -> Image.Image:
    """Flat colours with outlines: clip art."""
    image = Image.new("RGB", size, (250, 250, 250))
    pixels = np.array(image)
    pixels[50:250, 60:200] = (200, 40, 40)
    pixels[50:54, 60:200] = 0
    pixels[120:200, 150:280] = (40, 90, 200)
    return Image.fromarray(pixels)


def gimp_pattern(image: Image.Image) -> bytes:
    name = b"test\x00"
    header = struct.pack(">5I", 24 + len(name), 1, image.width, image.height, 3) + b"GPAT" + name
    return header + image.tobytes()


@pytest.fixture
def fake_root(tmp_path):
    root = tmp_path / "root"
    nature = root / "usr/share/backgrounds/mate/nature"
    nature.mkdir(parents=True)
    photo(1).save(nature / "a.jpg", quality=95)
    photo(1).resize((200, 150)).save(nature / "a-small-copy.png")  # same picture at another size: a duplicate
    photo(2).save(nature / "b.png")
    Image.new("RGB", (400, 300), (90, 120, 200)).save(nature / "flat.png")  # nearly flat: left out
    photo(3, (90, 90)).save(nature / "tiny.png")  # too small
    (nature / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    stamps = root / "usr/share/tuxpaint/stamps/animals"
    stamps.mkdir(parents=True)
    cutout = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    cutout.paste(drawing((200, 200)), (100, 100))
    cutout.save(stamps / "cat.png")
    (root / "usr/share/tuxpaint/stamps/symbols").mkdir(parents=True)
    drawing().save(root / "usr/share/tuxpaint/stamps/symbols/letter.png")  # the source excludes symbols/
    patterns = root / "usr/share/gimp/2.0/patterns/Stone"
    patterns.mkdir(parents=True)
    (patterns / "rock.pat").write_bytes(gimp_pattern(photo(4, (64, 48))))
    return root


def test_corpus_is_collected_sorted_deduplicated_and_recorded(fake_root, tmp_path):
    output = tmp_path / "corpus"
    summary = build_corpus.build(output, fake_root, max_side=256, min_side=128, min_detail=1.0, max_hash_distance=4, include_bundled=False, log=lambda _: None)
    records = [json.loads(line) for line in (output / "manifest.jsonl").read_text().splitlines()]
    by_original = {r["original"]: r for r in records}
    assert set(by_original) == {
        "/usr/share/backgrounds/mate/nature/a.jpg",  # the larger of the two copies is kept
        "/usr/share/backgrounds/mate/nature/b.png",
        "/usr/share/tuxpaint/stamps/animals/cat.png",
        "/usr/share/gimp/2.0/patterns/Stone/rock.pat",
    }
    assert by_original["/usr/share/backgrounds/mate/nature/a.jpg"]["category"] == "photo"
    cat = by_original["/usr/share/tuxpaint/stamps/animals/cat.png"]
    assert cat["category"] == "artwork" and (cat["width"], cat["height"]) == (200, 200)  # cut to its opaque part
    rock = by_original["/usr/share/gimp/2.0/patterns/Stone/rock.pat"]
    assert rock["category"] == "texture" and min(rock["width"], rock["height"]) >= 128  # a small pattern is tiled
    for record in records:
        written = output / record["file"]
        assert written.parent.name == record["category"] and written.stat().st_size == record["bytes"]
        assert max(Image.open(written).size) <= 256 and record["licence"]
    assert summary["by_category"] == {"photo": 2, "artwork": 1, "texture": 1}
    assert summary["refused"] == {"unreadable": 1, "nearly flat": 1, "shorter side under 128 px": 1, "duplicate": 1}
    assert json.loads((output / "corpus.json").read_text())["by_source"]["mate-backgrounds"]["licence"] == "GPL-2+"


def test_photos_and_drawings_are_told_apart():
    assert build_corpus.looks_like_photo(build_corpus.measures(photo(5)))
    assert not build_corpus.looks_like_photo(build_corpus.measures(drawing()))
