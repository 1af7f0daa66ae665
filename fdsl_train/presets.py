"""Hyper-parameter presets (`--preset`), one frozen dataclass; every field has a CLI option.

`fractaldb-resnet` and `fdsl-vit` follow the published pre-training settings of
FractalDB (ResNet-50) and of ExFractalDB/RCDB/VisualAtom (ViT); `1p-frac` those
of the 1p-frac paper; `finetune` the DeiT-style fine-tuning these papers use.
"""
from dataclasses import asdict, dataclass, fields, replace
from typing import Optional, Tuple

from fdsl_train.errors import UserError


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
    warmup_lr: float = 1e-6
    min_lr: float = 1e-5
    decay_milestones: Tuple[int, ...] = ()
    decay_rate: float = 0.1
    crop: str = "rrc"  # rrc: timm RandomResizedCrop; random: plain RandomCrop (FractalDB)
    scale: Tuple[float, float] = (0.08, 1.0)
    hflip: float = 0.5
    vflip: float = 0.0
    color_jitter: float = 0.4
    aa: Optional[str] = "rand-m9-mstd0.5-inc1"
    reprob: float = 0.25
    mixup: float = 0.8
    cutmix: float = 1.0
    smoothing: float = 0.1
    drop_path: float = 0.1
    mean: Tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: Tuple[float, float, float] = (0.5, 0.5, 0.5)
    loss: str = "ce"  # ce, or lpce for 1p-frac datasets

    def learning_rate(self, global_batch: int) -> float:
        """The absolute learning rate, scaled linearly with the global batch when not given."""
        return self.lr if self.lr is not None else self.lr_base * global_batch / self.lr_base_size

    def to_dict(self) -> dict:
        return asdict(self)


FDSL_VIT = Preset()

PRESETS = {
    "fdsl-vit": FDSL_VIT,
    "fractaldb-resnet": Preset(
        model="resnet50", batch_size=256, epochs=90, opt="sgd", lr_base=0.01, lr_base_size=256,
        momentum=0.9, weight_decay=1e-4, sched="multistep", warmup_epochs=0, min_lr=0.0,
        decay_milestones=(30, 60), crop="random", hflip=0.0, color_jitter=0.0, aa=None, reprob=0.0,
        mixup=0.0, cutmix=0.0, smoothing=0.0, drop_path=0.0,
        # the FractalDB reference normalises with mean 0.2 and std 0.5 on every channel
        mean=(0.2, 0.2, 0.2), std=(0.5, 0.5, 0.5),
    ),
    "1p-frac": replace(
        FDSL_VIT, model="vit_tiny_patch16_224", lr_base_size=512, vflip=0.5, reprob=0.5,
        loss="lpce",
    ),
    "finetune": replace(FDSL_VIT, lr_base=5e-4, lr_base_size=512, epochs=100),
}


def names() -> Tuple[str, ...]:
    return tuple(PRESETS)


def resolve(name: str, overrides: dict) -> Preset:
    """The preset `name` with every override that is not None applied."""
    if name not in PRESETS:
        raise UserError(f"unknown preset '{name}' (known: {', '.join(PRESETS)})")
    known = {f.name for f in fields(Preset)}
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if k in known and v is not None})
