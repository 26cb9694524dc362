"""Masked prediction against a frozen random-projection quantizer (BEST-RQ style)."""

from typing import Dict, Tuple

import torch
from typeguard import typechecked

from espnet_bljust.unsup.abs_unsup_loss import AbsUnsupLoss
from espnet_bljust.unsup.masking import standardize_per_utterance


class RandomProjectionQuantizer(torch.nn.Module):
    """Frozen random projection + nearest codeword lookup.

    Both the projection and the codebooks are drawn once from ``seed`` and
    never trained; they are buffers so that a checkpoint carries them.

    Args:
        input_size: dimension of a stacked target frame (stride * F).
        codebook_size: V, codewords per codebook.
        codebook_dim: dimension of the projected space.
        num_codebooks: independent codebooks (one target id each).
        seed: seed of the random projection and codebooks.
    """

    def __init__(
        self,
        input_size: int,
        codebook_size: int,
        codebook_dim: int,
        num_codebooks: int,
        seed: int,
    ):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        projection = torch.empty(num_codebooks, input_size, codebook_dim)
        bound = (6.0 / (input_size + codebook_dim)) ** 0.5  # Xavier uniform
        projection.uniform_(-bound, bound, generator=gen)
        codebooks = torch.randn(num_codebooks, codebook_size, codebook_dim, generator=gen)
        codebooks = torch.nn.functional.normalize(codebooks, dim=-1)
        self.register_buffer("projection", projection)
        self.register_buffer("codebooks", codebooks)

    @torch.no_grad()
    def forward(self, frames: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Quantize target frames.

        Args:
            frames: (B, T, input_size) stacked clean features.
            valid: (B, T) bool, frames that belong to the utterance.

        Returns:
            (B, T, num_codebooks) long codeword ids.
        """
        frames = standardize_per_utterance(frames, valid)
        projected = torch.einsum("btf,nfd->btnd", frames, self.projection)
        projected = torch.nn.functional.normalize(projected, dim=-1)
        # Nearest codeword by cosine = by L2 distance between unit vectors.
        scores = torch.einsum("btnd,nvd->btnv", projected, self.codebooks)
        return scores.argmax(-1)


class BestRQLoss(AbsUnsupLoss):
    """BEST-RQ style masked prediction of frozen random-projection codes.

    Targets are the codeword ids of the clean stacked features; the head
    predicts them from the encoder output at masked frames (cross entropy).

    Args:
        encoder_output_size: D.
        feature_size: F.
        stride: feature frames per encoder frame.
        codebook_size: V.
        codebook_dim: dimension of the random projection.
        num_codebooks: number of codebooks (one softmax each).
        mask_prob: probability that an encoder frame starts a masked span.
        mask_length: span length in encoder frames.
        seed: seed of the frozen quantizer.
    """

    @typechecked
    def __init__(
        self,
        encoder_output_size: int,
        feature_size: int,
        stride: int,
        codebook_size: int = 256,
        codebook_dim: int = 16,
        num_codebooks: int = 1,
        mask_prob: float = 0.08,
        mask_length: int = 4,
        seed: int = 1234,
    ):
        super().__init__(encoder_output_size, feature_size, stride, mask_prob, mask_length)
        self.codebook_size = codebook_size
        self.num_codebooks = num_codebooks
        self.quantizer = RandomProjectionQuantizer(
            stride * feature_size, codebook_size, codebook_dim, num_codebooks, seed
        )
        self.head = torch.nn.Linear(encoder_output_size, num_codebooks * codebook_size)

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
        selected = self.masked_positions(mask, encoder_out_lens, frames)
        target_frames = self.stacked_targets(target_feats, frames)
        target_valid = self.target_valid(feats_lengths, frames)
        targets = self.quantizer(target_frames, target_valid)  # (B, T', N)
        selected = selected & target_valid
        if not selected.any():
            return self.nothing_to_predict(encoder_out)

        logits = self.head(encoder_out[selected])  # (M, N * V)
        logits = logits.view(-1, self.num_codebooks, self.codebook_size).float()
        labels = targets[selected]  # (M, N)
        return self.target_prediction(logits, labels, labels, selected, encoder_out_lens)
