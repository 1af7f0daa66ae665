"""Image transforms: timm's factory, plus the plain RandomCrop of the FractalDB ResNet preset.

Formula-driven images are grey. Every transform runs its PIL stages (crops,
flips, RandAugment) on the grey image itself, converts that one channel to a
tensor and spreads it over three equal channels for the remaining tensor
stages (Normalize, random erasing): for a grey image the PIL stages give on
one channel what they give on each of three, at about a third of the cost. The one difference is the
colour that rotations and shifts fill with: timm's mean colour on RGB input,
its grey average on grey input (the same with the presets' grey means).
Colour images take the plain path. Under --gpu-augment the workers keep grey
images at one channel to the end (fdsl_train.data.device_augment).
"""
import copy
from typing import Callable, Tuple

from PIL import Image
from timm.data import auto_augment, create_transform
from torchvision import transforms

from fdsl_train.presets import Preset

INTERPOLATION = "bicubic"  # of every resize in training and evaluation; checkpoints record it


def _posterize(image, bits_to_keep, **kwargs):
    """timm's posterize, accepting the 0 bits its RandAugment asks for at magnitude 10.

    `rand-m9-mstd0.5-inc1` reaches magnitude 10, where PosterizeIncreasing keeps
    0 bits; Pillow 13 refuses that, older Pillow returned a black image. Keep
    the old result so that the published presets run unchanged.
    """
    if bits_to_keep <= 0:
        return image.point([0] * 256 * len(image.getbands()))
    return auto_augment.posterize(image, bits_to_keep, **kwargs)


def _zero_bits_allowed(stage):
    """`stage` with its own posterize ops (none for most stages) switched to `_posterize`; timm stays as it is."""
    for op in _augment_ops(stage):
        if op.name.startswith("Posterize"):
            op.aug_fn = _posterize
    return stage


class GreyFirst:
    """A Compose of PIL stages then tensor stages, with the PIL stages run on grey images as they are.

    spread=False: a grey image stays one channel through the tensor stages (the device spreads it later).
    """

    def __init__(self, compose: transforms.Compose, spread: bool = True) -> None:
        self.spread = spread
        stages = compose.transforms
        cut = next(i for i, t in enumerate(stages) if _makes_tensor(t))
        self.colour, self.tensor = [_zero_bits_allowed(t) for t in stages[:cut]], stages[cut:]
        self.grey = [grey_filled(t) for t in self.colour]
        after = self.tensor[1:2]
        self.normalize_copies = bool(after) and isinstance(after[0], transforms.Normalize) and not after[0].inplace

    def __call__(self, image: Image.Image):
        if image.mode != "L":
            return self._run(self.colour + self.tensor, image)
        tensor = self._run(self.grey + self.tensor[:1], image)  # 1 x H x W
        if not self.spread:
            return self._run(self.tensor[1:], tensor)
        # an out-of-place Normalize copies a broadcast view into three real channels; other stages get a copy
        three = tensor.expand(3, -1, -1) if self.normalize_copies else tensor.repeat(3, 1, 1)
        return self._run(self.tensor[1:], three)

    @staticmethod
    def _run(stages, image):
        for stage in stages:
            image = stage(image)
        return image


def _makes_tensor(stage) -> bool:
    return type(stage).__name__ in ("ToTensor", "MaybeToTensor", "PILToTensor", "MaybePILToTensor")


def _augment_ops(stage) -> list:
    """The ops of a timm RandAugment/AugMix (`ops`) or AutoAugment (`policy`); none for other stages."""
    return list(getattr(stage, "ops", [])) + [op for sub in getattr(stage, "policy", []) for op in sub]


def grey_filled(stage):
    """`stage`, or a copy of it whose augmentation ops fill with one grey level instead of an RGB colour."""
    if not any(isinstance(op.kwargs.get("fillcolor"), tuple) for op in _augment_ops(stage)):
        return stage
    stage = copy.deepcopy(stage)
    for op in _augment_ops(stage):
        fill = op.kwargs.get("fillcolor")
        if isinstance(fill, tuple):
            op.kwargs["fillcolor"] = round(sum(fill) / len(fill))
    return stage


def train_transform(preset: Preset) -> Callable:
    return GreyFirst(transforms.Compose([stage for part in train_stages(preset) for stage in part]))


def train_stages(preset: Preset) -> Tuple[list, list, list]:
    """The stages of the training transform in three parts, as timm separates them: crop and flips;
    auto-augment or colour jitter; ToTensor, Normalize and random erasing."""
    if preset.crop == "random":
        # timm's factory has no plain random crop of the stored image, which FractalDB trains with
        crop = transforms.RandomCrop(preset.img_size, pad_if_needed=True)
        final = [transforms.ToTensor(), transforms.Normalize(preset.mean, preset.std)]
        return [crop, transforms.RandomHorizontalFlip(preset.hflip)], [], final
    parts = create_transform(
        preset.img_size,
        is_training=True,
        scale=tuple(preset.scale),
        hflip=preset.hflip,
        vflip=preset.vflip,
        color_jitter=preset.color_jitter,
        auto_augment=preset.aa or None,
        interpolation=INTERPOLATION,
        re_prob=preset.reprob,
        mean=tuple(preset.mean),
        std=tuple(preset.std),
        separate=True,
    )
    return tuple(list(part.transforms) for part in parts)


def eval_transform(preset: Preset) -> Callable:
    """Resize and centre-crop the whole image (crop_pct 1), normalised as in training."""
    return GreyFirst(create_transform(
        preset.img_size, is_training=False, crop_pct=1.0, interpolation=INTERPOLATION,
        mean=tuple(preset.mean), std=tuple(preset.std),
    ))
