"""Span masking shared by the masked unsupervised losses.

Masks are drawn at the encoder frame rate (one mask frame per ``stride``
input-feature frames), then expanded to feature frames so that the encoder
input is masked before it is encoded.
"""

from typing import Optional

import torch


def sample_span_mask(
    lengths: torch.Tensor,
    mask_prob: float,
    span: int,
    min_spans: int = 1,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Draw random spans of masked frames.

    Every frame starts a span of ``span`` frames with probability ``mask_prob``;
    utterances that drew fewer than ``min_spans`` starts get random ones so that
    every utterance of two or more frames has something to predict. Spans never
    cover the whole utterance: at least one frame stays visible.

    Args:
        lengths: (B,) number of valid frames per utterance.
        mask_prob: probability that a frame starts a span, in [0, 1].
        span: span length in frames (>= 1).
        min_spans: minimum number of span starts per utterance.
        generator: optional random generator (defaults to the global one).

    Returns:
        (B, T) bool, True where the frame is masked, T = lengths.max().
    """
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in [0, 1], got {mask_prob}")
    if span < 1:
        raise ValueError(f"span must be >= 1, got {span}")
    device = lengths.device
    batch = lengths.size(0)
    max_len = int(lengths.max()) if batch > 0 else 0
    if max_len == 0:
        return torch.zeros(batch, 0, dtype=torch.bool, device=device)
    frames = torch.arange(max_len, device=device)
    valid = frames[None, :] < lengths[:, None]
    uniform = torch.rand(batch, max_len, generator=generator).to(device)
    starts = (uniform < mask_prob) & valid

    # Guarantee min_spans starts where the utterance has room for one.
    needs = (starts.sum(1) < min_spans) & (lengths >= 2)
    if needs.any():
        for _ in range(min_spans):
            pick = (
                torch.rand(batch, generator=generator).to(device)
                * lengths.clamp(min=1).float()
            ).long()
            extra = torch.zeros_like(starts)
            extra[torch.arange(batch, device=device), pick] = True
            starts = starts | (extra & needs[:, None] & valid)

    # A frame is masked when a span started within the previous span-1 frames.
    padded = torch.nn.functional.pad(starts.float()[:, None, :], (span - 1, 0))
    mask = torch.nn.functional.max_pool1d(padded, kernel_size=span, stride=1)
    mask = mask[:, 0, :max_len].bool() & valid

    # Keep at least one visible frame per utterance.
    full = mask.sum(1) >= lengths
    if full.any():
        first_visible = torch.zeros_like(mask)
        first_visible[:, 0] = True
        mask = mask & ~(first_visible & full[:, None])
    return mask


def expand_mask(mask: torch.Tensor, stride: int, num_frames: int) -> torch.Tensor:
    """Expand an encoder-rate mask to the feature frame rate.

    Args:
        mask: (B, T') bool mask at the encoder frame rate.
        stride: feature frames per encoder frame.
        num_frames: T, the number of feature frames to return.

    Returns:
        (B, T) bool mask; frame t is masked when mask[:, t // stride] is.
    """
    expanded = mask.repeat_interleave(stride, dim=1)[:, :num_frames]
    if expanded.size(1) < num_frames:
        expanded = torch.nn.functional.pad(
            expanded, (0, num_frames - expanded.size(1)), value=False
        )
    return expanded


def stack_frames(feats: torch.Tensor, stride: int) -> torch.Tensor:
    """Stack ``stride`` consecutive feature frames into one target frame.

    Args:
        feats: (B, T, F) features.
        stride: frames per stacked frame.

    Returns:
        (B, T // stride, stride * F).
    """
    batch, frames, dim = feats.shape
    usable = (frames // stride) * stride
    return feats[:, :usable].reshape(batch, frames // stride, stride * dim)


def fit_length(x: torch.Tensor, length: int, value: float = 0) -> torch.Tensor:
    """Crop or right-pad dim 1 of ``x`` to ``length``: (B, T, ...) -> (B, length, ...)."""
    if x.size(1) >= length:
        return x[:, :length]
    pad = [0, 0] * (x.dim() - 2) + [0, length - x.size(1)]
    return torch.nn.functional.pad(x, pad, value=value)


def standardize_per_utterance(frames: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per utterance and dimension over its valid frames.

    Quantizer targets then do not depend on the recording level or on which
    normalize layer the encoder uses.

    Args:
        frames: (B, T, D) target frames.
        valid: (B, T) bool, frames that belong to the utterance.

    Returns:
        (B, T, D) float32.
    """
    frames = frames.float()
    weight = valid[..., None].float()
    count = weight.sum(1, keepdim=True).clamp(min=1.0)
    mean = (frames * weight).sum(1, keepdim=True) / count
    var = ((frames - mean) ** 2 * weight).sum(1, keepdim=True) / count
    return (frames - mean) / (var + 1e-5).sqrt()
