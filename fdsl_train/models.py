"""Model construction through timm's factory, with the user errors it can meet."""
import timm
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
    try:
        return timm.create_model(name, num_classes=num_classes, img_size=img_size, **kwargs)
    except TypeError as err:
        # convolutional networks take any input size and have no img_size argument
        if "img_size" not in str(err):
            raise
        return timm.create_model(name, num_classes=num_classes, **kwargs)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DistributedDataParallel and torch.compile wrappers."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or model._orig_mod
    return model
