"""CLI start-up time: the median wall time of `stylegan-hub styles` and `stylegan-hub info builtin:oil`.

    python bench/cli_startup.py --runs 5

Each run is a fresh interpreter (`python -m stylegan_hub.cli ...`), as a user's shell starts it. A measurement, not
a test: figures vary with the machine's load. Targets (issue 15, 2 CPU cores): `styles` under 1.5 s, `info` under 3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {"styles": ["styles"], "info builtin:oil": ["info", "builtin:oil"], "--help": ["--help"]}
TARGETS = {"styles": 1.5, "info builtin:oil": 3.0}


def time_command(argv: list[str]) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stylegan_hub.cli", *argv], env=env, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default: %(default)s)")
    args = parser.parse_args(argv)
    time_command(["styles"])  # warm the file cache once
    print(f"{'command':<20} {'median s':>9} {'min s':>7} {'target s':>9}")
    for label, command in COMMANDS.items():
        times = [time_command(command) for _ in range(args.runs)]
        target = f"{TARGETS[label]:.1f}" if label in TARGETS else "-"
        print(f"{label:<20} {statistics.median(times):>9.2f} {min(times):>7.2f} {target:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
