import random

import numpy as np
import pytest
import torch
from PIL import Image
from timm.data import auto_augment
from timm.data.auto_augment import NAME_TO_OP

from fdsl_train.presets import PRESETS, resolve
from fdsl_train.data.transforms import eval_transform, train_transform


def test_zero_bit_posterize_gives_a_black_image():
    image = Image.fromarray(np.full((8, 8, 3), 200, np.uint8))
    transform = train_transform(resolve("fdsl-vit", {"img_size": 32}))
    posterize = next(op.aug_fn for stage in transform.colour for op in getattr(stage, "ops", [])
                     if op.name == "PosterizeIncreasing")
    assert np.asarray(posterize(image, 0)).max() == 0
    assert np.asarray(posterize(image, 1)).max() == 128
    assert NAME_TO_OP["PosterizeIncreasing"] is auto_augment.posterize  # timm itself is left as it is


def test_published_presets_transform_grey_fractals():
    torch.manual_seed(0)
    image = Image.fromarray((np.random.default_rng(0).random((64, 64)) > 0.8).astype(np.uint8) * 127).convert("RGB")
    for name in ("fdsl-vit", "1p-frac", "fractaldb-resnet"):
        preset = resolve(name, {"img_size": 32})
        transform = train_transform(preset)
        # RandAugment at m9 with std 0.5 reaches magnitude 10 within a few hundred draws
        assert all(transform(image).shape == (3, 32, 32) for _ in range(300))
    at_ten = train_transform(resolve("fdsl-vit", {"img_size": 32, "aa": "rand-m10-inc1"}))
    assert all(at_ten(image).shape == (3, 32, 32) for _ in range(300))  # hits PosterizeIncreasing at level 10
    assert eval_transform(PRESETS["finetune"])(image).shape == (3, 224, 224)


def _fractal(seed: int, size: int = 64) -> Image.Image:
    pixels = (np.random.default_rng(seed).random((size, size)) > 0.8).astype(np.uint8) * 127
    return Image.fromarray(pixels, "L")


@pytest.mark.parametrize("name", ["fdsl-vit", "1p-frac", "fractaldb-resnet"])
def test_grey_input_gives_the_tensors_of_its_rgb_copy(name):
    # with a grey mean (1p-frac's, FractalDB's, or given) even the fill of rotations and shifts agrees
    transform = train_transform(resolve(name, {"img_size": 32, "mean": (0.5, 0.5, 0.5)}))
    for seed in range(60):
        image = _fractal(seed)
        outputs = []
        for version in (image, image.convert("RGB")):
            random.seed(seed)
            np.random.seed(seed)
            torch.manual_seed(seed)
            outputs.append(transform(version))
        assert outputs[0].shape == (3, 32, 32)
        assert torch.equal(outputs[0], outputs[1])


def test_grey_fill_is_the_average_of_timms_mean_colour():
    transform = train_transform(resolve("fdsl-vit", {"img_size": 32, "mean": (0.485, 0.456, 0.406)}))
    colour = [op.kwargs["fillcolor"] for stage in transform.colour for op in getattr(stage, "ops", [])]
    grey = [op.kwargs["fillcolor"] for stage in transform.grey for op in getattr(stage, "ops", [])]
    assert colour and set(colour) == {(124, 116, 104)} and set(grey) == {115}
    eval_grey = eval_transform(resolve("fdsl-vit", {"img_size": 32}))(_fractal(0))
    eval_rgb = eval_transform(resolve("fdsl-vit", {"img_size": 32}))(_fractal(0).convert("RGB"))
    assert torch.equal(eval_grey, eval_rgb)
