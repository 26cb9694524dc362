"""Masked contrastive (InfoNCE / CPC-style) loss, the BL-JUST paper's lower level."""

from typing import Dict, Tuple

import torch
from typeguard import typechecked

from espnet_bljust.unsup.abs_unsup_loss import AbsUnsupLoss

NEGATIVE_SOURCES = ("utterance", "batch")


class ContrastiveLoss(AbsUnsupLoss):
    """InfoNCE between masked-frame contexts and clean local targets.

    For every masked encoder frame t, the context c_t = W_c h_t must pick the
    target z_t = W_z x_t (x_t: the clean stacked input frames at t) out of
    ``num_negatives`` distractors z_k drawn from other frames of the same
    utterance (``negatives_from="utterance"``, wav2vec 2.0's choice) or from
    any frame of any utterance in the batch (``negatives_from="batch"``: on
    clips of a few dozen frames the same-utterance distractors are mostly
    neighbours of the positive, so the task says little about content),
    with cosine similarity over a temperature:
    ``-log exp(s(c_t, z_t)/k) / sum_j exp(s(c_t, z_j)/k)``.
    Distractors identical to the positive are ignored (as in wav2vec 2.0).

    Args:
        encoder_output_size: D.
        feature_size: F.
        stride: feature frames per encoder frame.
        proj_dim: dimension of the shared comparison space.
        num_negatives: distractors per masked frame.
        temperature: softmax temperature.
        target_trainable: train the target projection (else frozen random).
        mask_prob: probability that an encoder frame starts a masked span.
        mask_length: span length in encoder frames.
        negatives_from: "utterance" or "batch" (see above).
    """

    @typechecked
    def __init__(
        self,
        encoder_output_size: int,
        feature_size: int,
        stride: int,
        proj_dim: int = 128,
        num_negatives: int = 20,
        temperature: float = 0.1,
        target_trainable: bool = True,
        mask_prob: float = 0.08,
        mask_length: int = 4,
        negatives_from: str = "utterance",
    ):
        super().__init__(encoder_output_size, feature_size, stride, mask_prob, mask_length)
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be >= 1, got {num_negatives}")
        if negatives_from not in NEGATIVE_SOURCES:
            raise ValueError(
                f"negatives_from must be one of {NEGATIVE_SOURCES}, got {negatives_from!r}"
            )
        self.negatives_from = negatives_from
        self.num_negatives = num_negatives
        self.temperature = temperature
        self.context_proj = torch.nn.Linear(encoder_output_size, proj_dim)
        self.target_norm = torch.nn.LayerNorm(stride * feature_size)
        self.target_proj = torch.nn.Linear(stride * feature_size, proj_dim)
        if not target_trainable:
            for p in list(self.target_norm.parameters()) + list(
                self.target_proj.parameters()
            ):
                p.requires_grad_(False)

    def sample_negatives(
        self, positions: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Draw distractor frame indices from the same utterance.

        Args:
            positions: (M,) frame index of each masked frame.
            lengths: (M,) length of that frame's utterance (>= 2).

        Returns:
            (M, num_negatives) frame indices, never equal to ``positions``.
        """
        draws = torch.rand(positions.size(0), self.num_negatives, device=positions.device)
        idx = (draws * (lengths[:, None] - 1).float()).long()
        return idx + (idx >= positions[:, None]).long()

    def negatives_in_utterance(
        self, targets: torch.Tensor, utt: torch.Tensor, pos: torch.Tensor,
        target_lens: torch.Tensor,
    ) -> torch.Tensor:
        """(B, T', P) targets -> (M, K, P) distractors from each frame's own utterance."""
        neg_pos = self.sample_negatives(pos, target_lens[utt])  # (M, K)
        return targets[utt[:, None], neg_pos]

    def negatives_in_batch(
        self, targets: torch.Tensor, utt: torch.Tensor, pos: torch.Tensor,
        target_lens: torch.Tensor,
    ) -> torch.Tensor:
        """(B, T', P) targets -> (M, K, P) distractors from any valid frame of the batch."""
        frames = targets.size(1)
        valid = torch.arange(frames, device=targets.device)[None, :] < target_lens[:, None]
        pool = targets[valid]  # (N, P), N valid frames in (utterance, frame) order
        # Index of every valid frame in ``pool``; the positive's own index is skipped.
        flat_index = valid.flatten().long().cumsum(0) - 1  # (B * T',)
        own = flat_index[utt * frames + pos]  # (M,)
        count = torch.full_like(own, pool.size(0))
        return pool[self.sample_negatives(own, count)]

    def forward(
        self,
        encoder_out: torch.Tensor,
        encoder_out_lens: torch.Tensor,
        target_feats: torch.Tensor,
        feats_lengths: torch.Tensor,
        mask: torch.Tensor,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """See :meth:`AbsUnsupLoss.forward`."""
        batch, frames, _ = encoder_out.shape
        target_lens = torch.minimum(
            encoder_out_lens,
            torch.div(feats_lengths, self.stride, rounding_mode="floor"),
        )
        selected = self.masked_positions(mask, target_lens, frames)
        selected = selected & (target_lens >= 2)[:, None]
        if not selected.any():
            return self.nothing_to_predict(encoder_out)

        targets = self.target_proj(
            self.target_norm(self.stacked_targets(target_feats, frames))
        )  # (B, T', P)
        utt, pos = selected.nonzero(as_tuple=True)  # (M,), (M,)
        context = self.context_proj(encoder_out[utt, pos])  # (M, P)
        positive = targets[utt, pos]  # (M, P)
        if self.negatives_from == "batch":
            negatives = self.negatives_in_batch(targets, utt, pos, target_lens)
        else:
            negatives = self.negatives_in_utterance(targets, utt, pos, target_lens)
        # negatives: (M, K, P)
        candidates = torch.cat([positive[:, None], negatives], dim=1)  # (M, 1+K, P)

        logits = torch.nn.functional.cosine_similarity(
            context[:, None].float(), candidates.float(), dim=-1
        ) / self.temperature
        same = (negatives == positive[:, None]).all(-1)
        logits[:, 1:] = logits[:, 1:].masked_fill(same, float("-inf"))
        labels = torch.zeros(logits.size(0), dtype=torch.long, device=logits.device)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        acc = (logits.argmax(-1) == 0).float().mean()
        return loss, self.masked_stats(loss, acc, selected, encoder_out_lens)
