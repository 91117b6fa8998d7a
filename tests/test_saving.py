"""Saving survives what a newcomer's machine does to it: umask modes, full disks, kills before the first checkpoint."""

import errno
import json
import os
import stat

import numpy as np
import pytest
from PIL import Image

from stylegan_hub import StyleGenerator
from stylegan_hub.cli import main as cli_main
from stylegan_hub.errors import SaveError
from stylegan_hub.files import new_file_mode, umask
from stylegan_hub.images import save_image
from stylegan_hub.training import finetune
from stylegan_hub.training.checkpoint import checkpoint_dirs, save_checkpoint


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def modes(directory):
    return {p.relative_to(directory).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in directory.rglob("*") if p.is_file()}


def test_umask_is_read_without_changing_it(umask_027):
    assert umask() == 0o027 and new_file_mode() == 0o640
    assert os.umask(0o027) == 0o027  # still what the test set


def test_saved_files_get_the_umask_mode_like_any_other_file(tmp_path, umask_027):
    StyleGenerator(base_channels=4, num_res_blocks=1).save_pretrained(tmp_path / "model")
    save_image(Image.new("RGB", (8, 8)), tmp_path / "model" / "sample.png")
    assert set(modes(tmp_path / "model").values()) == {0o640}, modes(tmp_path / "model")  # model.safetensors was 0600


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_keeps_the_previous_model_whole(tmp_path, monkeypatch):
    import safetensors.torch

    directory = tmp_path / "model"
    StyleGenerator(base_channels=4, num_res_blocks=1).save_pretrained(directory)
    before = {name: (directory / name).read_bytes() for name in os.listdir(directory)}
    monkeypatch.setattr(safetensors.torch, "save_model", no_space)
    with pytest.raises(SaveError, match=r"model: could not be saved \(No space left on device\); the files there before are unchanged"):
        StyleGenerator(base_channels=8, num_res_blocks=1).save_pretrained(directory)  # another config: would not match
    assert {name: (directory / name).read_bytes() for name in os.listdir(directory)} == before  # nothing staged is left
    StyleGenerator.from_pretrained(directory)


def test_a_full_disk_during_a_checkpoint_removes_the_partial_one(tmp_path):
    class Accelerator:
        is_main_process = True

        def save_state(self, path):
            os.makedirs(path)
            (open(os.path.join(path, "model.safetensors"), "wb")).write(b"half")
            no_space()

        def wait_for_everyone(self):
            pass

    (tmp_path / "checkpoints" / "checkpoint-2").mkdir(parents=True)
    with pytest.raises(SaveError, match="checkpoint-4: could not be saved.*the partial checkpoint was removed"):
        save_checkpoint(Accelerator(), tmp_path, 4, None)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["checkpoint-2"]


def test_cli_says_one_line_when_the_disk_is_full(tmp_path, tiny_base, monkeypatch, capsys):
    photo = tmp_path / "a.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(photo)
    monkeypatch.setattr(Image.Image, "save", no_space)
    assert cli_main(["stylize", "--model", str(tiny_base), "-o", str(tmp_path / "out.png"), str(photo)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"stylegan-hub: error: {tmp_path / 'out.png'}: could not be saved (No space left on device); no partial file was left; free some disk space and run it again"
    assert not list(tmp_path.glob(".out.png*")) and not (tmp_path / "out.png").exists()


def test_a_run_killed_before_its_first_checkpoint_does_not_log_steps_twice(tiny_base, tmp_path, monkeypatch):
    from test_training import make_exemplars, tiny_args

    exemplars = make_exemplars(tmp_path, "grade")
    output = tmp_path / "run"
    real_step, calls = finetune.finetune_step, []

    def killed(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as a kill -9 during step 3: steps 1 and 2 are logged, no checkpoint yet
        return real_step(*args, **kwargs)

    monkeypatch.setattr(finetune, "finetune_step", killed)
    with pytest.raises(KeyboardInterrupt):
        finetune.main(tiny_args(exemplars, tiny_base, output, "--steps", "4", "--checkpointing-steps", "4"))
    monkeypatch.setattr(finetune, "finetune_step", real_step)
    assert checkpoint_dirs(output) == []
    finetune.main(tiny_args(exemplars, tiny_base, output, "--steps", "4", "--checkpointing-steps", "4", "--resume", "latest"))
    steps = [json.loads(line)["step"] for line in (output / "logs" / "losses.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    assert not list(output.rglob(".saving-*")) and not list(output.rglob(".partial-*"))


def test_a_log_line_half_written_by_a_kill_is_dropped_on_resume(tmp_path):
    from stylegan_hub.training.checkpoint import LossLog

    class Accelerator:
        is_main_process = True

    log = LossLog(tmp_path, Accelerator())
    log.write(1, {"generator": 1.0})
    log.write(2, {"generator": 2.0})
    with log.path.open("a") as handle:
        handle.write('{"step": 3, "gener')  # killed mid-write
    log.truncate_after(2)
    log.write(3, {"generator": 3.0})
    assert [entry["step"] for entry in log.read()] == [1, 2, 3]


def test_a_failed_final_save_names_the_output_folder_not_its_staging(tmp_path, monkeypatch):
    import safetensors.torch

    from stylegan_hub.files import staged_dir

    monkeypatch.setattr(safetensors.torch, "save_model", no_space)
    with pytest.raises(SaveError) as refused:
        with staged_dir(tmp_path / "style") as staging:  # as TrainingRun.save_model nests the generator's save
            StyleGenerator(base_channels=4, num_res_blocks=1).save_pretrained(staging)
    assert str(refused.value).startswith(f"{tmp_path / 'style'}: could not be saved") and ".saving-" not in str(refused.value)
    assert os.listdir(tmp_path / "style") == []
