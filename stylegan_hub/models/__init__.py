from .discriminator import StyleDiscriminator
from .generator import StyleGenerator
from .hub import builtin_names, builtin_styles, resolve_model_dir

__all__ = ["StyleDiscriminator", "StyleGenerator", "builtin_names", "builtin_styles", "resolve_model_dir"]
