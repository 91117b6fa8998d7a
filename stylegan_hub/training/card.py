"""Model cards: what a saved style is, how to use it and exactly how it was made.

The card is rendered from what the model directory holds (config and weights, the training record, measured
figures), so the same card can be written after training and re-rendered with the repo id when it is pushed.
"""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

from ..models import StyleGenerator
from ..models.hub import DISCRIMINATOR_SUBFOLDER, is_namespaced_repo_id

TRAINING_RECORD = "training_args.json"
METRICS_FILE = "metrics.json"  # figures measured for this model (a flat JSON object), shown in the card when present
SAMPLE_IMAGE = "sample.png"
CARD_NAME = "README.md"

CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

{{ description }}
{% if sample_image %}
![Before / after]({{ sample_image }})

*Left: photos. Right: stylized by this model.*
{% endif %}
## Use it
{% if zero_shot %}
Any style from a picture: the model reads a style code from it (cached per picture) and draws that style.
{% endif %}
```bash
pip install stylegan-hub
stylegan-hub stylize --model {{ model_id }}{{ revision_flag }}{% if zero_shot %} --style-image painting.jpg{% endif %} --output-dir stylized photo.jpg
```

```python
from stylegan_hub import StyleGenerator

generator = StyleGenerator.from_pretrained("{{ model_id }}"{{ revision_arg }})
generator.stylize("photo.jpg"{% if zero_shot %}, style_image="painting.jpg"{% endif %}).save("stylized.png")
```
{% if has_discriminator %}
Its discriminator is in `{{ discriminator_subfolder }}/`, so the style can be fine-tuned further:

```bash
stylegan-hub finetune --base {{ model_id }} --style-images my_style/ --output-dir my-style
```
{% endif %}
## Model

- Architecture: `StyleGenerator` {{ config }}
{% if base_model and from_scratch %}- Layout of `{{ base_model }}`, trained from fresh weights
{% elif base_model %}- Fine-tuned from: `{{ base_model }}`
{% endif %}
## Figures

| measure | value |
|---|---|
{% for name, value in figures %}| {{ name }} | {{ value }} |
{% endfor %}{% if corpus %}
## Pretraining corpus

{{ corpus.images }} images ({% for kind, count in corpus.by_category.items() %}{{ count }} {{ kind }}{{ ", " if not loop.last }}{% endfor %}), built
offline by `python train/build_corpus.py` from image collections Debian packages ship and the photos scikit-image and
scikit-learn ship; none of them is redistributed here. Held-out benchmark photos and texture styles are left out.

| source | licence | photo | artwork | texture |
|---|---|---|---|---|
{% for source, entry in corpus.by_source.items() %}| {{ source }} {{ entry.version or "" }} | {{ entry.licence }} | {{ entry.photo or 0 }} | {{ entry.artwork or 0 }} | {{ entry.texture or 0 }} |
{% endfor %}{% endif %}{% if exemplars %}
## Exemplars

| image | source | licence |
|---|---|---|
{% for item in exemplars %}| {{ item.name }} | {{ item.source }} | {{ item.licence }} |
{% endfor %}{% endif %}{% if command %}
## Training

Rebuild it with:

```bash
{{ command }}
```
Training arguments:

```json
{{ arguments }}
```
{% endif %}"""


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _hub_base_model(base: str | None) -> str | None:
    """The base model as Hub metadata: only a Hub repo id qualifies (not a built-in name or a local folder)."""
    if base and is_namespaced_repo_id(base) and not Path(base).exists():
        return base
    return None


def model_card(directory: Path, *, model_id: str | None = None, revision: str | None = None) -> ModelCard:
    """The card of the model saved in `directory`, for users loading it as `model_id` (default: the directory)."""
    directory = Path(directory)
    generator = StyleGenerator.from_directory(directory)
    record = _read_json(directory / TRAINING_RECORD)
    from_scratch = record.get("arguments", {}).get("from_scratch", False)  # only the base's layout: not a fine-tune of it
    base_model = None if from_scratch else _hub_base_model(record.get("base"))
    data = ModelCardData(
        library_name="stylegan-hub",
        pipeline_tag="image-to-image",
        license=record.get("license", "apache-2.0"),  # a style learned from others' artwork takes its licence
        tags=sorted({"style-transfer", "gan", "image-to-image", *record.get("tags", [])}),
        base_model=base_model,
        base_model_relation="finetune" if base_model else None,
        datasets=record.get("datasets") or None,
    )
    figures = [("parameters", f"{generator.num_parameters():,}"), ("GFLOP at 512x512", f"{generator.gflops(512, 512):.1f}")]
    if "train_seconds" in record:
        hardware = f" on {record.get('num_processes', 1)} x {record['device']}" if "device" in record else ""
        planned = record.get("planned_steps", record.get("steps"))
        steps = f"{record.get('steps')} steps" + (f" of {planned} planned" if planned != record.get("steps") else "")
        figures.append(("training time", f"{record['train_seconds']} s for {steps}{hardware}"))
    figures += [(name, value) for name, value in _read_json(directory / METRICS_FILE).items()]
    return ModelCard.from_template(
        data,
        template_str=CARD_TEMPLATE,
        title=record.get("title") or directory.resolve().name,
        description=record.get("description", "A stylegan-hub style model."),
        sample_image=SAMPLE_IMAGE if (directory / SAMPLE_IMAGE).is_file() else None,
        model_id=model_id or str(directory),
        revision_flag=f" --revision {revision}" if revision else "",
        revision_arg=f", revision={revision!r}" if revision else "",
        has_discriminator=(directory / DISCRIMINATOR_SUBFOLDER).is_dir(),
        zero_shot=record.get("task") == "pretrain-any",  # its fine-tuned styles keep the encoder but draw their own style
        discriminator_subfolder=DISCRIMINATOR_SUBFOLDER,
        config=json.dumps(generator._hub_mixin_config, sort_keys=True),
        base_model=record.get("base"),
        from_scratch=from_scratch,
        figures=figures,
        corpus=record.get("corpus"),
        exemplars=record.get("exemplars"),
        command=record.get("command"),
        arguments=json.dumps(record.get("arguments", {}), indent=2, sort_keys=True),
    )


def write_model_card(directory: Path, record: dict, *, model_id: str | None = None) -> ModelCard:
    """Write the training record and the card (README.md) next to the saved weights."""
    (directory / TRAINING_RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    card = model_card(directory, model_id=model_id)
    card.save(directory / CARD_NAME)
    return card
