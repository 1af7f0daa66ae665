import math

import pytest
import torch
import torch.nn.functional as F
from timm.data import Mixup
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

from fdsl_train.run.losses import LPCELoss, create_loss


def test_lpce_on_hard_labels_is_cross_entropy():
    logits, labels = torch.randn(6, 10), torch.randint(0, 10, (6,))
    assert torch.allclose(LPCELoss(10)(logits, labels), F.cross_entropy(logits, labels))


def test_lpce_of_uniform_logits_is_log_l():
    assert LPCELoss(1000)(torch.zeros(4, 1000), torch.arange(4)).item() == pytest.approx(math.log(1000))


def test_lpce_on_mixup_targets_mixes_the_two_cross_entropies():
    torch.manual_seed(0)
    logits, labels = torch.randn(8, 5), torch.arange(8) % 5
    mixup = Mixup(mixup_alpha=0.8, cutmix_alpha=0.0, label_smoothing=0.0, num_classes=5)
    _, target = mixup(torch.zeros(8, 3, 4, 4), labels)
    lam = target[0, labels[0]].item()  # sample 0 is mixed with sample 7, of another class
    mixed = lam * F.cross_entropy(logits, labels) + (1 - lam) * F.cross_entropy(logits, labels.flip(0))
    assert 0 < lam < 1
    assert torch.allclose(LPCELoss(5)(logits, target), mixed, atol=1e-6)


def test_lpce_smoothing_matches_timm():
    logits, labels = torch.randn(6, 7), torch.randint(0, 7, (6,))
    ours = LPCELoss(7, smoothing=0.1)(logits, labels)
    assert torch.allclose(ours, LabelSmoothingCrossEntropy(0.1)(logits, labels), atol=1e-6)


def test_lpce_refuses_a_head_of_another_size():
    with pytest.raises(ValueError, match="LPCE over 1000 classes got 10 logits"):
        LPCELoss(1000)(torch.zeros(2, 10), torch.tensor([0, 1]))


def test_create_loss_picks_the_loss_for_the_preset():
    assert isinstance(create_loss("lpce", 4, 0.1, mixup_active=True), LPCELoss)
    assert create_loss("lpce", 4, 0.1, mixup_active=True).smoothing == 0.0
    assert isinstance(create_loss("ce", 4, 0.1, mixup_active=True), SoftTargetCrossEntropy)
    assert isinstance(create_loss("ce", 4, 0.1, mixup_active=False), LabelSmoothingCrossEntropy)
    assert isinstance(create_loss("ce", 4, 0.0, mixup_active=False), torch.nn.CrossEntropyLoss)
