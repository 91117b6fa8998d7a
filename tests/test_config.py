"""Typed training settings: the library takes dataclasses, the CLI parsers are built from them, and a run's
settings round-trip through JSON and through the recorded command."""

import json
import shlex
import subprocess
import sys

import pytest

from stylegan_hub.cli import build_parser as build_cli_parser
from stylegan_hub.training import finetune
from stylegan_hub.training.config import FinetuneConfig, PretrainConfig, build_parser, command_line


def test_recorded_command_reproduces_the_config():
    config = FinetuneConfig(style_images=["my style/"], output_dir="out", steps=7, style_weight=2.5, from_scratch=True)
    command = command_line("stylegan-hub finetune", config)
    assert command.startswith("stylegan-hub finetune --output-dir out --steps 7") and "--style-images 'my style/'" in command
    assert "--batch-size" not in command  # defaults are left out
    assert finetune.parse_args(shlex.split(command)[2:]) == config


def test_recorded_command_names_the_base_even_at_the_default():
    """The default base has changed before; a command recorded without it would start a rebuild from another model."""
    command = command_line("stylegan-hub finetune", FinetuneConfig(style_images=["s"], output_dir="out"))
    assert f"--base {FinetuneConfig.base}" in command


def test_the_default_style_weight_grows_with_the_exemplar_count():
    """One picture's crop statistics are its content as much as its style: no style term with one, all of it from six."""
    config = FinetuneConfig(style_images=["s"], output_dir="out")
    weights = [config.style_weight_for(count) for count in (1, 2, 3, 6, 20)]
    assert weights == [0.0, 1.0, 2.0, 5.0, 5.0]
    assert config.replace(style_weight=3.0).style_weight_for(1) == 3.0  # a weight set is kept


def test_config_round_trips_through_json_and_refuses_unknown_settings():
    config = PretrainConfig(output_dir="base", d_channels=[8, 16], train_data_dir=["a", "b"], steps=3)
    assert PretrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match=r"unknown training settings \['style_weigth'\]"):
        FinetuneConfig.from_dict({**FinetuneConfig(style_images=["s"], output_dir="o").to_dict(), "style_weigth": 1.0})


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(steps=0), "--steps 0: must be at least 1"),
        (dict(style_distance="l2"), "--style-distance l2: choose one of gram, swd"),
        (dict(mixed_precision="fp8"), "--mixed-precision fp8: choose one of no, fp16, bf16"),
        (dict(style_images="one-folder"), "--style-images: give one or more values"),
        (dict(style_images=[]), "--style-images: give one or more values"),
        (dict(palette_colors=1), "--palette-colors 1: one colour draws nothing"),
        (dict(palette_colors=-2), "--palette-colors -2: must be at least 0"),
        (dict(original_images=["before"], content_images=["photos"]), "--original-images and --content-images: give one"),
    ],
)
def test_bad_settings_name_the_option(changes, message):
    with pytest.raises(ValueError, match=message):
        FinetuneConfig(**{"style_images": ["s"], "output_dir": "o", **changes})


def test_parsers_are_built_from_the_fields(capsys):
    for config_class in (FinetuneConfig, PretrainConfig):
        options = {action.dest for action in build_parser(config_class)._actions if action.dest != "help"}
        assert options == set(config_class.__dataclass_fields__)
    config = finetune.parse_args(["--style-images", "a", "b", "--output-dir", "o", "--resolution", "64", "--hub-private"])
    assert (config.style_images, config.resolution, config.hub_private, config.batch_size) == (["a", "b"], 64, True, 4)
    with pytest.raises(SystemExit):
        finetune.parse_args(["--style-images", "a", "--output-dir", "o", "--steps", "0"])
    assert "--steps: must be an integer of at least 1, got 0" in capsys.readouterr().err
    # `stylegan-hub finetune` offers exactly the same options, with the same defaults.
    cli = build_cli_parser().parse_args(["finetune", "--style-images", "a", "--output-dir", "o"])
    assert {name: getattr(cli, name) for name in FinetuneConfig.__dataclass_fields__} == FinetuneConfig(style_images=["a"], output_dir="o").to_dict()


def test_building_a_parser_does_not_import_the_training_stack():
    code = "import sys, stylegan_hub.training.config as c; c.build_parser(c.FinetuneConfig); print('accelerate' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
