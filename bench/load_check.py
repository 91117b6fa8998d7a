"""Load check for the app: N concurrent stylize clients while a fine-tune runs; prints latency percentiles.

    python bench/load_check.py --clients 8 --requests 10 --finetune-steps 150

It launches app.py in this process on a free loopback port and talks to it through gradio_client, as visitors'
browsers and API clients do. A measurement, not a test: figures vary with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent stylize clients (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=10, help="stylize calls per client (default: %(default)s)")
    parser.add_argument("--finetune-steps", type=int, default=150, help="steps of the fine-tune running meanwhile (0: none)")
    parser.add_argument("--size", default="Preview (512 px)", choices=["Preview (512 px)", "Full size"])
    parser.add_argument("--photo", default=None, help="photo to stylize (default: a held-out sample photo, 451x300)")
    return parser.parse_args(argv)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="stylegan-hub-load-") as scratch:  # the app's data and the test images
        os.environ.setdefault("STYLEGAN_HUB_DATA_DIR", str(Path(scratch) / "app-data"))
        return measure(args, Path(scratch))


def wait_until_training(training, timeout: float) -> bool:
    """Whether the fine-tune job reports itself running within `timeout` seconds (False if it ended or never started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not training.done():
        if any('data-state="running"' in output[0] for output in training.outputs()):
            return True
        time.sleep(0.2)
    return False


def measure(args: argparse.Namespace, work: Path) -> int:
    sys.path.insert(0, str(REPO))
    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_app().queue(max_size=256)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, show_error=True)
    try:
        return load(args, url, work)
    finally:
        demo.close()


def load(args: argparse.Namespace, url: str, work: Path) -> int:
    from gradio_client import Client, handle_file

    from stylegan_hub.artwork import apply_artwork
    from stylegan_hub.data import sample_photos

    photo = Path(args.photo) if args.photo else work / "photo.jpg"
    if not args.photo:
        sample_photos("heldout")[0].save(photo)
    exemplars = []
    for i, picture in enumerate(sample_photos("train")[:3]):
        picture.thumbnail((256, 256))
        exemplars.append(work / f"style-{i}.png")
        apply_artwork("oil", picture).save(exemplars[-1])

    training = None
    if args.finetune_steps:
        trainer = Client(url, verbose=False)
        training = trainer.submit(
            [handle_file(str(p)) for p in exemplars], "builtin:base", args.finetune_steps, "load", api_name="/finetune"
        )
        if not wait_until_training(training, timeout=120):
            print("the fine-tune never reported itself running; is the app's training tab working?", file=sys.stderr)
            return 1
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def visitor(index: int) -> None:
        client = Client(url, verbose=False)
        for request in range(args.requests):
            style = ["builtin:oil", "builtin:sketch", "builtin:cartoon", "builtin:grade"][(index + request) % 4]
            started = time.perf_counter()
            try:
                client.predict(handle_file(str(photo)), style, 1.0, False, args.size, api_name="/stylize")
                with lock:
                    latencies.append(time.perf_counter() - started)
            except Exception as error:  # counted and reported: the check is that nothing fails
                with lock:
                    failures.append(f"client {index}: {error}")

    started = time.perf_counter()
    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    trained = None
    if training is not None:
        final = training.result()
        trained = 'data-state="done"' in final[0]

    print(
        f"clients {args.clients} x {args.requests} stylize ({args.size}) on {os.cpu_count()} cores, fine-tune of {args.finetune_steps} steps meanwhile"
    )
    if latencies:
        print(
            f"latency s: p50 {statistics.median(latencies):.2f}  p90 {percentile(latencies, 90):.2f}  "
            f"p99 {percentile(latencies, 99):.2f}  max {max(latencies):.2f}   throughput {len(latencies) / wall:.2f}/s"
        )
    print(f"succeeded {len(latencies)}, failed {len(failures)}; fine-tune finished: {trained}")
    for failure in failures[:5]:
        print("  ", failure)
    return 1 if failures or trained is False else 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
