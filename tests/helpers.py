"""Assertions several test modules share."""

import json
from pathlib import Path

import torch
from safetensors.torch import load_file


def assert_loads_as_saved(model_class, directory):
    """`model_class.from_pretrained(directory)` gives the model saved there: its config (arguments newer than
    the file at their old value), every saved weight, eval mode.

    (`assert Model.from_pretrained(...)` cannot fail: a module is always truthy.) Returns the loaded model."""
    directory = Path(directory)
    model = model_class.from_pretrained(directory)
    assert not model.training
    config = json.loads((directory / "config.json").read_text())
    assert config["_class_name"] == model_class.__name__
    saved_config = {name: value for name, value in config.items() if not name.startswith("_")}
    older_defaults = getattr(model_class, "added_config", {})  # arguments newer than the file load with their old value
    assert model._hub_mixin_config == {**older_defaults, **saved_config}
    saved, loaded = load_file(directory / "model.safetensors"), model.state_dict()
    assert saved.keys() == loaded.keys()
    for name, tensor in saved.items():
        assert torch.equal(loaded[name], tensor), name
    return model
