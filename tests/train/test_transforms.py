import numpy as np
import torch
from PIL import Image
from timm.data.auto_augment import NAME_TO_OP

from fdsl_train.recipes import RECIPES, resolve
from fdsl_train.transforms import eval_transform, train_transform


def test_zero_bit_posterize_gives_a_black_image():
    image = Image.fromarray(np.full((8, 8, 3), 200, np.uint8))
    assert np.asarray(NAME_TO_OP["PosterizeIncreasing"](image, 0)).max() == 0
    assert np.asarray(NAME_TO_OP["PosterizeIncreasing"](image, 1)).max() == 128


def test_published_recipes_transform_grey_fractals():
    torch.manual_seed(0)
    image = Image.fromarray((np.random.default_rng(0).random((64, 64)) > 0.8).astype(np.uint8) * 127).convert("RGB")
    for name in ("fdsl-vit", "1p-frac", "fractaldb-resnet"):
        recipe = resolve(name, {"img_size": 32})
        transform = train_transform(recipe)
        # RandAugment at m9 with std 0.5 reaches magnitude 10 within a few hundred draws
        assert all(transform(image).shape == (3, 32, 32) for _ in range(300))
    at_ten = train_transform(resolve("fdsl-vit", {"img_size": 32, "aa": "rand-m10-inc1"}))
    assert all(at_ten(image).shape == (3, 32, 32) for _ in range(300))  # hits PosterizeIncreasing at level 10
    assert eval_transform(RECIPES["finetune"])(image).shape == (3, 224, 224)
