"""Hyper-parameter presets (`--preset`), one frozen dataclass; every field has a CLI option.

Each preset is one paper's pre-training recipe as its official code runs it, field by field;
docs/recipes.md gives every value with the file and line (or the paper's table) it comes from, and
tests/train/test_presets.py checks the two against each other.

- `fractaldb-resnet`: FractalDB (ResNet-50, SGD), pretraining/main.py and args.py;
- `fdsl-vit`: ExFractalDB-1k and RCDB-1k (DeiT recipe), whose two scripts are identical;
- `visualatom-vit`: VisualAtom, the same recipe with a 5,000-step warm-up from 1e-6;
- `1p-frac`: 1p-frac (ViT-Tiny, LPCE), its own pre-training script;
- `finetune`: the DeiT fine-tuning of the ExFractalDB/RCDB scripts.
"""
from dataclasses import asdict, dataclass, fields, replace
from typing import Optional, Tuple

from fdsl_train.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # what timm 0.4.12 resolves for deit_* models, as the ViT scripts run it
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preset:
    model: str = "deit_tiny_patch16_224"
    img_size: int = 224
    batch_size: int = 256
    epochs: int = 300
    opt: str = "adamw"
    lr: Optional[float] = None  # absolute; when unset, lr_base * global batch / lr_base_size
    lr_base: float = 1e-3
    lr_base_size: int = 256
    momentum: float = 0.9
    weight_decay: float = 0.05
    sched: str = "cosine"
    warmup_epochs: float = 5
    warmup_lr: float = 1e-4  # absolute, as min_lr: neither scales with the batch
    min_lr: float = 1e-5
    decay_milestones: Tuple[int, ...] = ()
    decay_rate: float = 0.1
    crop: str = "rrc"  # rrc: timm RandomResizedCrop; random: plain RandomCrop (FractalDB)
    scale: Tuple[float, float] = (0.08, 1.0)
    hflip: float = 0.0
    vflip: float = 0.0
    color_jitter: float = 0.4
    aa: Optional[str] = "rand-m9-mstd0.5-inc1"
    reprob: float = 0.25
    mixup: float = 0.8
    cutmix: float = 1.0
    smoothing: float = 0.1
    drop_path: float = 0.1
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    loss: str = "ce"  # ce, or lpce for 1p-frac datasets

    def learning_rate(self, global_batch: int) -> float:
        """The absolute learning rate, scaled linearly with the global batch when not given."""
        return self.lr if self.lr is not None else self.lr_base * global_batch / self.lr_base_size

    def to_dict(self) -> dict:
        return asdict(self)


FDSL_VIT = Preset()

PRESETS = {
    "fdsl-vit": FDSL_VIT,
    "visualatom-vit": replace(
        # 5,000 warm-up steps, stated in steps: 1.28 epochs of VisualAtom-1k's 1M images at batch 256
        FDSL_VIT, warmup_epochs=1.28, warmup_lr=1e-6,
    ),
    "fractaldb-resnet": Preset(
        model="resnet50", batch_size=256, epochs=90, opt="sgd", lr_base=0.1, lr_base_size=256,
        momentum=0.9, weight_decay=1e-4, sched="multistep", warmup_epochs=0, min_lr=0.0,
        decay_milestones=(30, 60), crop="random", hflip=0.0, color_jitter=0.0, aa=None, reprob=0.0,
        mixup=0.0, cutmix=0.0, smoothing=0.0, drop_path=0.0,
        # the FractalDB reference normalises with mean 0.2 and std 0.5 on every channel
        mean=(0.2, 0.2, 0.2), std=(0.5, 0.5, 0.5),
    ),
    "1p-frac": replace(
        # epochs of the rendered set: 80,000 passes over 1,000 images (one per class) are 80M samples;
        # the script scales lr, warm-up lr and floor by batch / 512: the two absolute ones at batch 256 here
        FDSL_VIT, model="vit_tiny_patch16_224", epochs=80_000, lr_base_size=512, warmup_lr=5e-7, min_lr=5e-6,
        hflip=0.5, vflip=0.5, reprob=0.5, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), loss="lpce",
    ),
    "finetune": replace(FDSL_VIT, hflip=0.5, reprob=0.0, drop_path=0.0),
}


def names() -> Tuple[str, ...]:
    return tuple(PRESETS)


def resolve(name: str, overrides: dict) -> Preset:
    """The preset `name` with every override that is not None applied."""
    if name not in PRESETS:
        raise UserError(f"unknown preset '{name}' (known: {', '.join(PRESETS)})")
    known = {f.name for f in fields(Preset)}
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if k in known and v is not None})
