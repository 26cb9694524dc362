"""Unsupervised (lower-level) losses and their ClassChoices registry."""

from espnet2.train.class_choices import ClassChoices

from espnet_bljust.unsup.abs_unsup_loss import AbsUnsupLoss
from espnet_bljust.unsup.best_rq import BestRQLoss
from espnet_bljust.unsup.contrastive import ContrastiveLoss
from espnet_bljust.unsup.masked_kmeans import MaskedKMeansLoss

unsup_loss_choices = ClassChoices(
    name="unsup_loss",
    classes=dict(
        contrastive=ContrastiveLoss, best_rq=BestRQLoss, kmeans=MaskedKMeansLoss
    ),
    type_check=AbsUnsupLoss,
    default="contrastive",
)
