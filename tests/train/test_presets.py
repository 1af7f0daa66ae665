import pytest

from fdsl_train.errors import UserError
from fdsl_train.presets import PRESETS, resolve


def test_fractaldb_resnet_matches_the_published_preset():
    r = PRESETS["fractaldb-resnet"]
    assert (r.model, r.opt, r.momentum, r.weight_decay, r.epochs) == ("resnet50", "sgd", 0.9, 1e-4, 90)
    assert (r.sched, r.decay_milestones, r.crop, r.batch_size) == ("multistep", (30, 60), "random", 256)
    assert r.learning_rate(256) == pytest.approx(0.01)


def test_vit_recipes_match_the_published_presets():
    vit = PRESETS["fdsl-vit"]
    assert (vit.model, vit.opt, vit.weight_decay, vit.warmup_epochs) == ("deit_tiny_patch16_224", "adamw", 0.05, 5)
    assert (vit.mixup, vit.cutmix, vit.smoothing, vit.drop_path, vit.reprob) == (0.8, 1.0, 0.1, 0.1, 0.25)
    assert vit.aa == "rand-m9-mstd0.5-inc1" and vit.scale == (0.08, 1.0)
    assert vit.learning_rate(256) == pytest.approx(1e-3)
    frac = PRESETS["1p-frac"]
    assert (frac.loss, frac.vflip, frac.hflip, frac.reprob) == ("lpce", 0.5, 0.5, 0.5)
    assert frac.mean == frac.std == (0.5, 0.5, 0.5)
    assert frac.learning_rate(1024) == pytest.approx(2e-3)  # 1e-3 x batch / 512


def test_overrides_replace_only_what_is_given():
    r = resolve("1p-frac", {"lr": 0.5, "epochs": None, "model": "resnet18", "data": "ignored"})
    assert (r.lr, r.epochs, r.model) == (0.5, PRESETS["1p-frac"].epochs, "resnet18")
    assert r.learning_rate(4096) == 0.5


def test_unknown_preset_is_a_user_error():
    with pytest.raises(UserError, match="unknown preset 'imagenet'"):
        resolve("imagenet", {})
