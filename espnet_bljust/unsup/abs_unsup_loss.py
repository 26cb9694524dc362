"""Interface of the unsupervised (lower-level) losses g(theta, eta)."""

from abc import ABC, abstractmethod
from typing import Dict, Tuple

import torch

from espnet_bljust.unsup.masking import (
    expand_mask,
    fit_length,
    sample_span_mask,
    stack_frames,
)


class AbsUnsupLoss(torch.nn.Module, ABC):
    """A masked self-supervised loss on top of the shared encoder.

    The module owns everything of the unsupervised head eta: the learned mask
    embedding that replaces masked input frames and the prediction layers.
    The encoder input is masked with :meth:`mask_features`; the loss compares
    the encoder output at masked frames with targets computed from the clean
    (unmasked) features, so the targets cannot be copied from the input.

    Args:
        encoder_output_size: D, the encoder output dimension.
        feature_size: F, the dimension of the features fed to the encoder.
        stride: feature frames per encoder frame (the encoder's subsampling).
        mask_prob: probability that an encoder frame starts a masked span.
        mask_length: span length in encoder frames.
    """

    def __init__(
        self,
        encoder_output_size: int,
        feature_size: int,
        stride: int,
        mask_prob: float,
        mask_length: int,
    ):
        super().__init__()
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.encoder_output_size = encoder_output_size
        self.feature_size = feature_size
        self.stride = stride
        self.mask_prob = mask_prob
        self.mask_length = mask_length
        self.mask_embedding = torch.nn.Parameter(torch.zeros(feature_size))
        torch.nn.init.normal_(self.mask_embedding, std=0.1)

    def sample_mask(self, feats_lengths: torch.Tensor) -> torch.Tensor:
        """Draw a span mask at the encoder frame rate.

        Args:
            feats_lengths: (B,) feature frames per utterance.

        Returns:
            (B, T // stride) bool mask.
        """
        return sample_span_mask(
            torch.div(feats_lengths, self.stride, rounding_mode="floor"),
            self.mask_prob,
            self.mask_length,
        )

    def mask_features(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Replace masked frames by the learned mask embedding.

        Args:
            feats: (B, T, F) encoder input features.
            mask: (B, T') encoder-rate mask from :meth:`sample_mask`.

        Returns:
            (B, T, F) masked features (a new tensor).
        """
        frame_mask = expand_mask(mask, self.stride, feats.size(1))
        return torch.where(
            frame_mask[..., None], self.mask_embedding.to(feats.dtype), feats
        )

    def masked_positions(
        self, mask: torch.Tensor, encoder_out_lens: torch.Tensor, num_frames: int
    ) -> torch.Tensor:
        """(B, T') bool: masked frames that are inside the encoder output."""
        mask = fit_length(mask, num_frames, value=False)
        valid = torch.arange(num_frames, device=mask.device)[None, :] < (
            encoder_out_lens[:, None]
        )
        return mask & valid

    def target_valid(
        self, feats_lengths: torch.Tensor, num_frames: int
    ) -> torch.Tensor:
        """(B, T') bool: encoder frames whose ``stride`` target frames all exist."""
        full = torch.div(feats_lengths, self.stride, rounding_mode="floor")
        return torch.arange(num_frames, device=feats_lengths.device)[None, :] < full[:, None]

    @staticmethod
    def nothing_to_predict(
        encoder_out: torch.Tensor,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """A zero loss that keeps the graph, for a batch without masked frames."""
        zero = encoder_out.sum() * 0.0
        return zero, dict(loss_unsup=zero.detach(), acc_unsup=None)

    @staticmethod
    def masked_stats(
        loss: torch.Tensor, acc: torch.Tensor, selected: torch.Tensor,
        encoder_out_lens: torch.Tensor, **extra: torch.Tensor,
    ) -> Dict[str, torch.Tensor]:
        """The reporter stats every masked loss gives (plus ``extra``)."""
        return dict(
            loss_unsup=loss.detach(),
            acc_unsup=acc.detach(),
            **extra,
            masked_frac=selected.sum().float().detach()
            / encoder_out_lens.sum().clamp(min=1).float(),
        )

    def target_prediction(
        self, logits: torch.Tensor, labels: torch.Tensor, used: torch.Tensor,
        selected: torch.Tensor, encoder_out_lens: torch.Tensor,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Cross-entropy of discrete targets at the selected frames (BEST-RQ, k-means).

        Args:
            logits: (M, ..., V) float scores of the V targets at the M selected frames.
            labels: (M, ...) target ids.
            used: the target ids whose share of the V counts as ``codebook_usage``.
            selected: (B, T') bool, the M selected frames.
            encoder_out_lens: (B,) valid encoder frames.

        Returns:
            loss, averaged over the labels, and :meth:`masked_stats` with codebook_usage.
        """
        vocab = logits.size(-1)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1))
        acc = (logits.argmax(-1) == labels).float().mean()
        share = torch.unique(used).numel() / float(vocab)
        return loss, self.masked_stats(
            loss, acc, selected, encoder_out_lens, codebook_usage=torch.tensor(share)
        )

    def stacked_targets(
        self, target_feats: torch.Tensor, num_frames: int
    ) -> torch.Tensor:
        """(B, T, F) clean features -> (B, T', stride * F) target frames."""
        return fit_length(stack_frames(target_feats, self.stride), num_frames)

    @abstractmethod
    def forward(
        self,
        encoder_out: torch.Tensor,
        encoder_out_lens: torch.Tensor,
        target_feats: torch.Tensor,
        feats_lengths: torch.Tensor,
        mask: torch.Tensor,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Compute the loss at masked frames.

        Args:
            encoder_out: (B, T', D) encoder output of the masked input.
            encoder_out_lens: (B,) valid encoder frames.
            target_feats: (B, T, F) clean features the targets come from.
            feats_lengths: (B,) valid feature frames.
            mask: (B, T'') encoder-rate mask (T'' may differ from T' by the
                encoder's edge frames; it is cropped or padded to T').

        Returns:
            loss: scalar tensor, averaged over masked frames.
            stats: detached scalars for the reporter.
        """
        raise NotImplementedError
