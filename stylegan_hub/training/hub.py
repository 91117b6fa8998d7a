"""Publish a trained style to the Hugging Face Hub: everything needed to use it and to keep fine-tuning it.

A style repo holds the generator (config + safetensors), the discriminator in `discriminator/`, the model card,
the sample image, the training record, measured figures and the loss log. Checkpoints stay local: they hold
optimizer states, are large and only matter to the run that wrote them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import HubError, ModelLoadError
from ..models import StyleDiscriminator, StyleGenerator
from ..models.hub import CONFIG_NAME, DISCRIMINATOR_SUBFOLDER, WEIGHTS_NAME, hub_errors, is_namespaced_repo_id
from .card import CARD_NAME, METRICS_FILE, SAMPLE_IMAGE, TRAINING_RECORD, model_card

PUSHED_FILES = (
    CONFIG_NAME,
    WEIGHTS_NAME,
    SAMPLE_IMAGE,
    TRAINING_RECORD,
    METRICS_FILE,
    f"{DISCRIMINATOR_SUBFOLDER}/{CONFIG_NAME}",
    f"{DISCRIMINATOR_SUBFOLDER}/{WEIGHTS_NAME}",
    f"{DISCRIMINATOR_SUBFOLDER}/{CARD_NAME}",
    "logs/losses.jsonl",
)


@dataclass
class PushResult:
    repo_id: str
    revision: str
    repo_url: str
    commit_url: str
    pull_request_url: str | None

    @property
    def url(self) -> str:
        """Where to look: the pull request when one was opened, else the repo (on its branch when not main)."""
        if self.pull_request_url:
            return self.pull_request_url
        return self.repo_url if self.revision == "main" else f"{self.repo_url}/tree/{self.revision}"


def check_repo_id(repo_id: str) -> str:
    if not is_namespaced_repo_id(repo_id):
        raise ValueError(f"{repo_id!r}: not a Hub repo id; use the form 'your-name/style-name' or 'your-org/style-name'")
    return repo_id


def check_model_dir(directory: Path) -> StyleGenerator:
    """Load the generator, and the discriminator when there is one: what does not load is not published (or kept)."""
    generator = StyleGenerator.from_directory(directory)
    if (directory / DISCRIMINATOR_SUBFOLDER).is_dir():
        StyleDiscriminator.from_directory(directory / DISCRIMINATOR_SUBFOLDER)
    return generator


def create_repo(repo_id: str, *, private: bool | None = None, token: str | None = None) -> str:
    """Create `repo_id` unless it exists (checking the token can write there) and return its URL.

    Training calls this before its first step, so a bad repo id or token fails in seconds, not after the run.
    """
    from huggingface_hub import HfApi, get_token

    check_repo_id(repo_id)
    if token is None and get_token() is None:
        raise HubError("no Hugging Face token: run `hf auth login` or set HF_TOKEN to a token with write access")
    with hub_errors(repo_id, None, action="creating the repo"):
        return str(HfApi(token=token).create_repo(repo_id, private=private, exist_ok=True)).rstrip("/")


def push_model_dir(
    model_dir: str | os.PathLike,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
) -> PushResult:
    """Upload a saved style (as written by training or `save_pretrained`) to `repo_id` in one commit.

    The repo is created when missing (`private` applies only then) and `revision` is a branch, created from main
    when missing. With `create_pr` the commit opens a pull request instead of changing main. The card is rendered
    again with the repo id, so its usage snippet works as written. The token is passed on, never printed or stored.
    """
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    directory = Path(model_dir)
    if create_pr and revision not in (None, "main"):
        raise ValueError(f"--create-pr opens a pull request against main; drop --revision {revision} or --create-pr")
    if not directory.is_dir():
        raise ModelLoadError(f"{directory}: no such model directory")
    check_model_dir(directory)
    repo_url = create_repo(repo_id, private=private, token=token)

    branch = revision or "main"
    card = model_card(directory, model_id=repo_id, revision=None if branch == "main" else branch)
    operations = [CommitOperationAdd(CARD_NAME, str(card).encode())]
    operations += [CommitOperationAdd(name, str(directory / name)) for name in PUSHED_FILES if (directory / name).is_file()]
    api = HfApi(token=token)
    with hub_errors(repo_id, revision, action="pushing it"):
        if branch != "main":
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        try:
            commit = api.create_commit(
                repo_id,
                operations,
                commit_message=commit_message or f"Upload {directory.resolve().name} with stylegan-hub",
                revision=branch,
                create_pr=create_pr,
            )
        except ValueError as error:
            if isinstance(error, HfHubHTTPError) or "Invalid metadata in README.md" not in str(error):
                raise  # other failures (HTTP 4xx/5xx included) are translated by hub_errors
            raise HubError(f"{repo_id}: the Hub rejected the model card: {error}") from None
    return PushResult(
        repo_id=repo_id,
        revision=branch,
        repo_url=repo_url,
        commit_url=commit.commit_url,
        pull_request_url=commit.pr_url,
    )
