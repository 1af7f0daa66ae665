"""Image transforms: timm's factory, plus the plain RandomCrop of the FractalDB ResNet recipe."""
from typing import Callable

from timm.data import auto_augment, create_transform
from torchvision import transforms

from fdsl_train.recipes import Recipe


def _posterize(image, bits_to_keep, **kwargs):
    """timm's posterize, accepting the 0 bits its RandAugment asks for at magnitude 10.

    `rand-m9-mstd0.5-inc1` reaches magnitude 10, where PosterizeIncreasing keeps
    0 bits; Pillow 13 refuses that, older Pillow returned a black image. Keep
    the old result so that the published recipes run unchanged.
    """
    if bits_to_keep <= 0:
        return image.point([0] * 256 * len(image.getbands()))
    return auto_augment.posterize(image, bits_to_keep, **kwargs)


for _name in ("Posterize", "PosterizeIncreasing", "PosterizeOriginal"):
    auto_augment.NAME_TO_OP[_name] = _posterize


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
