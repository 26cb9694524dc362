"""AbsUnsupLoss.target_prediction, the discrete-target loss BEST-RQ and masked k-means
share: cross-entropy, accuracy and codebook usage on hand-made scores."""

import math

import torch

from espnet_bljust.unsup.best_rq import BestRQLoss
from espnet_bljust.unsup.masked_kmeans import MaskedKMeansLoss


def test_target_prediction_single_and_multi_codebook():
    loss_fn = MaskedKMeansLoss(encoder_output_size=4, feature_size=3, stride=2, num_clusters=4)
    selected = torch.tensor([[True, False, True], [True, False, False]])  # M = 3
    lens = torch.tensor([3, 2])
    logits = torch.tensor([[4.0, 0.0, 0.0, 0.0], [0.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, 4.0]])
    labels = torch.tensor([0, 1, 2])  # the third is wrong
    loss, stats = loss_fn.target_prediction(logits, labels, torch.tensor([0, 1, 1]), selected, lens)
    right = -math.log(math.exp(4) / (math.exp(4) + 3))
    wrong = -math.log(1 / (math.exp(4) + 3))
    assert math.isclose(loss.item(), (2 * right + wrong) / 3, rel_tol=1e-6)
    assert math.isclose(stats["acc_unsup"].item(), 2 / 3, rel_tol=1e-6)
    assert stats["codebook_usage"].item() == 2 / 4  # ids 0 and 1 of 4
    assert math.isclose(stats["masked_frac"].item(), 3 / 5, rel_tol=1e-6)

    # N = 2 codebooks: (M, N, V) scores, (M, N) labels, averaged over all M * N
    rq = BestRQLoss(encoder_output_size=4, feature_size=3, stride=2, codebook_size=4,
                    num_codebooks=2)  # fmt: skip
    two = torch.stack([logits, logits.flip(0)], dim=1)  # (3, 2, 4)
    labels2 = torch.stack([labels, labels.flip(0)], dim=1)
    loss2, stats2 = rq.target_prediction(two, labels2, labels2, selected, lens)
    assert math.isclose(loss2.item(), loss.item(), rel_tol=1e-6)
    assert math.isclose(stats2["acc_unsup"].item(), 2 / 3, rel_tol=1e-6)
    assert stats2["codebook_usage"].item() == 3 / 4
