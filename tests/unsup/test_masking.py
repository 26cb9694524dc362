import torch

from espnet_bljust.unsup.masking import (
    expand_mask,
    fit_length,
    sample_span_mask,
    stack_frames,
)


def test_span_mask_shape_validity_and_min_spans():
    torch.manual_seed(0)
    lengths = torch.tensor([30, 12, 2, 1])
    mask = sample_span_mask(lengths, mask_prob=0.0, span=4, min_spans=1)
    assert mask.shape == (4, 30) and mask.dtype == torch.bool
    # nothing past the end of an utterance is masked
    for b, n in enumerate(lengths.tolist()):
        assert not mask[b, n:].any()
    # mask_prob=0 still gives every utterance of >= 2 frames a span ...
    assert (mask[:3].sum(1) >= 1).all()
    # ... and never masks a whole utterance (one frame stays visible)
    assert (mask.sum(1) < lengths).all()
    assert not mask[3].any()


def test_span_mask_spans_are_contiguous_and_rate_is_plausible():
    torch.manual_seed(1)
    lengths = torch.full((64,), 200)
    mask = sample_span_mask(lengths, mask_prob=0.05, span=5)
    # expected masked fraction 1 - (1 - p)^span ~ 0.226
    assert 0.15 < mask.float().mean().item() < 0.30
    # every run of masked frames is at least one span long, except at the start
    row = mask[0].int().tolist()
    runs, current = [], 0
    for v in row + [0]:
        if v:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    assert runs and min(runs) >= 5


def test_expand_mask_and_stack_frames():
    mask = torch.tensor([[True, False, True]])
    frames = expand_mask(mask, stride=4, num_frames=14)
    assert frames.shape == (1, 14)
    assert frames[0, :4].all() and not frames[0, 4:8].any() and frames[0, 8:12].all()
    assert not frames[0, 12:].any()
    feats = torch.arange(2 * 10 * 3, dtype=torch.float).view(2, 10, 3)
    stacked = stack_frames(feats, 4)
    assert stacked.shape == (2, 2, 12)
    assert torch.equal(stacked[0, 1], feats[0, 4:8].reshape(-1))
    assert fit_length(stacked, 3).shape == (2, 3, 12)
    assert fit_length(stacked, 1).shape == (2, 1, 12)
