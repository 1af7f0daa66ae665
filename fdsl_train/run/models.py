"""Model construction through timm's factory, with the user errors it can meet."""
import inspect

import timm
import torch
from torch import nn

from fdsl_train.errors import UserError


def check_name(name: str) -> None:
    if not timm.is_model(name):
        raise UserError(f"unknown model '{name}': timm.list_models() names the models timm knows")


def create(name: str, *, num_classes: int, img_size: int, drop_path: float = 0.0, **kwargs) -> nn.Module:
    """timm.create_model, telling transformers the input size (they fix it at construction)."""
    check_name(name)
    if drop_path > 0:
        kwargs["drop_path_rate"] = drop_path
    if takes_img_size(name):
        kwargs["img_size"] = img_size
    return timm.create_model(name, num_classes=num_classes, **kwargs)


def takes_img_size(name: str) -> bool:
    """Whether the model's class, or a class it hands its keyword arguments on to, has an `img_size` argument.

    Convolutional networks take any input size and have none.
    """
    with torch.device("meta"):  # only the class is wanted: no weights are allocated
        model_class = type(timm.create_model(name))
    for cls in model_class.__mro__:
        arguments = inspect.signature(cls.__init__).parameters
        if "img_size" in arguments:
            return True
        if not any(a.kind is inspect.Parameter.VAR_KEYWORD for a in arguments.values()):
            return False
    return False


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DistributedDataParallel and torch.compile wrappers."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or model._orig_mod
    return model
