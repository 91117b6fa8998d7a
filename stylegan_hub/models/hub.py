"""Saving and strict loading shared by every stylegan-hub model.

`PyTorchModelHubMixin` gives us `save_pretrained`/`push_to_hub` and the Hub metadata, but its loader is lenient:
it loads with `strict=False`, falls back to pickled weights and ignores config keys it does not know. A style model
that loads half its weights still produces pictures, just wrong ones, so loading here is strict and every failure is
a `ModelLoadError` that names the file and the fix.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch
from huggingface_hub import PyTorchModelHubMixin

from ..errors import HubError, ModelLoadError, StyleGanHubError
from ..files import staged_dir
from ..names import (  # noqa: F401  (re-exported: the names' old home)
    _REPO_ID,
    BUILTIN_DIR,
    BUILTIN_PREFIX,
    CONFIG_NAME,
    builtin_names,
    builtin_styles,
    is_namespaced_repo_id,
)

T = TypeVar("T", bound="HubModel")

WEIGHTS_NAME = "model.safetensors"
DISCRIMINATOR_SUBFOLDER = "discriminator"
# Bumped when a saved model can no longer be read by older code; older formats stay readable.
FORMAT_VERSION = 1


def resolve_model_dir(
    name_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    force_download: bool = False,
) -> Path:
    """Turn a built-in name, a local directory or a Hub repo id into a local directory holding the model."""
    name = str(name_or_path)
    if name.startswith(BUILTIN_PREFIX):
        directory = BUILTIN_DIR / name[len(BUILTIN_PREFIX) :]
        if name not in builtin_names():
            raise ModelLoadError(f"{name}: no such built-in model; choose one of {', '.join(builtin_names())}")
    else:
        directory = Path(name).expanduser()
    if directory.is_dir():
        if revision is not None:  # a local model has exactly one version: silently loading it would mislead
            raise ModelLoadError(
                f"{name}: revision {revision!r} only applies to Hub models; this is a local or built-in model (drop --revision)"
            )
        return directory
    if directory.exists():
        raise ModelLoadError(f"{name}: is a file; pass the model's directory (the one holding {CONFIG_NAME})")
    if not _REPO_ID.match(name) or name.startswith((".", "/", "~")):
        raise ModelLoadError(
            f"{name}: no such directory, and not a Hub repo id (org/name); built-in models are {', '.join(builtin_names())}"
        )
    return download_model(
        name, revision=revision, token=token, cache_dir=cache_dir, local_files_only=local_files_only, force_download=force_download
    )


# What a style repo holds that loading or fine-tuning needs: configs, weights, the card and its sample image.
DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "*.md", "*.png"]


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else error.__class__.__name__


@contextmanager
def hub_errors(repo_id: str, revision: str | None, *, action: str, error: type[StyleGanHubError] = HubError) -> Iterator[None]:
    """Turn what huggingface_hub and its HTTP client raise into one `error` that says what to do.

    `action` completes "while ..." in messages (e.g. "downloading it"). Messages never contain the token.
    """
    import httpx2
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f"{repo_id}@{revision}" if revision else repo_id
    endpoint = constants.ENDPOINT
    try:
        yield
    except GatedRepoError:
        raise error(f"{at}: gated; accept its conditions on its Hub page, then use a token of that account") from None
    except RepositoryNotFoundError:
        raise error(
            f"{at}: no such model on the Hub, or it is private and your token cannot see it; "
            "log in with `hf auth login` or set HF_TOKEN to a token with access"
        ) from None
    except RevisionNotFoundError:
        raise error(f"{repo_id}: revision {revision!r} not found; check the branch, tag or commit (the default is main)") from None
    except (OfflineModeIsEnabled, LocalEntryNotFoundError) as failure:
        cause = failure.__cause__ or failure.__context__
        if constants.is_offline_mode() or isinstance(failure, OfflineModeIsEnabled) or isinstance(cause, OfflineModeIsEnabled):
            if error is not ModelLoadError:  # pushing, creating a repo: nothing a cache could answer
                raise error(f"{at}: HF_HUB_OFFLINE=1 forbids {action}; unset it to reach the Hub") from None
            raise error(
                f"{at}: not in the local cache, and HF_HUB_OFFLINE=1 forbids downloading it; "
                f"unset HF_HUB_OFFLINE once (or run `stylegan-hub pull {repo_id}` while online): it then works offline"
            ) from None
        if isinstance(cause, HfHubHTTPError) and cause.response is not None:
            reason = f"the Hub answered HTTP {cause.response.status_code}"
        elif isinstance(cause, httpx2.TimeoutException):
            reason = "the request timed out"
        else:
            reason = f"cannot connect: {_short(cause or failure)}"
        raise error(
            f"{at}: could not fetch it from the Hub at {endpoint} ({reason}) and it is not in the local cache; "
            "check the network (or HF_ENDPOINT) and try again. Once downloaded, it also works offline"
        ) from None
    except HfHubHTTPError as failure:
        status = failure.response.status_code if failure.response is not None else None
        if status == 401:
            raise error(f"{at}: the Hub rejected your token (401); log in again with `hf auth login` or set a valid HF_TOKEN") from None
        if status == 403:
            raise error(
                f"{at}: your token may not do this (403 Forbidden) while {action}; use a token with write access "
                "(https://huggingface.co/settings/tokens) to a namespace you own or belong to"
            ) from None
        if status is not None and status >= 500:
            raise error(f"{at}: the Hub failed with HTTP {status} while {action}; try again in a while") from None
        raise error(f"{at}: the Hub refused the request while {action} ({_short(failure)})") from None
    except httpx2.TimeoutException:
        raise error(
            f"{at}: timed out talking to the Hub at {endpoint} while {action}; check your connection and try again "
            "(HF_HUB_ETAG_TIMEOUT and HF_HUB_DOWNLOAD_TIMEOUT raise the limits)"
        ) from None
    except httpx2.TransportError as failure:
        raise error(
            f"{at}: cannot reach the Hub at {endpoint} while {action} ({_short(failure)}); check your connection or HF_ENDPOINT"
        ) from None
    except OSError as failure:
        if "Consistency check failed" not in str(failure):
            raise
        raise error(f"{at}: the download was cut short ({_short(failure)}); run the command again, it resumes") from None


def _file_versions(root: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in root.rglob("*") if path.is_file()} if root.is_dir() else {}


def download_model(
    repo_id: str,
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    force_download: bool = False,
) -> Path:
    """Download a style repo into the Hub cache (or `local_dir`) and return its directory.

    Files fetched by this call are checked against the Hub's checksums: the HTTP client only checks sizes, and a file
    with flipped bytes would otherwise load as a silently broken model. A corrupt file is removed and fetched once more.
    Nothing new fetched (a cached model, or the Hub unreachable) means nothing to check and no extra request.
    """
    import httpx2
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import repo_folder_name

    cache = Path(cache_dir or constants.HF_HUB_CACHE)
    watched = Path(local_dir) if local_dir is not None else cache / repo_folder_name(repo_id=repo_id, repo_type="model") / "blobs"

    def fetch() -> tuple[Path, bool]:
        before = _file_versions(watched)
        directory = snapshot_download(
            repo_id,
            revision=revision,
            token=token,
            cache_dir=cache_dir,
            local_dir=local_dir,
            local_files_only=local_files_only,
            force_download=force_download,
            allow_patterns=DOWNLOAD_PATTERNS,
        )
        return Path(directory), _file_versions(watched) != before

    with hub_errors(repo_id, revision, action="downloading it", error=ModelLoadError):
        directory, fetched = fetch()
        api = HfApi(token=token)
        for attempt in range(2):
            if not fetched:
                return directory
            where = {"local_dir": directory} if local_dir is not None else {"cache_dir": cache}
            commit = revision if local_dir is not None else directory.name
            try:
                report = api.verify_repo_checksums(repo_id, revision=commit, **where)
            except (httpx2.TransportError, HfHubHTTPError):
                return directory  # the Hub went away right after serving the files; they passed its size checks
            if not report.mismatches:
                return directory
            for mismatch in report.mismatches:
                path = directory / mismatch["path"]
                blob = path.resolve()
                path.unlink(missing_ok=True)
                blob.unlink(missing_ok=True)
            if attempt == 0:
                directory, fetched = fetch()
    bad = ", ".join(m["path"] for m in report.mismatches)
    raise ModelLoadError(
        f"{repo_id}: downloaded {bad} twice and it did not match the Hub's checksum either time; the corrupt copy was "
        "removed. Check your connection or proxy and try again"
    )


def read_config(directory: Path, cls: type) -> dict[str, Any]:
    """Read `config.json` and check it describes a `cls` this version can build, with every argument given."""
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise ModelLoadError(f"{directory}: no {CONFIG_NAME}; is this a stylegan-hub model directory?")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    class_name = config.pop("_class_name", None)
    if class_name is None:
        raise ModelLoadError(f"{path}: not a stylegan-hub model (no _class_name in its config)")
    if class_name != cls.__name__:
        raise ModelLoadError(f"{path}: holds a {class_name}, not a {cls.__name__}")
    version = config.pop("_format_version", None)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelLoadError(
            f"{path}: saved in model format {version!r}, this stylegan-hub reads up to {FORMAT_VERSION}; "
            "upgrade with `pip install -U stylegan-hub`"
        )
    config.pop("_stylegan_hub_version", None)
    parameters = set(inspect.signature(cls.__init__).parameters) - {"self"}
    for name, value in getattr(cls, "added_config", {}).items():  # arguments newer than the file: their old behaviour
        config.setdefault(name, value)
    unknown = sorted(set(config) - parameters)
    missing = sorted(parameters - set(config))
    if unknown or missing:
        raise ModelLoadError(
            f"{path}: config does not match {cls.__name__} "
            f"(unknown keys: {unknown or 'none'}; missing keys: {missing or 'none'}); "
            "it was written by an incompatible version"
        )
    return config


def load_weights_strict(model: torch.nn.Module, path: Path) -> None:
    """Load safetensors weights only if every tensor is present, expected and of the right shape."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise ModelLoadError(f"{path.parent}: no {path.name} (weights are only read from safetensors)")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelLoadError(f"{path}: corrupt or truncated weights file ({error}); download or save it again") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        raise ModelLoadError(
            f"{path}: weights do not match the config (missing: {missing[:5] or 'none'}; "
            f"unexpected: {unexpected[:5] or 'none'}; wrong shape: {wrong_shape[:5] or 'none'})"
        )
    model.load_state_dict(state, strict=True)


class HubModel(torch.nn.Module, PyTorchModelHubMixin):
    """Base class: the mixin's saving plus markers in `config.json`, and strict loading."""

    # A model stored in a subfolder of a style repo (the discriminator) names it here, so that
    # `from_pretrained("org/style")` finds it beside the generator.
    hub_subfolder: str | None = None

    def save_pretrained(self, save_directory: str | os.PathLike, *, config: dict | None = None, **kwargs):
        from .. import __version__

        config = dict(self._hub_mixin_config if config is None else config)
        config.update(_class_name=type(self).__name__, _format_version=FORMAT_VERSION, _stylegan_hub_version=__version__)
        directory = Path(save_directory)
        with staged_dir(directory) as staging:  # all files or none: a full disk or a kill leaves the old model whole
            result = super().save_pretrained(staging, config=config, **kwargs)
            if (directory / "README.md").exists():  # as the mixin does: an existing card is kept
                (staging / "README.md").unlink(missing_ok=True)
        return result

    @classmethod
    def from_pretrained(
        cls: type[T],
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        revision: str | None = None,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike | None = None,
        local_files_only: bool = False,
        force_download: bool = False,
        map_location: str | torch.device = "cpu",
    ) -> T:
        """Load from a built-in name (`builtin:oil`), a local directory or a Hub repo id, strictly, in eval mode."""
        directory = resolve_model_dir(
            pretrained_model_name_or_path,
            revision=revision,
            token=token,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            force_download=force_download,
        )
        if cls.hub_subfolder and (directory / cls.hub_subfolder / CONFIG_NAME).is_file():
            directory = directory / cls.hub_subfolder
        return cls.from_directory(directory, map_location=map_location)

    @classmethod
    def from_directory(cls: type[T], directory: Path, *, map_location: str | torch.device = "cpu") -> T:
        config = read_config(directory, cls)
        try:
            model = cls(**config)
        except (TypeError, ValueError) as error:
            raise ModelLoadError(f"{directory / CONFIG_NAME}: invalid config ({error})") from None
        load_weights_strict(model, directory / WEIGHTS_NAME)
        return model.to(map_location).eval()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
