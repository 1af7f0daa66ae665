"""Training losses: timm's cross-entropies, and LPCE for 1p-frac datasets."""
import torch
import torch.nn.functional as F
from timm.data.mixup import one_hot
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from torch import nn


class LPCELoss(nn.Module):
    """L-way cross-entropy over the perturbation classes of a 1p-frac dataset.

    The maths is plain cross-entropy with soft targets (mixup/cutmix targets, or
    label smoothing of hard ones); the class checks that the model really has
    one output per perturbation class, L, as the dataset's manifest says.
    """

    def __init__(self, num_classes: int, smoothing: float = 0.0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.smoothing = smoothing

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.shape[-1] != self.num_classes:
            raise ValueError(f"LPCE over {self.num_classes} classes got {logits.shape[-1]} logits")
        if target.ndim == 1:
            off = self.smoothing / self.num_classes
            target = one_hot(target, self.num_classes, on_value=1.0 - self.smoothing + off, off_value=off)
        if target.shape != logits.shape:
            raise ValueError(f"LPCE targets of shape {tuple(target.shape)} for logits {tuple(logits.shape)}")
        return torch.sum(-target * F.log_softmax(logits, dim=-1), dim=-1).mean()


def create_loss(kind: str, num_classes: int, smoothing: float, mixup_active: bool) -> nn.Module:
    """The training loss; timm's Mixup already folds label smoothing into its soft targets."""
    if kind == "lpce":
        return LPCELoss(num_classes, smoothing=0.0 if mixup_active else smoothing)
    if mixup_active:
        return SoftTargetCrossEntropy()
    if smoothing > 0:
        return LabelSmoothingCrossEntropy(smoothing)
    return nn.CrossEntropyLoss()
