"""bench/load_check.py's own plumbing: it never waits forever and leaves no folders behind (the load itself is a
measurement, run by hand)."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import load_check  # noqa: E402


class FakeJob:
    """What gradio_client's Job offers the check: outputs so far and whether it ended."""

    def __init__(self, outputs, done):
        self._outputs, self._done = outputs, done

    def outputs(self):
        return self._outputs

    def done(self):
        return self._done


def test_waiting_for_the_fine_tune_ends_when_it_runs_fails_or_times_out():
    assert load_check.wait_until_training(FakeJob([('<div data-state="running">',)], done=False), timeout=5)
    assert not load_check.wait_until_training(FakeJob([('<div data-state="failed">',)], done=True), timeout=60)
    assert not load_check.wait_until_training(FakeJob([], done=False), timeout=0.5)


def test_app_data_and_test_images_go_in_one_temporary_folder_that_is_removed(monkeypatch):
    monkeypatch.delenv("STYLEGAN_HUB_DATA_DIR", raising=False)
    seen = {}

    def measure(args, work):
        seen.update(work=work, data=os.environ["STYLEGAN_HUB_DATA_DIR"])
        (work / "photo.jpg").write_bytes(b"x")
        return 0

    monkeypatch.setattr(load_check, "measure", measure)
    assert load_check.main(load_check.parse_args([])) == 0
    assert Path(seen["data"]).parent == seen["work"] and not seen["work"].exists()
