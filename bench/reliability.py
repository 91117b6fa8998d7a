"""Reliability in figures: kill -9 then resume, fuzzed images, and a full disk during saves.

    python bench/reliability.py                     # all three parts (about 10 min on 2 CPU cores)
    python bench/reliability.py --only kill --kill-trials 20
    python bench/reliability.py --only fuzz --fuzz-files 2000
    python bench/reliability.py --only disk         # needs root, for a small tmpfs
    python bench/reliability.py --only abuse --visitors 32

- kill: `stylegan-hub finetune` (a tiny model, so a trial takes seconds) is killed with SIGKILL at a random logged
  step, during a checkpoint save or during the final save, then run again with `--resume latest`. Every trial must
  end with a model that loads, `steps` equal to `--steps` in training_args.json, and each step logged exactly once.
- fuzz: mutated image files (bit flips, truncations, wrong magic, huge declared sizes, odd EXIF, palette/16-bit/CMYK
  and other modes) go through the library's `stylize` and through the app's Stylize handler (as an upload) in a
  worker process; each must stylize or give one line, never a traceback, a hang over 10 s or 2 GB of memory.
- disk: fine-tunes and stylize writes on a nearly full file system: a one-line error, the previous model and
  checkpoint intact, no partial files left.
- abuse: the app (as `python app.py` serves it) with 32 visitors at once (stylize, malformed calls, uploads at the
  25 MB cap, fine-tunes started and cancelled) while one fine-tune runs; failures beyond the intended refusals,
  latency percentiles, and visitor folders left once every visitor has left (their heartbeat closed, as a tab does).

A measurement, not a test: it prints counts and times.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "PYTHONPATH": str(REPO),
    "HF_HUB_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TQDM_DISABLE": "1",
    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
}


# ---- shared set-up ---------------------------------------------------------------------------------------------


def make_tiny_setup(root: Path) -> tuple[Path, Path, Path]:
    """A tiny base model (random weights), three style exemplars and four content photos, all small."""
    import numpy as np
    import torch
    from PIL import Image

    from stylegan_hub import StyleDiscriminator, StyleGenerator

    torch.manual_seed(0)
    base = root / "tiny-base"
    StyleGenerator(base_channels=4, num_res_blocks=1).save_pretrained(base)
    StyleDiscriminator(channels=[8, 8, 8], num_domains=5).save_pretrained(base / "discriminator")
    rng = np.random.default_rng(0)
    style, photos = root / "style", root / "photos"
    for folder, count in ((style, 3), (photos, 4)):
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return base, style, photos


def finetune_command(base: Path, style: Path, photos: Path, output: Path, steps: int, checkpointing: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "stylegan_hub.cli", "finetune",
        "--style-images", str(style), "--content-images", str(photos), "--base", str(base), "--output-dir", str(output),
        "--steps", str(steps), "--checkpointing-steps", str(checkpointing), "--resolution", "32", "--batch-size", "2",
        "--log-every", "1", "--sample-every", str(steps), *extra,
    ]  # fmt: skip


def logged_steps(output: Path) -> list[int]:
    path = output / "logs" / "losses.jsonl"
    steps = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            steps.append(json.loads(line)["step"])
        except (ValueError, KeyError):
            steps.append(-1)  # a broken line counts as a failure
    return steps


def model_loads(output: Path) -> bool:
    probe = "import sys; from stylegan_hub import StyleGenerator; StyleGenerator.from_pretrained(sys.argv[1])"
    return subprocess.run([sys.executable, "-c", probe, str(output)], env=ENV, capture_output=True).returncode == 0


# ---- kill -9 then resume ---------------------------------------------------------------------------------------

PHASES = ("random step", "checkpoint save", "final save")


def kill_at(command: list[str], output: Path, phase: str, rng: random.Random, limit: float = 120) -> str:
    """Start `command`, SIGKILL it at the moment `phase` picks; what the kill landed in."""
    target_step = rng.randint(1, 11)
    delay = rng.uniform(0, 0.05)
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + limit
    landed = "after the end"
    while time.time() < deadline and process.poll() is None:
        if phase == "random step":
            steps = logged_steps(output)
            if steps and steps[-1] >= target_step:
                time.sleep(delay)
                landed = f"after step {steps[-1]}"
                break
        elif phase == "checkpoint save":
            if list((output / "checkpoints").glob(".partial-*")):
                landed = "during a checkpoint save"
                break
        elif list(output.glob(".saving-*")):
            landed = "during the final save"
            break
        time.sleep(0.002)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()
    return landed


def bench_kill(scratch: Path, trials: int, seed: int) -> dict:
    base, style, photos = make_tiny_setup(scratch / "setup")
    steps, checkpointing = 12, 4
    rng = random.Random(seed)
    results = []
    for trial in range(trials):
        output = scratch / f"kill-{trial}"
        phase = PHASES[trial % len(PHASES)]
        command = finetune_command(base, style, photos, output, steps, checkpointing, "--resume", "latest")
        landed = kill_at(command, output, phase, rng)
        started = time.perf_counter()
        resumed = subprocess.run(command, env=ENV, capture_output=True, text=True)
        record_path = output / "training_args.json"
        record = json.loads(record_path.read_text()) if record_path.exists() else {}
        logged = logged_steps(output)
        ok = {
            "exit 0": resumed.returncode == 0,
            "loads": model_loads(output),
            "steps": record.get("steps") == steps,
            "each step logged once": logged == list(range(1, steps + 1)),
            "no partial files": not list(output.rglob(".partial-*")) and not list(output.rglob(".saving-*")),
        }
        results.append({"landed": landed, "ok": all(ok.values()), "checks": ok, "resume_s": time.perf_counter() - started})
        failed = [name for name, good in ok.items() if not good]
        print(f"  trial {trial + 1:2d}: killed {landed:<26} resume {'ok' if not failed else 'FAILED: ' + ', '.join(failed)}", flush=True)
        if failed and resumed.returncode:
            print("    " + resumed.stderr.strip().splitlines()[-1], flush=True)
    passed = sum(r["ok"] for r in results)
    landed_in = {}
    for r in results:
        key = r["landed"] if not r["landed"].startswith("after step") else "after a logged step"
        landed_in[key] = landed_in.get(key, 0) + 1
    print(f"kill -9 then --resume latest: {passed} of {trials} trials end with a loadable model, steps == {steps}, each step logged once")
    print("  killed: " + ", ".join(f"{count} {where}" for where, count in sorted(landed_in.items())))
    return {"trials": trials, "passed": passed, "landed": landed_in}


# ---- fuzzed inputs ---------------------------------------------------------------------------------------------


def seed_images() -> dict[str, bytes]:
    """Valid files of many kinds, small, to mutate."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    seeds = {}

    def put(name: str, image, fmt: str, **options):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        seeds[name] = buffer.getvalue()

    put("rgb.png", rgb, "PNG")
    put("rgba.png", rgb.convert("RGBA"), "PNG")
    put("palette.png", rgb.convert("P"), "PNG")
    put("palette-transparent.png", rgb.convert("P"), "PNG", transparency=0)
    put("gray16.png", Image.fromarray((rng.integers(0, 65535, (24, 32))).astype(np.uint16)), "PNG")
    put("la.png", rgb.convert("LA"), "PNG")
    put("1bit.png", rgb.convert("1"), "PNG")
    put("photo.jpg", rgb, "JPEG")
    put("cmyk.jpg", rgb.convert("CMYK"), "JPEG")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated
    put("exif.jpg", rgb, "JPEG", exif=exif.tobytes())
    put("gif.gif", rgb.convert("P"), "GIF")
    put("webp.webp", rgb, "WEBP")
    put("bmp.bmp", rgb, "BMP")
    put("tiff.tif", rgb, "TIFF")
    put("float.tif", Image.fromarray(rng.random((24, 32)).astype(np.float32)), "TIFF")
    return seeds


def png_with_size(data: bytes, width: int, height: int) -> bytes:
    """A PNG whose IHDR declares another size (with a valid CRC), the pixels unchanged."""
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    return data[:16] + bytes(ihdr) + crc + data[33:]


def odd_exif(data: bytes, rng: random.Random) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    exif = Image.Exif()
    exif[0x0112] = rng.choice([0, 9, 255, 65535, -1 & 0xFFFF])  # orientations that do not exist
    exif[0x010F] = "x" * rng.choice([0, 1, 60000])  # a maker string near the 64 KB segment limit
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def mutate(name: str, data: bytes, rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choice(["bit flips", "truncation", "wrong magic", "huge size", "odd exif", "byte runs", "empty", "intact"])
    if kind == "bit flips":
        raw = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            position = rng.randrange(len(raw))
            raw[position] ^= 1 << rng.randrange(8)
        return kind, bytes(raw)
    if kind == "truncation":
        return kind, data[: rng.randrange(len(data))]
    if kind == "wrong magic":
        magics = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF", b"BM", b"II*\x00", b"%PDF-1.4", b"PK\x03\x04"]
        magic = rng.choice(magics)
        return kind, magic + data[len(magic) :]
    if kind == "huge size":
        if name.endswith(".png"):
            return kind, png_with_size(data, rng.choice([1, 65535, 100000, 2**31 - 1]), rng.choice([1, 65535, 100000, 2**31 - 1]))
        if name.endswith(".bmp"):
            return kind, data[:18] + struct.pack("<ii", rng.choice([100000, 2**31 - 1]), rng.choice([100000, -(2**31 - 1)])) + data[26:]
        return kind, data[:2] + b"\xff\xc0\x00\x11\x08\xff\xff\xff\xff" + data[2:]
    if kind == "odd exif":
        return kind, odd_exif(data, rng)
    if kind == "byte runs":
        raw = bytearray(data)
        start = rng.randrange(len(raw))
        raw[start : start + rng.randint(1, 64)] = bytes([rng.choice([0, 255])]) * rng.randint(1, 64)
        return kind, bytes(raw)
    if kind == "empty":
        return kind, b""
    return kind, data


WORKER = r"""
import json, os, resource, sys, traceback
from pathlib import Path
from stylegan_hub import StyleGenerator
from stylegan_hub.errors import StyleGanHubError
sys.path.insert(0, os.environ["REPO"])
import app
import gradio as gr
generator = StyleGenerator.from_pretrained("builtin:oil")

class Visitor:
    session_hash = "fuzz"

def one_line(message):
    return "\n" not in message.strip() and "Traceback" not in message

for line in sys.stdin:
    path = line.strip()
    results = {}
    try:
        generator.stylize(path)
        results["library"] = "stylized"
    except StyleGanHubError as error:
        results["library"] = "one line" if one_line(str(error)) else "multi-line"
    except Exception:
        results["library"] = "traceback: " + traceback.format_exc().strip().splitlines()[-1][:200]
    try:
        app.stylize_photo(path, "builtin:oil", 1.0, False, "Preview (512 px)", {}, Visitor())
        results["app"] = "stylized"
    except gr.Error as error:
        text = str(error.message)
        leak = "/tmp" in text or os.path.dirname(path) in text
        results["app"] = ("one line" if one_line(text) else "multi-line") + (" (server path!)" if leak else "")
    except Exception:
        results["app"] = "traceback: " + traceback.format_exc().strip().splitlines()[-1][:200]
    results["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(results), flush=True)
"""


class Worker:
    def __init__(self, data_dir: Path):
        env = {**ENV, "REPO": str(REPO), "STYLEGAN_HUB_DATA_DIR": str(data_dir)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )

    def run(self, path: Path, timeout: float) -> dict | None:
        import selectors

        self.process.stdin.write(str(path) + "\n")
        self.process.stdin.flush()
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return None
        line = self.process.stdout.readline()
        return json.loads(line) if line else {"library": "worker died", "app": "worker died", "rss_mb": 0}

    def close(self):
        self.process.kill()
        self.process.wait()


def bench_fuzz(scratch: Path, count: int, seed: int, timeout: float = 10.0) -> dict:
    rng = random.Random(seed)
    seeds = seed_images()
    names = sorted(seeds)
    folder = scratch / "fuzz"
    folder.mkdir()
    files = []
    for i in range(count):
        name = rng.choice(names)
        kind, data = mutate(name, seeds[name], rng)
        path = folder / f"{i:04d}-{kind.replace(' ', '-')}-{name}"
        path.write_bytes(data)
        files.append((path, kind))
    counts = {"library": {}, "app": {}}
    tracebacks, hangs, slowest, peak = [], [], (0.0, ""), 0.0
    worker = Worker(scratch / "app-data")
    worker.run(files[0][0], timeout=120)  # warm-up: imports and model load
    for path, _kind in files:
        started = time.perf_counter()
        result = worker.run(path, timeout)
        took = time.perf_counter() - started
        if result is None:
            hangs.append(path.name)
            worker.close()
            worker = Worker(scratch / "app-data")
            worker.run(files[0][0], timeout=120)
            continue
        slowest = max(slowest, (took, path.name))
        peak = max(peak, result["rss_mb"])
        for where in ("library", "app"):
            outcome = result[where] if not result[where].startswith("traceback") else "traceback"
            counts[where][outcome] = counts[where].get(outcome, 0) + 1
            if outcome == "traceback":
                tracebacks.append(f"{where}: {path.name}: {result[where]}")
    worker.close()
    print(f"fuzzed inputs: {count} mutated files, each through the library's stylize and the app's Stylize handler")
    for where in ("library", "app"):
        print(f"  {where:<8} " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts[where].items())))
    print(f"  hangs over {timeout:.0f} s: {len(hangs)}; slowest {slowest[0]:.2f} s ({slowest[1]}); peak worker RSS {peak:.0f} MB (limit 2048)")
    for line in tracebacks[:10]:
        print("  " + line)
    for name in hangs[:10]:
        print("  hang: " + name)
    return {"counts": counts, "hangs": len(hangs), "tracebacks": len(tracebacks), "slowest_s": slowest[0], "peak_rss_mb": peak}


# ---- disk full -------------------------------------------------------------------------------------------------


class SmallDisk:
    """A tmpfs of `size_kb` (root), made and removed here; `None` when it cannot be mounted."""

    def __init__(self, root: Path, size_kb: int):
        self.path = root / "small-disk"
        self.path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(self.path)], capture_output=True)
        self.mounted = done.returncode == 0

    def fill(self, leave_kb: float) -> None:
        """Fill the disk with a file, leaving `leave_kb` free."""
        stats = os.statvfs(self.path)
        free = stats.f_bavail * stats.f_frsize
        filler = self.path / "filler"
        size = (filler.stat().st_size if filler.exists() else 0) + free - int(leave_kb * 1024)
        with open(filler, "wb") as handle:
            handle.truncate(0)
            handle.write(b"\0" * max(size, 0))

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.path)], check=False)


def message_lines(stderr: str) -> list[str]:
    """What stderr says besides the progress bar's redraws."""
    return [line for line in stderr.replace("\r", "\n").splitlines() if line.strip() and not line.startswith("fine-tune:")]


def tree_bytes(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def bench_disk(scratch: Path) -> dict:
    base, style, photos = make_tiny_setup(scratch / "setup")
    disk = SmallDisk(scratch, 16 * 1024)
    if not disk.mounted:
        print("disk full: skipped (mounting a tmpfs needs root)")
        return {}
    rows = []
    try:
        output = disk.path / "style"
        first = subprocess.run(finetune_command(base, style, photos, output, 4, 4), env=ENV, capture_output=True, text=True)
        assert first.returncode == 0, first.stderr
        model_before = {k: v for k, v in tree_bytes(output).items() if not k.startswith(("checkpoints/", "logs/", "samples/"))}
        checkpoint_before = tree_bytes(output / "checkpoints" / "checkpoint-4")
        checkpoint_kb = sum(len(v) for v in checkpoint_before.values()) / 1024
        model_kb = sum(len(v) for v in model_before.values()) / 1024
        # Continue to 8 steps with little room: the failure lands in the checkpoint, the samples or the final save.
        for leave_kb in (0, 4, checkpoint_kb / 2, checkpoint_kb + 8, checkpoint_kb + model_kb / 2, checkpoint_kb + model_kb - 8):
            disk.fill(leave_kb)
            run = subprocess.run(
                finetune_command(base, style, photos, output, 8, 4, "--resume", "latest"), env=ENV, capture_output=True, text=True
            )
            disk.fill(1024)  # room again to read and check
            lines = message_lines(run.stderr)
            after = {k: v for k, v in tree_bytes(output).items() if not k.startswith(("checkpoints/", "logs/", "samples/"))}
            rows.append(
                {
                    "free KB": round(leave_kb),
                    "exit": run.returncode,
                    "stderr lines": len(lines),
                    "traceback": any("Traceback" in line for line in lines),
                    "model": "previous" if after == model_before else ("new, loads" if model_loads(output) else "BROKEN"),
                    "checkpoint-4 intact": tree_bytes(output / "checkpoints" / "checkpoint-4") == checkpoint_before,
                    "partial left": bool(list(output.rglob(".partial-*")) or list(output.rglob(".saving-*")) or list(output.rglob(".*.tmp"))),
                    "message": lines[-1][:150] if lines else "",
                }
            )
            if run.returncode == 0:  # it fitted: back to 4 steps' state for the next case
                for path in sorted((output / "checkpoints").glob("checkpoint-8")):
                    subprocess.run(["rm", "-rf", str(path)])
                model_before = {k: v for k, v in tree_bytes(output).items() if not k.startswith(("checkpoints/", "logs/", "samples/"))}
        # stylize onto the full disk, over an existing result
        photo = photos / "0.png"
        target = disk.path / "out.png"
        subprocess.run([sys.executable, "-m", "stylegan_hub.cli", "stylize", "--model", str(base), "-o", str(target), str(photo)], env=ENV)
        before = target.read_bytes()
        disk.fill(0)
        run = subprocess.run(
            [sys.executable, "-m", "stylegan_hub.cli", "stylize", "--model", "builtin:oil", "-o", str(target), str(photo)],
            env=ENV, capture_output=True, text=True,
        )  # fmt: skip
        lines = message_lines(run.stderr)
        rows.append(
            {
                "free KB": 0,
                "exit": run.returncode,
                "stderr lines": len(lines),
                "traceback": any("Traceback" in line for line in lines),
                "model": "stylize -o: previous file " + ("intact" if target.read_bytes() == before else "CHANGED"),
                "checkpoint-4 intact": True,
                "partial left": bool(list(disk.path.glob(".out.png*"))),
                "message": lines[-1][:150] if lines else "",
            }
        )
    finally:
        disk.close()
    print("disk full (a 16 MB tmpfs filled to leave little room), fine-tune from step 4 to 8 with --resume latest:")
    for row in rows:
        print(
            f"  free {row['free KB']:>4} KB: exit {row['exit']}, {row['stderr lines']} message line(s), traceback {row['traceback']}, "
            f"model {row['model']}, checkpoint-4 intact {row['checkpoint-4 intact']}, partial left {row['partial left']}"
        )
        if row["message"]:
            print(f"      {row['message']}")
    return {"rows": rows}


# ---- app abuse: 32 visitors while a fine-tune runs -------------------------------------------------------------


class Heartbeat:
    """What a browser tab keeps open: closing it is the visitor leaving (Gradio then runs the app's unload)."""

    def __init__(self, url: str, session_hash: str):
        import socket
        from urllib.parse import urlparse

        where = urlparse(url)
        self.sock = socket.create_connection((where.hostname, where.port), timeout=30)
        path = where.path.rstrip("/") + f"/gradio_api/heartbeat/{session_hash}"
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {where.hostname}\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.sock.recv(1024)

    def close(self) -> None:
        self.sock.close()


def bench_abuse(scratch: Path, visitors: int, rounds: int, finetune_steps: int) -> dict:
    import socket
    import statistics
    import threading

    import numpy as np
    from PIL import Image

    os.environ["STYLEGAN_HUB_DATA_DIR"] = str(scratch / "app-data")
    os.environ["GRADIO_HEARTBEAT_INTERVAL"] = "1"  # a closed tab is noticed within a second
    os.environ["TQDM_DISABLE"] = "1"
    sys.path.insert(0, str(REPO))
    from gradio_client import Client, handle_file

    import app
    from stylegan_hub.artwork import apply_artwork
    from stylegan_hub.data import sample_photos

    photo = scratch / "photo.jpg"
    sample_photos("heldout")[0].save(photo)
    at_cap = scratch / "at-cap.png"  # noise does not compress: just under the 25 MB upload cap
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (2880, 2880, 3), dtype=np.uint8)).save(at_cap, compress_level=0)
    garbage = scratch / "garbage.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(5000))
    exemplars = []
    for i, picture in enumerate(sample_photos("train")[:2]):
        picture.thumbnail((160, 160))
        exemplars.append(scratch / f"style-{i}.png")
        apply_artwork("oil", picture).save(exemplars[-1])

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_app().queue(max_size=64)  # as app.main() serves it
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, show_error=True, max_file_size="25mb"
    )
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {}
    outcomes: dict[str, int] = {}
    failures: list[str] = []

    def record(kind: str, outcome: str, seconds: float, detail: str = "") -> None:
        with lock:
            latencies.setdefault(kind, []).append(seconds)
            outcomes[f"{kind}: {outcome}"] = outcomes.get(f"{kind}: {outcome}", 0) + 1
            if outcome == "FAILED":
                failures.append(f"{kind}: {detail[:200]}")

    def call(client, kind: str, refusal: str | None, *args, api_name: str) -> None:
        """`refusal`: a regex the intended refusal matches (None: must succeed)."""
        import re

        started = time.perf_counter()
        try:
            client.predict(*args, api_name=api_name)
            record(kind, "ok" if refusal is None else "FAILED", time.perf_counter() - started, "accepted a bad call")
        except Exception as error:
            text = str(error)
            intended = refusal is not None and re.search(refusal, text)
            record(kind, "refused as intended" if intended else "FAILED", time.perf_counter() - started, f"{type(error).__name__}: {text}")

    trainer = Client(url, verbose=False)
    beat = Heartbeat(url, trainer.session_hash)
    training = trainer.submit([handle_file(str(p)) for p in exemplars], "builtin:base", finetune_steps, "long", api_name="/finetune")
    deadline = time.time() + 300
    while time.time() < deadline and not any('data-state="running"' in out[0] for out in training.outputs()):
        time.sleep(0.2)

    def visitor(index: int) -> None:
        client = Client(url, verbose=False)
        heartbeat = Heartbeat(url, client.session_hash)
        for round_ in range(rounds):
            style = ["builtin:oil", "builtin:sketch", "builtin:cartoon", "builtin:grade"][(index + round_) % 4]
            call(client, "stylize", None, handle_file(str(photo)), style, 1.0, False, "Preview (512 px)", api_name="/stylize")
            task = (index + round_) % 4
            if task == 0:  # malformed calls: a bad style, a broken file, a strength out of range
                call(client, "malformed", r"not a style here", handle_file(str(photo)), "../../etc", 1.0, False, "Full size", api_name="/stylize")
                call(client, "malformed", r"garbage\.png: ", handle_file(str(garbage)), style, 1.0, False, "Full size", api_name="/stylize")
                call(client, "malformed", r"(?i)maximum|minimum|strength|range|greater|less", handle_file(str(photo)), style, 7.0, False, "Full size", api_name="/stylize")
            elif task == 1 and index % 8 == 1:  # an upload at the cap
                call(client, "upload at cap", None, handle_file(str(at_cap)), style, 1.0, False, "Preview (512 px)", api_name="/stylize")
            elif task == 2:  # start a fine-tune (queued behind the running one) and cancel it
                started = time.perf_counter()
                job = client.submit([handle_file(str(p)) for p in exemplars], "builtin:base", 20, f"v{index}", api_name="/finetune")
                time.sleep(0.5)
                job.cancel()
                client.predict(api_name="/cancel")
                record("finetune start+cancel", "ok", time.perf_counter() - started)
        heartbeat.close()  # the visitor leaves

    started = time.perf_counter()
    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(visitors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    final = training.result()
    trained = 'data-state="done"' in final[0]
    beat.close()
    visitors_dir = scratch / "app-data" / "visitors"
    deadline = time.time() + 120
    while time.time() < deadline and visitors_dir.exists() and any(visitors_dir.iterdir()):
        time.sleep(0.5)
    left = sorted(p.name for p in visitors_dir.iterdir()) if visitors_dir.exists() else []
    demo.close()

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    print(f"app abuse: {visitors} visitors x {rounds} rounds in {wall:.0f} s while a {finetune_steps}-step fine-tune ran")
    for kind, values in sorted(latencies.items()):
        print(f"  {kind:<22} n={len(values):3d}  p50 {statistics.median(values):6.2f} s  p99 {pct(values, 99):6.2f} s")
    print("  outcomes: " + ", ".join(f"{n} {name}" for name, n in sorted(outcomes.items())))
    print(f"  failures beyond the intended refusals: {len(failures)}; the long fine-tune finished: {trained}")
    print(f"  visitor folders left after everyone left: {len(left)}")
    for failure in failures[:8]:
        print("   ", failure)
    return {"failures": len(failures), "outcomes": outcomes, "left": len(left), "trained": trained}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["kill", "fuzz", "disk", "abuse"], action="append", help="run only these parts (repeatable)")
    parser.add_argument("--kill-trials", type=int, default=20)
    parser.add_argument("--fuzz-files", type=int, default=2000)
    parser.add_argument("--visitors", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of calls per visitor (default: %(default)s)")
    parser.add_argument("--finetune-steps", type=int, default=150, help="steps of the fine-tune running meanwhile")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    parts = args.only or ["kill", "fuzz", "disk", "abuse"]
    figures = {}
    with tempfile.TemporaryDirectory(prefix="stylegan-hub-reliability-") as work:
        scratch = Path(work)
        for part in parts:
            started = time.perf_counter()
            (scratch / part).mkdir()
            if part == "kill":
                figures[part] = bench_kill(scratch / part, args.kill_trials, args.seed)
            elif part == "fuzz":
                figures[part] = bench_fuzz(scratch / part, args.fuzz_files, args.seed)
            elif part == "abuse":
                figures[part] = bench_abuse(scratch / part, args.visitors, args.rounds, args.finetune_steps)
            else:
                figures[part] = bench_disk(scratch / part)
            print(f"  ({time.perf_counter() - started:.0f} s)\n", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
