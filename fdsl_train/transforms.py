"""Image transforms: timm's factory, plus the plain RandomCrop of the FractalDB ResNet recipe."""
from typing import Callable

from timm.data import create_transform
from torchvision import transforms

from fdsl_train.recipes import Recipe


def train_transform(recipe: Recipe) -> Callable:
    if recipe.crop == "random":
        # timm's factory has no plain random crop of the stored image, which FractalDB trains with
        return transforms.Compose([
            transforms.RandomCrop(recipe.img_size, pad_if_needed=True),
            transforms.RandomHorizontalFlip(recipe.hflip),
            transforms.ToTensor(),
            transforms.Normalize(recipe.mean, recipe.std),
        ])
    return create_transform(
        recipe.img_size,
        is_training=True,
        scale=tuple(recipe.scale),
        hflip=recipe.hflip,
        vflip=recipe.vflip,
        color_jitter=recipe.color_jitter,
        auto_augment=recipe.aa or None,
        interpolation="bicubic",
        re_prob=recipe.reprob,
        mean=tuple(recipe.mean),
        std=tuple(recipe.std),
    )


def eval_transform(recipe: Recipe) -> Callable:
    """Resize and centre-crop the whole image (crop_pct 1), normalised as in training."""
    return create_transform(
        recipe.img_size, is_training=False, crop_pct=1.0, interpolation="bicubic",
        mean=tuple(recipe.mean), std=tuple(recipe.std),
    )
