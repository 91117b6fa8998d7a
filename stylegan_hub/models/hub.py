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
import re
from pathlib import Path
from typing import Any, TypeVar

import torch
from huggingface_hub import PyTorchModelHubMixin

from ..errors import ModelLoadError

T = TypeVar("T", bound="HubModel")

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
DISCRIMINATOR_SUBFOLDER = "discriminator"
BUILTIN_PREFIX = "builtin:"
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "builtin"
# Bumped when a saved model can no longer be read by older code; older formats stay readable.
FORMAT_VERSION = 1
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def builtin_names() -> list[str]:
    """Every model shipped inside the package (the base model and the styles)."""
    return sorted(BUILTIN_PREFIX + p.name for p in BUILTIN_DIR.iterdir() if (p / CONFIG_NAME).is_file())


def builtin_styles() -> list[str]:
    """Names of the built-in styles, each accepted by `StyleGenerator.from_pretrained`."""
    return [name for name in builtin_names() if name != BUILTIN_PREFIX + "base"]


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
        return directory
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelLoadError(f"{name}: is a file; pass the model's directory (the one holding {CONFIG_NAME})")
    if not _REPO_ID.match(name) or name.startswith((".", "/", "~")):
        raise ModelLoadError(
            f"{name}: no such directory, and not a Hub repo id (org/name); built-in models are {', '.join(builtin_names())}"
        )
    return _download(name, revision, token, cache_dir, local_files_only, force_download)


def _download(repo_id, revision, token, cache_dir, local_files_only, force_download) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(
            snapshot_download(
                repo_id,
                revision=revision,
                token=token,
                cache_dir=cache_dir,
                local_files_only=local_files_only,
                force_download=force_download,
                allow_patterns=["*.json", "*.safetensors", "*.md", "*.png"],
            )
        )
    except RepositoryNotFoundError:
        raise ModelLoadError(
            f"{repo_id}: no such model on the Hub (or it is private: log in with `hf auth login` or pass a token)"
        ) from None
    except RevisionNotFoundError:
        raise ModelLoadError(f"{repo_id}: revision {revision!r} not found; check the branch, tag or commit") from None
    except LocalEntryNotFoundError:
        raise ModelLoadError(
            f"{repo_id}: not in the local cache and the Hub cannot be reached; "
            "connect once to download it (it is then cached), or unset HF_HUB_OFFLINE"
        ) from None
    except HfHubHTTPError as error:
        raise ModelLoadError(f"{repo_id}: download failed ({error.__class__.__name__}: {error})") from None


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

    def save_pretrained(self, save_directory: str | os.PathLike, *, config: dict | None = None, **kwargs):
        from .. import __version__

        config = dict(self._hub_mixin_config if config is None else config)
        config.update(_class_name=type(self).__name__, _format_version=FORMAT_VERSION, _stylegan_hub_version=__version__)
        return super().save_pretrained(save_directory, config=config, **kwargs)

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
