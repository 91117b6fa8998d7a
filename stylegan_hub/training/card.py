"""Model cards: what a saved style is, how to use it and exactly how it was made."""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

from ..models import StyleGenerator
from ..models.hub import _REPO_ID, BUILTIN_PREFIX

TRAINING_RECORD = "training_args.json"

CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

{{ description }}

![Before / after]({{ sample_image }})

*Left: photo. Right: stylized by this model.*

## Use it

```bash
pip install stylegan-hub
stylegan-hub stylize --model {{ model_id }} --output-dir stylized photo.jpg
```

```python
from stylegan_hub import StyleGenerator

generator = StyleGenerator.from_pretrained("{{ model_id }}")
generator.stylize("photo.jpg").save("stylized.png")
```

## Model

- Architecture: `StyleGenerator` {{ config }}
- Parameters: {{ parameters }}; {{ gflops }} GFLOP per 512x512 image
{% if base_model %}- Fine-tuned from: `{{ base_model }}`
{% endif %}

## Training

Rebuild it with:

```bash
{{ command }}
```

Training arguments:

```json
{{ arguments }}
```
"""


def write_model_card(
    output_dir: Path,
    generator: StyleGenerator,
    *,
    title: str,
    description: str,
    record: dict,
    model_id: str | None = None,
    sample_image: str = "sample.png",
    tags: list[str] | None = None,
) -> ModelCard:
    """Write README.md (the card) and the machine-readable training record next to the weights."""
    base = record.get("base")
    data = ModelCardData(
        library_name="stylegan-hub",
        pipeline_tag="image-to-image",
        license="apache-2.0",
        tags=sorted({"style-transfer", "gan", "image-to-image", *(tags or [])}),
        base_model=base if base and _REPO_ID.match(base) and not base.startswith(BUILTIN_PREFIX) else None,
    )
    card = ModelCard.from_template(
        data,
        template_str=CARD_TEMPLATE,
        title=title,
        description=description,
        sample_image=sample_image,
        model_id=model_id or str(output_dir),
        config=json.dumps(generator._hub_mixin_config, sort_keys=True),
        parameters=f"{generator.num_parameters():,}",
        gflops=f"{generator.gflops(512, 512):.1f}",
        base_model=base,
        command=record["command"],
        arguments=json.dumps(record["arguments"], indent=2, sort_keys=True),
    )
    card.save(output_dir / "README.md")
    (output_dir / TRAINING_RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return card
