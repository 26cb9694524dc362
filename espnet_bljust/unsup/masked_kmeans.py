"""Masked prediction of online k-means cluster ids (HuBERT-style first iteration)."""

from typing import Dict, Tuple

import torch
from typeguard import typechecked

from espnet_bljust.unsup.abs_unsup_loss import AbsUnsupLoss
from espnet_bljust.unsup.masking import standardize_per_utterance


class OnlineKMeansQuantizer(torch.nn.Module):
    """k-means codebook over clean target frames, learned while training.

    HuBERT's first iteration clusters MFCC frames offline and predicts the
    cluster ids of masked frames. Here the clustering runs online, so no extra
    pass over the corpus is needed: every training forward assigns the
    (per-utterance standardized) frames to their nearest centroid and moves
    each centroid towards the mean of its frames by an exponential moving
    average (mini-batch k-means); centroids that stop attracting frames are
    re-seeded from random frames of the batch. The first training batch seeds
    all centroids. In eval mode nothing changes. Everything is a buffer, so a
    checkpoint carries the codebook and DDP broadcasts rank 0's copy.

    Args:
        input_size: D, dimension of a stacked target frame (stride * F).
        num_clusters: V.
        decay: EMA decay of the centroid statistics.
        dead_threshold: a centroid whose EMA count of frames per batch falls
            below this is re-seeded.
    """

    def __init__(
        self,
        input_size: int,
        num_clusters: int,
        decay: float = 0.95,
        dead_threshold: float = 0.1,
    ):
        super().__init__()
        if num_clusters < 2:
            raise ValueError(f"num_clusters must be >= 2, got {num_clusters}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.num_clusters = num_clusters
        self.decay = decay
        self.dead_threshold = dead_threshold
        self.register_buffer("centroids", torch.zeros(num_clusters, input_size))
        self.register_buffer("cluster_size", torch.zeros(num_clusters))
        self.register_buffer("centroid_sum", torch.zeros(num_clusters, input_size))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def assign(self, points: torch.Tensor) -> torch.Tensor:
        """(N, D) points -> (N,) nearest centroid ids (squared L2; the points'
        own norm is the same for every centroid and left out)."""
        dist = self.centroids.pow(2).sum(1)[None, :] - 2.0 * points @ self.centroids.t()
        return dist.argmin(1)  # (N, V) -> (N,)

    def _random_points(self, points: torch.Tensor, count: int) -> torch.Tensor:
        """``count`` rows of ``points`` (N, D) drawn at random (with replacement
        when N < count, then jittered so that no two centroids coincide)."""
        if points.size(0) >= count:
            return points[torch.randperm(points.size(0), device=points.device)[:count]]
        idx = torch.randint(points.size(0), (count,), device=points.device)
        return points[idx] + 0.01 * torch.randn(count, points.size(1), device=points.device)

    @torch.no_grad()
    def update(self, points: torch.Tensor, ids: torch.Tensor) -> None:
        """One mini-batch k-means step on (N, D) points assigned to (N,) ids."""
        onehot = torch.nn.functional.one_hot(ids, self.num_clusters).float()  # (N, V)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.centroid_sum.mul_(self.decay).add_(onehot.t() @ points, alpha=1 - self.decay)
        alive = self.cluster_size > self.dead_threshold
        self.centroids[alive] = self.centroid_sum[alive] / self.cluster_size[alive, None]
        dead = ~alive
        if dead.any():
            fresh = self._random_points(points, int(dead.sum()))
            self.centroids[dead] = fresh
            self.centroid_sum[dead] = fresh
            self.cluster_size[dead] = 1.0

    @torch.no_grad()
    def forward(self, frames: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Cluster ids of target frames (updating the codebook in training mode).

        Args:
            frames: (B, T, D) stacked clean features.
            valid: (B, T) bool, frames that belong to the utterance.

        Returns:
            (B, T) long cluster ids (0 at invalid frames).
        """
        # Distances and centroid sums in float32 even under --use_amp autocast.
        with torch.autocast(device_type=frames.device.type, enabled=False):
            return self._quantize(standardize_per_utterance(frames, valid), valid)

    def _quantize(self, frames: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        points = frames[valid]  # (N, D)
        ids = torch.zeros(valid.shape, dtype=torch.long, device=frames.device)
        if points.size(0) == 0:
            return ids
        if self.training and not bool(self.initialized):
            seed = self._random_points(points, self.num_clusters)
            self.centroids.copy_(seed)
            self.centroid_sum.copy_(seed)
            self.cluster_size.fill_(1.0)
            self.initialized.fill_(True)
        point_ids = self.assign(points)
        if self.training:
            self.update(points, point_ids)
        ids[valid] = point_ids
        return ids


class MaskedKMeansLoss(AbsUnsupLoss):
    """Predict the k-means cluster id of every masked frame (cross entropy).

    Targets come from the clean stacked features through
    :class:`OnlineKMeansQuantizer`; unlike BEST-RQ's frozen random codebook the
    clusters follow the data, so frames of the same sound share a target.

    Args:
        encoder_output_size: D.
        feature_size: F.
        stride: feature frames per encoder frame.
        num_clusters: V, the number of targets.
        decay: EMA decay of the k-means statistics.
        mask_prob: probability that an encoder frame starts a masked span.
        mask_length: span length in encoder frames.
    """

    @typechecked
    def __init__(
        self,
        encoder_output_size: int,
        feature_size: int,
        stride: int,
        num_clusters: int = 64,
        decay: float = 0.95,
        mask_prob: float = 0.08,
        mask_length: int = 4,
    ):
        super().__init__(encoder_output_size, feature_size, stride, mask_prob, mask_length)
        self.num_clusters = num_clusters
        self.quantizer = OnlineKMeansQuantizer(stride * feature_size, num_clusters, decay)
        self.head = torch.nn.Linear(encoder_output_size, num_clusters)

    def forward(
        self,
        encoder_out: torch.Tensor,
        encoder_out_lens: torch.Tensor,
        target_feats: torch.Tensor,
        feats_lengths: torch.Tensor,
        mask: torch.Tensor,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """See :meth:`AbsUnsupLoss.forward`."""
        _, frames, _ = encoder_out.shape
        target_valid = self.target_valid(feats_lengths, frames) & (
            torch.arange(frames, device=encoder_out.device)[None, :]
            < encoder_out_lens[:, None]
        )
        targets = self.quantizer(self.stacked_targets(target_feats, frames), target_valid)
        selected = self.masked_positions(mask, encoder_out_lens, frames) & target_valid
        if not selected.any():
            return self.nothing_to_predict(encoder_out)

        logits = self.head(encoder_out[selected]).float()  # (M, V)
        labels = targets[selected]  # (M,)
        return self.target_prediction(
            logits, labels, targets[target_valid], selected, encoder_out_lens
        )
