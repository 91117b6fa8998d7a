"""Publishing and fetching styles through the Hub protocol, against the loopback server in tests/hub_server.py.

The unmodified huggingface_hub client talks to it over 127.0.0.1; faults (500s, timeouts, truncated or corrupt
bodies, 401/403) are injected by the server so every error path is exercised for real.
"""

import io
import json
import logging
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from helpers import assert_loads_as_saved
from PIL import Image

from stylegan_hub import HubError, ModelLoadError, StyleDiscriminator, StyleGenerator
from stylegan_hub.cli import cached_styles, main
from stylegan_hub.training import finetune
from stylegan_hub.training.hub import push_model_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def front_matter(readme: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", readme, re.S)
    assert match, readme[:200]
    return yaml.safe_load(match.group(1))


def code_blocks(readme: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", readme, re.S)


def assert_same_generator(a: StyleGenerator, b: StyleGenerator) -> None:
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


@pytest.fixture(scope="module")
def style_images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("style-images")
    rng = np.random.default_rng(1)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def finetune_argv(style_images, base, output_dir, *extra) -> list[str]:
    """A 2-step fine-tune at 32 px, checkpointing every step."""
    return ["--style-images", str(style_images), "--base", str(base), "--output-dir", str(output_dir)] + [
        "--steps",
        "2",
        "--resolution",
        "32",
        "--batch-size",
        "1",
        "--checkpointing-steps",
        "1",
        *extra,
    ]


@pytest.fixture(scope="module")
def trained_style(tiny_base, style_images, tmp_path_factory):
    """A style directory exactly as training writes it: weights, discriminator, card, sample, record, checkpoints."""
    output = tmp_path_factory.mktemp("trained") / "my-style"
    finetune.main(finetune.parse_args(finetune_argv(style_images, tiny_base, output)))
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    return output


def test_push_then_pull_round_trip_keeps_generator_and_discriminator(hub, trained_style, tmp_path, capsys):
    assert main(["push", str(trained_style), "org/my-style"]) == 0
    out = capsys.readouterr().out
    assert f"{hub.url}/org/my-style" in out and "stylize --model org/my-style" in out

    files = hub.repo_files("org/my-style")
    assert {
        "README.md",
        "config.json",
        "model.safetensors",
        "sample.png",
        "training_args.json",
        "discriminator/config.json",
        "discriminator/model.safetensors",
        "logs/losses.jsonl",
    } <= set(files)
    assert not any(path.startswith(("checkpoints/", "samples/")) for path in files)  # optimizer states stay local

    local_generator = StyleGenerator.from_pretrained(trained_style)
    assert_same_generator(StyleGenerator.from_pretrained("org/my-style"), local_generator)
    pulled = StyleDiscriminator.from_pretrained("org/my-style")  # found in the repo's discriminator/ folder
    local_discriminator = StyleDiscriminator.from_pretrained(trained_style / "discriminator")
    for name, tensor in local_discriminator.state_dict().items():
        assert torch.equal(pulled.state_dict()[name], tensor), name

    assert main(["pull", "org/my-style", "--output-dir", str(tmp_path / "copy")]) == 0
    assert "discriminator: yes" in capsys.readouterr().out
    assert_same_generator(StyleGenerator.from_pretrained(tmp_path / "copy"), local_generator)
    assert (tmp_path / "copy" / "discriminator" / "model.safetensors").is_file()


def test_model_card_metadata_validates_and_its_snippets_run(hub, trained_style, tmp_path, monkeypatch):
    push_model_dir(trained_style, "org/card-style")
    readme = hub.repo_files("org/card-style")["README.md"].decode()
    assert hub.validation_errors(readme) == []
    metadata = front_matter(readme)
    assert metadata["library_name"] == "stylegan-hub"
    assert metadata["pipeline_tag"] == "image-to-image"
    assert metadata["license"] == "apache-2.0"
    assert {"style-transfer", "gan", "stylegan-hub-style"} <= set(metadata["tags"])
    assert "base_model" not in metadata  # fine-tuned from a local folder, which is no Hub model
    assert "![Before / after](sample.png)" in readme
    assert Image.open(io.BytesIO(hub.repo_files("org/card-style")["sample.png"])).size[0] > 0
    assert "| parameters |" in readme and "training time" in readme and '"steps": 2' in readme

    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.full((24, 40, 3), 120, np.uint8)).save("photo.jpg")
    (python_snippet,) = code_blocks(readme, "python")
    exec(compile(python_snippet, "model-card-snippet", "exec"), {})
    assert Image.open("stylized.png").size == (40, 24)
    stylize_line = next(line for line in code_blocks(readme, "bash")[0].splitlines() if line.startswith("stylegan-hub stylize"))
    assert main(shlex.split(stylize_line)[1:]) == 0
    assert Image.open(tmp_path / "stylized" / "photo.png").size == (40, 24)


def test_push_to_a_branch_leaves_main_unchanged(hub, trained_style, tmp_path, capsys):
    push_model_dir(trained_style, "org/versions")
    main_files = hub.repo_files("org/versions")
    torch.manual_seed(5)
    changed = StyleGenerator.from_pretrained(trained_style)
    for parameter in changed.parameters():
        parameter.data += 0.05 * torch.randn_like(parameter)
    v2 = tmp_path / "v2"
    changed.save_pretrained(v2)

    assert main(["push", str(v2), "org/versions", "--revision", "v2"]) == 0
    assert "/org/versions/tree/v2" in capsys.readouterr().out
    assert hub.repo_files("org/versions") == main_files
    assert_same_generator(StyleGenerator.from_pretrained("org/versions", revision="v2"), changed)
    assert_same_generator(StyleGenerator.from_pretrained("org/versions"), StyleGenerator.from_pretrained(trained_style))
    assert 'revision="v2"' in hub.repo_files("org/versions", "v2")["README.md"].decode().replace("'", '"')

    assert main(["pull", "org/versions", "--revision", "v2", "--output-dir", str(tmp_path / "pulled")]) == 0
    assert_same_generator(StyleGenerator.from_pretrained(tmp_path / "pulled"), changed)


def test_create_pr_opens_a_pull_request_and_leaves_main_alone(hub, trained_style, tmp_path):
    push_model_dir(trained_style, "org/pr-style")
    before = hub.repo_files("org/pr-style")
    other = tmp_path / "other"
    StyleGenerator(base_channels=4, num_res_blocks=1).save_pretrained(other)
    result = push_model_dir(other, "org/pr-style", create_pr=True)
    assert result.pull_request_url and result.url == result.pull_request_url
    assert hub.repo_files("org/pr-style") == before
    assert any(ref.startswith("refs/pr/") for ref in hub.refs("org/pr-style"))
    with pytest.raises(ValueError, match="pull request against main"):
        push_model_dir(other, "org/pr-style", create_pr=True, revision="dev")


def test_finetune_from_a_hub_base_continues_from_its_discriminator_and_pushes(hub, tiny_base, style_images, tmp_path, capsys):
    push_model_dir(tiny_base, "org/base")  # a bare save_pretrained folder: no card or record yet
    output = tmp_path / "from-hub"
    assert main(["finetune", *finetune_argv(style_images, "org/base", output, "--freeze-blocks", "2", "--push-to-hub", "org/child")]) == 0
    assert f"pushed to {hub.url}/org/child" in capsys.readouterr().out

    pushed_base = StyleDiscriminator.from_pretrained("org/base")
    tuned = StyleDiscriminator.from_pretrained(output)
    frozen = [name for name in pushed_base.state_dict() if name.startswith(("blocks.0.", "blocks.1."))]
    assert frozen, list(pushed_base.state_dict())
    for name in frozen:  # the frozen lower blocks are the pushed base's, bit for bit
        assert torch.equal(tuned.state_dict()[name], pushed_base.state_dict()[name]), name
    assert any(not torch.equal(tuned.state_dict()[n], t) for n, t in pushed_base.state_dict().items())

    readme = hub.repo_files("org/child")["README.md"].decode()
    metadata = front_matter(readme)
    assert metadata["base_model"] == "org/base" and metadata["base_model_relation"] == "finetune"
    assert hub.validation_errors(readme) == []
    assert_same_generator(StyleGenerator.from_pretrained("org/child"), StyleGenerator.from_pretrained(output))


def test_pretrain_pushes_at_checkpoints_and_at_the_end(hub, tmp_path):
    import pretrain

    args = pretrain.parse_args(
        ["--output-dir", str(tmp_path / "base"), "--steps", "2", "--resolution", "32", "--batch-size", "2"]
        + ["--base-channels", "4", "--num-res-blocks", "1", "--d-channels", "8", "8", "8"]
        + ["--checkpointing-steps", "1", "--push-to-hub", "org/pretrained", "--push-checkpoints", "--hub-private"]
    )
    pretrain.main(args)
    messages = [commit["message"] for commit in hub.commits("org/pretrained")]
    assert any("step 1" in m for m in messages) and "Trained for 2 steps" in messages[0]
    assert hub.is_private("org/pretrained")
    assert_same_generator(StyleGenerator.from_pretrained("org/pretrained"), StyleGenerator.from_pretrained(tmp_path / "base"))
    assert "stylegan-hub-base" in front_matter(hub.repo_files("org/pretrained")["README.md"].decode())["tags"]


def test_pulled_models_work_offline_and_uncached_ones_say_what_to_do(hub, trained_style, monkeypatch, capsys):
    from huggingface_hub import constants

    push_model_dir(trained_style, "org/offline")
    assert main(["pull", "org/offline"]) == 0
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    served = len(hub.requests)
    assert_same_generator(StyleGenerator.from_pretrained("org/offline"), StyleGenerator.from_pretrained(trained_style))
    assert "org/offline" in cached_styles()
    assert len(hub.requests) == served  # nothing went to the network
    capsys.readouterr()
    assert main(["info", "org/never-pulled"]) == 1
    err = capsys.readouterr().err
    assert "not in the local cache" in err and "HF_HUB_OFFLINE" in err and "Traceback" not in err

    # The network down (not offline mode): cached models still load, others say the Hub cannot be reached.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    assert_same_generator(StyleGenerator.from_pretrained("org/offline"), StyleGenerator.from_pretrained(trained_style))
    with pytest.raises(ModelLoadError, match="cannot connect.*not in the local cache"):
        StyleGenerator.from_pretrained("org/never-pulled")


def run_cli(argv, capsys) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


def test_pull_errors_are_one_clear_line(hub, trained_style, monkeypatch, capsys):
    push_model_dir(trained_style, "org/exists")
    code, err = run_cli(["pull", "org/missing"], capsys)
    assert code == 1 and "no such model on the Hub" in err
    code, err = run_cli(["pull", "org/exists", "--revision", "nope"], capsys)
    assert code == 1 and "revision 'nope' not found" in err

    push_model_dir(trained_style, "org/secret", private=True)
    monkeypatch.delenv("HF_TOKEN")
    code, err = run_cli(["pull", "org/secret"], capsys)
    assert code == 1 and "private" in err and "hf auth login" in err
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    code, err = run_cli(["pull", "org/exists"], capsys)
    assert code == 1 and "rejected your token" in err


def test_server_failures_during_download(hub, trained_style, monkeypatch):
    from huggingface_hub import constants

    push_model_dir(trained_style, "org/flaky")
    hub.inject("500", path=r"^/api/models/org/flaky/revision/")
    with pytest.raises(ModelLoadError, match="HTTP 500.*not in the local cache"):
        StyleGenerator.from_pretrained("org/flaky")
    passing = hub.inject("timeout", path=r"/org/flaky/resolve/[^/]+/model\.safetensors", method="HEAD")
    # A passing timeout is retried, and what it loads is the pushed model.
    assert_same_generator(StyleGenerator.from_pretrained("org/flaky"), StyleGenerator.from_pretrained(trained_style))
    assert passing.hits == 1
    hub.inject("timeout", path=r"/org/flaky/resolve/[^/]+/model\.safetensors", method="GET", times=None)
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 0.5)
    with pytest.raises(ModelLoadError, match="timed out talking to the Hub"):
        StyleGenerator.from_pretrained("org/flaky", force_download=True)
    hub.clear_faults()
    assert_same_generator(StyleGenerator.from_pretrained("org/flaky"), StyleGenerator.from_pretrained(trained_style))


def test_truncated_and_corrupt_downloads_are_caught(hub, trained_style):
    push_model_dir(trained_style, "org/bytes")
    expected = StyleGenerator.from_pretrained(trained_style)
    cut = hub.inject("truncate", path=r"/org/bytes/resolve/[^/]+/model\.safetensors", method="GET")  # fetched again
    assert_same_generator(StyleGenerator.from_pretrained("org/bytes"), expected)
    assert cut.hits == 1

    flipped = hub.inject("corrupt", path=r"/org/bytes/resolve/.*discriminator/model\.safetensors", method="GET")
    discriminator = StyleDiscriminator.from_pretrained("org/bytes", force_download=True)  # checksum catches it: fetched again
    assert flipped.hits == 1
    for name, tensor in StyleDiscriminator.from_pretrained(trained_style).state_dict().items():
        assert torch.equal(discriminator.state_dict()[name], tensor)

    twice = hub.inject("corrupt", path=r"/org/bytes/resolve/[^/]+/config\.json", method="GET", times=2)
    with pytest.raises(ModelLoadError, match="did not match the Hub's checksum"):
        StyleGenerator.from_pretrained("org/bytes", force_download=True)
    assert twice.hits == 2


def test_repos_that_are_not_stylegan_hub_models(hub, trained_style, tmp_path):
    from huggingface_hub import HfApi

    unet = tmp_path / "unet"
    unet.mkdir()
    (unet / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.42.1"}))
    (unet / "README.md").write_text("---\nlicense: mit\n---\n# a diffusers model\n")
    api = HfApi()
    api.create_repo("org/unet")
    api.upload_folder(repo_id="org/unet", folder_path=unet)
    with pytest.raises(ModelLoadError, match="holds a UNet2DConditionModel, not a StyleGenerator"):
        StyleGenerator.from_pretrained("org/unet")

    future = tmp_path / "future"
    StyleGenerator.from_pretrained(trained_style).save_pretrained(future)
    config = json.loads((future / "config.json").read_text())
    (future / "config.json").write_text(json.dumps({**config, "_format_version": 99}))
    api.create_repo("org/future")
    api.upload_folder(repo_id="org/future", folder_path=future)
    with pytest.raises(ModelLoadError, match="format 99.*pip install -U stylegan-hub"):
        StyleGenerator.from_pretrained("org/future")


def test_push_errors_are_one_clear_line(hub, trained_style, tmp_path, monkeypatch, capsys):
    code, err = run_cli(["push", str(trained_style), "not a repo"], capsys)
    assert code == 2 and "not a Hub repo id" in err
    (tmp_path / "empty").mkdir()
    code, err = run_cli(["push", str(tmp_path / "empty"), "org/x"], capsys)
    assert code == 1 and "no config.json" in err
    assert hub.requests == []  # bad input is refused before anything is sent

    monkeypatch.setenv("HF_TOKEN", hub.READ_TOKEN)
    code, err = run_cli(["push", str(trained_style), "org/readonly"], capsys)
    assert code == 1 and "403" in err and "write access" in err
    code, err = run_cli(["push", str(trained_style), "someone-else/style"], capsys)
    assert code == 1 and "403" in err
    monkeypatch.delenv("HF_TOKEN")
    code, err = run_cli(["push", str(trained_style), "org/x"], capsys)
    assert code == 1 and "no Hugging Face token" in err

    monkeypatch.setenv("HF_TOKEN", hub.WRITE_TOKEN)
    hub.inject("500", path=r"/commit/", times=10)
    code, err = run_cli(["push", str(trained_style), "org/x"], capsys)
    assert code == 1 and "HTTP 500" in err and "try again" in err
    hub.clear_faults()
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", "http://127.0.0.1:9")
    code, err = run_cli(["push", str(trained_style), "org/x"], capsys)
    assert code == 1 and "cannot reach the Hub" in err
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    code, err = run_cli(["push", str(trained_style), "org/x"], capsys)
    assert code == 1 and "HF_HUB_OFFLINE=1 forbids" in err and "local cache" not in err and "pull" not in err


def test_only_a_card_rejection_is_reported_as_one(hub, trained_style, monkeypatch, capsys):
    """A 400 from the commit is an HTTP error like any other, not "the Hub rejected the model card"."""
    from huggingface_hub import HfApi

    real_commit = HfApi.create_commit

    def reject(message):
        def commit(self, *args, **kwargs):
            raise ValueError(message)

        return commit

    monkeypatch.setattr(HfApi, "create_commit", reject("Invalid metadata in README.md.\n- license: not a license"))
    code, err = run_cli(["push", str(trained_style), "org/card"], capsys)
    assert code == 1 and "rejected the model card" in err and "license" in err
    monkeypatch.setattr(HfApi, "create_commit", real_commit)
    hub.inject("400", path=r"/commit/", times=1)
    code, err = run_cli(["push", str(trained_style), "org/card"], capsys)
    assert code == 1 and "rejected the model card" not in err and "the Hub refused the request" in err


def test_a_failed_push_after_training_keeps_the_model(hub, tiny_base, style_images, tmp_path):
    hub.inject("500", path=r"/commit/", times=10)
    output = tmp_path / "kept"
    with pytest.raises(HubError, match=f"saved in {re.escape(str(output))}.*stylegan-hub push"):
        finetune.main(finetune.parse_args(finetune_argv(style_images, tiny_base, output, "--push-to-hub", "org/later")))
    assert_loads_as_saved(StyleGenerator, output)
    hub.clear_faults()
    assert main(["push", str(output), "org/later"]) == 0


def test_the_token_is_never_printed_logged_or_stored(hub, tiny_base, style_images, tmp_path, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    output = tmp_path / "secret-style"
    assert (
        main(["finetune", *finetune_argv(style_images, tiny_base, output, "--push-to-hub", "org/token-check", "--push-checkpoints")]) == 0
    )
    assert main(["pull", "org/token-check", "--output-dir", str(tmp_path / "pulled")]) == 0
    monkeypatch.setenv("HF_TOKEN", hub.READ_TOKEN)
    main(["push", str(output), "org/token-check"])  # fails: read-only token
    texts = [capsys.readouterr(), caplog.text]
    assert any(r["headers"].get("authorization") == f"Bearer {hub.WRITE_TOKEN}" for r in hub.requests)  # it was used
    for token in (hub.WRITE_TOKEN, hub.READ_TOKEN):
        assert token not in str(texts)
        for path in [*output.rglob("*"), *(tmp_path / "pulled").rglob("*")]:
            if path.is_file():
                assert token.encode() not in path.read_bytes(), path
        for content in hub.repo_files("org/token-check").values():
            assert token.encode() not in content


def test_two_processes_push_once_from_the_main_process(hub, tiny_base, style_images, tmp_path):
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "0"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    command += ["--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port())]
    command += [os.path.join(REPO, "train", "finetune.py"), *finetune_argv(style_images, tiny_base, tmp_path / "out")]
    command += ["--push-to-hub", "org/ddp-style"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    commits = [r for r in hub.requests if r["method"] == "POST" and "/commit/" in r["path"]]
    assert len(commits) == 1
    assert_same_generator(StyleGenerator.from_pretrained("org/ddp-style"), StyleGenerator.from_pretrained(tmp_path / "out"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
