"""--gpu-augment: the workers decode and crop; the rest of the training transform runs batched on the device.

The CPU path (fdsl_train.data.transforms.train_transform) runs timm's stages in
the workers: crop, flips, auto-augment or colour jitter, ToTensor, Normalize,
random erasing. With --gpu-augment the same stage objects are split in two:

- `worker_transform`: decode (already done), the crop, then PILToTensor: a
  uint8 tensor, one channel for a grey image. RandomCrop gives the final
  size; RandomResizedCrop's box is drawn and cut here as timm draws it, and
  its bicubic resize, the costliest stage left, is the device's: crops of
  unequal sizes travel as fdsl_train.data.loader.Crops.
- `DeviceAugment`: on the batch where the model runs, each sample drawing its
  own parameters: the resize of the crops (torch's antialiased bicubic, which
  follows Pillow's to within rounding); the flips; RandAugment / AutoAugment,
  timm's own objects with their draws (op choice, probability, magnitude
  noise) unchanged and each op's PIL function swapped for a tensor one of the
  same arithmetic (`TENSOR_OPS`), one sample at a time, as torchvision's
  tensor ops take one set of parameters per call; colour jitter
  (torchvision's, one sample at a time; timm leaves it out when auto-augment
  is on); Normalize; timm's RandomErasing, which loops over the batch on the
  device. Mixup/CutMix then run in the trainer, as on the CPU path (timm's
  Mixup works on device batches).

A grey batch stays one channel up to Normalize (or to the end, where the mean
and std are grey): the model gets three equal channels from `three_channels`.

Not every op has a tensor version (AugMix blends PIL images; Desaturate and
GaussianBlur ops are not mapped): such an auto-augment stays in the workers,
with the flips and the whole RandomResizedCrop before it (RandAugment's shears
are anchored at the image's corner, so a flip does not commute with them).
Then the device runs colour jitter, Normalize and erasing only.

Geometric ops resample bicubic as on the CPU path, through torch's grid_sample
(Keys a=-0.75 where Pillow uses a=-0.5) instead of torchvision's tensor affine,
which has no bicubic mode; colour ops are torchvision's, which follow Pillow's
arithmetic (rounding aside). tests/train/test_device_augment.py holds each op
near its PIL original and the batches' statistics near the CPU path's.

Draws come from Python's, numpy's and torch's CPU generators, seeded for one
batch and restored afterwards (`seeded_draws`): the trainer seeds them from
(seed, step, rank), so a resumed run draws what the uninterrupted run drew.
"""
import copy
import math
import random
from contextlib import contextmanager
from functools import lru_cache
from typing import Callable, Iterator, List, Optional

import numpy as np
import torch
from PIL import Image
from timm.data import auto_augment
from timm.data.random_erasing import RandomErasing
from timm.data.transforms import RandomResizedCropAndInterpolation
from torch.nn.functional import grid_sample, interpolate
from torchvision import transforms
from torchvision.transforms.v2 import functional as F

from fdsl_train.data.loader import Crops
from fdsl_train.data.transforms import GreyFirst, grey_filled, train_stages
from fdsl_train.presets import Preset

_RESAMPLE = {Image.Resampling.NEAREST: "nearest", Image.Resampling.BILINEAR: "bilinear",
             Image.Resampling.BICUBIC: "bicubic"}


def _affine(image: torch.Tensor, matrix, fillcolor=0, resample=Image.Resampling.BICUBIC, **_) -> torch.Tensor:
    """Pillow's Image.transform(size, AFFINE, matrix): the output pixel centred at (x, y) reads the input at
    (a x + b y + c, d x + e y + f); one whose source lies outside the image takes `fillcolor`."""
    a, b, c, d, e, f = matrix
    if isinstance(resample, (list, tuple)):
        resample = random.choice(resample)  # as timm's _interpolation
    channels, height, width = image.shape
    x, y = _pixel_centres(height, width, image.device)
    source_x, source_y = a * x + b * y + c, d * x + e * y + f
    grid = torch.stack((2 * source_x / width - 1, 2 * source_y / height - 1), dim=-1)[None]
    # border padding: Pillow's filters clamp the neighbours of a source point inside the image
    out = grid_sample(image[None].float(), grid, mode=_RESAMPLE[resample], padding_mode="border",
                      align_corners=False)[0]
    inside = (source_x >= 0) & (source_x < width) & (source_y >= 0) & (source_y < height)
    fill = _fill(tuple(fillcolor) if isinstance(fillcolor, (list, tuple)) else (fillcolor,) * channels, image.device)
    return torch.where(inside, out.round().clamp(0, 255), fill).to(torch.uint8)


@lru_cache(maxsize=16)
def _pixel_centres(height: int, width: int, device: torch.device):
    """(x, y) of every pixel centre, H x W each; kept, as every sample of a batch has the same size."""
    y, x = torch.meshgrid(torch.arange(height, device=device) + 0.5, torch.arange(width, device=device) + 0.5,
                          indexing="ij")
    return x, y


@lru_cache(maxsize=16)
def _fill(colour: tuple, device: torch.device) -> torch.Tensor:
    """A fill colour as a C x 1 x 1 tensor on `device`; kept, as a copy to a GPU would wait for it each time."""
    return torch.tensor(colour, dtype=torch.float32, device=device).view(-1, 1, 1)


def _rotate(image, degrees, **kwargs):
    """Pillow's Image.rotate(degrees) about the centre, same size."""
    angle = -math.radians(degrees % 360.0)
    a, b, d, e = math.cos(angle), math.sin(angle), -math.sin(angle), math.cos(angle)
    cx, cy = image.shape[-1] / 2.0, image.shape[-2] / 2.0
    return _affine(image, (a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy), **kwargs)


def _posterize(image, bits_to_keep, **_):
    # 0 bits gives black, as fdsl_train.data.transforms._posterize
    return image if bits_to_keep >= 8 else F.posterize(image, max(0, bits_to_keep))


def _solarize(image, thresh, **_):
    return image if thresh > 255 else F.solarize(image, thresh)


def _solarize_add(image, add, thresh=128, **_):
    return torch.where(image < thresh, (image.int() + add).clamp(0, 255).to(torch.uint8), image)


TENSOR_OPS = {
    auto_augment.auto_contrast: lambda image, **_: F.autocontrast(image),
    auto_augment.equalize: lambda image, **_: F.equalize(image),
    auto_augment.invert: lambda image, **_: F.invert(image),
    auto_augment.rotate: _rotate,
    auto_augment.posterize: _posterize,
    auto_augment.solarize: _solarize,
    auto_augment.solarize_add: _solarize_add,
    auto_augment.color: lambda image, factor, **_: F.adjust_saturation(image, factor),
    auto_augment.contrast: lambda image, factor, **_: F.adjust_contrast(image, factor),
    auto_augment.brightness: lambda image, factor, **_: F.adjust_brightness(image, factor),
    auto_augment.sharpness: lambda image, factor, **_: F.adjust_sharpness(image, factor),
    auto_augment.shear_x: lambda image, factor, **kw: _affine(image, (1, factor, 0, 0, 1, 0), **kw),
    auto_augment.shear_y: lambda image, factor, **kw: _affine(image, (1, 0, 0, factor, 1, 0), **kw),
    auto_augment.translate_x_rel: lambda image, pct, **kw: _affine(image, (1, 0, pct * image.shape[-1], 0, 1, 0),
                                                                   **kw),
    auto_augment.translate_y_rel: lambda image, pct, **kw: _affine(image, (1, 0, 0, 0, 1, pct * image.shape[-2]),
                                                                   **kw),
    auto_augment.translate_x_abs: lambda image, pixels, **kw: _affine(image, (1, 0, pixels, 0, 1, 0), **kw),
    auto_augment.translate_y_abs: lambda image, pixels, **kw: _affine(image, (1, 0, 0, 0, 1, pixels), **kw),
}


def _ops(stage) -> list:
    """The AugmentOps of a RandAugment (`ops`) or AutoAugment (`policy`); None for any other stage."""
    if isinstance(stage, auto_augment.RandAugment):
        return list(stage.ops)
    if isinstance(stage, auto_augment.AutoAugment):
        return [op for sub in stage.policy for op in sub]
    return None


def movable(stage) -> bool:
    """Whether an auto-augment stage can run on the device: a RandAugment or AutoAugment of mapped ops."""
    ops = _ops(stage)
    return ops is not None and all(op.aug_fn in TENSOR_OPS for op in ops)


def on_tensors(stage):
    """A copy of a movable auto-augment stage whose ops take and give uint8 C x H x W tensors."""
    stage = copy.deepcopy(stage)
    for op in _ops(stage):
        op.aug_fn = TENSOR_OPS[op.aug_fn]
    return stage


class CropOnly:
    """The crop of a RandomResizedCrop, drawn as it draws it, without the resize (DeviceAugment's)."""

    def __init__(self, stage: RandomResizedCropAndInterpolation) -> None:
        self.stage = stage

    def __call__(self, image: Image.Image) -> Image.Image:
        top, left, height, width = self.stage.get_params(image, self.stage.scale, self.stage.ratio)
        return image.crop((left, top, left + width, top + height))


def _split(preset: Preset):
    """(worker stages, the stages that move but colour jitter, colour jitter, final stages) of a preset."""
    primary, secondary, final = train_stages(preset)
    augment = [stage for stage in secondary if not isinstance(stage, transforms.ColorJitter)]
    jitter = [stage for stage in secondary if isinstance(stage, transforms.ColorJitter)]
    if not all(movable(stage) for stage in augment):
        return primary + augment, [], jitter, final
    crop = primary[0]
    if isinstance(crop, RandomResizedCropAndInterpolation):
        return [CropOnly(crop)], [crop] + primary[1:] + augment, jitter, final
    return [crop], primary[1:] + augment, jitter, final


def worker_transform(preset: Preset) -> Callable:
    """The workers' part under --gpu-augment: the crop (and what cannot move), to a uint8 tensor."""
    stages, _, _, _ = _split(preset)
    return GreyFirst(transforms.Compose(stages + [transforms.PILToTensor()]), spread=False)


def three_channels(images: torch.Tensor) -> torch.Tensor:
    """A B x 1 x H x W batch as three equal channels (a view: the model's memory layout copies it)."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


@contextmanager
def seeded_draws(seed: int) -> Iterator[None]:
    """Python's, numpy's and torch's CPU generators seeded from `seed` inside, as they were outside."""
    python, numpy = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.default_generator.manual_seed(seed)  # torch.manual_seed would reseed the GPUs' generators too
        try:
            yield
        finally:
            random.setstate(python)
            np.random.set_state(numpy)


class DeviceAugment:
    """The device's part under --gpu-augment: uint8 B x C x H x W in, normalised float out (see the module)."""

    def __init__(self, preset: Preset, device: torch.device) -> None:
        _, moved, jitter, final = _split(preset)
        resize = next((stage for stage in moved if isinstance(stage, RandomResizedCropAndInterpolation)), None)
        self.size = tuple(resize.size) if resize is not None else None
        self.resample = resize.interpolation.value if resize is not None else None  # torchvision's mode name
        self.flips = [(stage.p, -1 if isinstance(stage, transforms.RandomHorizontalFlip) else -2)
                      for stage in moved if isinstance(stage, (transforms.RandomHorizontalFlip,
                                                               transforms.RandomVerticalFlip))]
        augment = [stage for stage in moved if _ops(stage) is not None]
        self.colour: List[Callable] = [on_tensors(stage) for stage in augment] + jitter
        self.grey: List[Callable] = [on_tensors(grey_filled(stage)) for stage in augment] + jitter
        normalize = next(stage for stage in final if isinstance(stage, transforms.Normalize))
        self.mean = torch.as_tensor(normalize.mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.std = torch.as_tensor(normalize.std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.grey_normalize = bool((self.mean == self.mean[0, 0]).all() and (self.std == self.std[0, 0]).all())
        self.erase = self._erasing(final, device)

    @staticmethod
    def _erasing(final: list, device: torch.device) -> Optional[RandomErasing]:
        stage = next((s for s in final if isinstance(s, RandomErasing)), None)
        if stage is None:
            return None
        stage = copy.copy(stage)
        stage.device = device  # where its fill is made
        return stage

    def __call__(self, images) -> torch.Tensor:
        """`images`: uint8, a tensor or Crops, on the device."""
        if self.size is not None:
            images = self._resized(images)
        for p, dim in self.flips:
            chosen = (torch.rand(len(images)) < p).to(images.device).view(-1, 1, 1, 1)
            images = torch.where(chosen, images.flip(dim), images)
        stages = self.grey if images.shape[1] == 1 else self.colour
        if stages:
            images = torch.stack([self._run(stages, image) for image in images])
        images = images.float().div_(255)
        if images.shape[1] == 1 and not self.grey_normalize:
            images = images.expand(-1, 3, -1, -1)
        channels = images.shape[1]
        images = (images - self.mean[:, :channels]) / self.std[:, :channels]
        return self.erase(images) if self.erase is not None else images

    def _resized(self, images) -> torch.Tensor:
        """Each crop resized to the preset's size, as RandomResizedCrop resizes it."""
        if not isinstance(images, Crops):
            if tuple(images.shape[-2:]) == self.size:
                return images
            images = Crops(images, torch.tensor([images.shape[-2:]] * len(images)))
        smooth = self.resample != "nearest"
        out = [interpolate(images.canvas[k:k + 1, :, :height, :width].float(), size=self.size, mode=self.resample,
                           antialias=smooth, align_corners=False if smooth else None)
               for k, (height, width) in enumerate(images.sizes.tolist())]
        return torch.cat(out).round_().clamp_(0, 255).to(torch.uint8)

    @staticmethod
    def _run(stages, image: torch.Tensor) -> torch.Tensor:
        for stage in stages:
            image = stage(image)
        return image
