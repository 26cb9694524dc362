"""The loss families: shapes, gradients, and that targets are not copyable."""

import pytest
import torch

from espnet_bljust.unsup import unsup_loss_choices
from espnet_bljust.unsup.best_rq import BestRQLoss, RandomProjectionQuantizer
from espnet_bljust.unsup.contrastive import ContrastiveLoss
from espnet_bljust.unsup.masked_kmeans import MaskedKMeansLoss, OnlineKMeansQuantizer

D, F, S = 32, 20, 4


def make(name, **conf):
    return unsup_loss_choices.get_class(name)(
        encoder_output_size=D, feature_size=F, stride=S, **conf
    )


def batch(b=3, t_enc=25):
    torch.manual_seed(0)
    feats = torch.randn(b, t_enc * S + 2, F)
    feats_lengths = torch.tensor([t_enc * S + 2, t_enc * S - 10, 3 * S])[:b]
    enc_lens = torch.div(feats_lengths, S, rounding_mode="floor")
    encoder_out = torch.randn(b, t_enc, D, requires_grad=True)
    return encoder_out, enc_lens, feats, feats_lengths


def test_registry_has_every_family():
    assert set(unsup_loss_choices.choices()) >= {"contrastive", "best_rq", "kmeans"}
    with pytest.raises(ValueError, match="--unsup_loss must be one of"):
        unsup_loss_choices.get_class("no_such_loss")


@pytest.mark.parametrize(
    "name,conf",
    [
        ("contrastive", {}),
        ("contrastive", {"negatives_from": "batch"}),
        ("best_rq", {}),
        ("kmeans", {}),
    ],
)
def test_loss_is_finite_and_reaches_encoder_and_head(name, conf):
    loss_fn = make(name, **conf)
    encoder_out, enc_lens, feats, feats_lengths = batch()
    mask = loss_fn.sample_mask(feats_lengths)
    loss, stats = loss_fn(encoder_out, enc_lens, feats, feats_lengths, mask)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    # only masked, valid frames carry gradient
    grad_frames = encoder_out.grad.abs().sum(-1) > 0
    selected = loss_fn.masked_positions(mask, enc_lens, encoder_out.size(1))
    assert grad_frames.any()
    assert not (grad_frames & ~selected).any()
    head = [p for n, p in loss_fn.named_parameters() if p.requires_grad and p.grad is not None]
    assert head, "the unsupervised head eta gets no gradient"


@pytest.mark.parametrize("name", ["contrastive", "best_rq", "kmeans"])
def test_masked_input_hides_what_the_targets_are_made_of(name):
    """Changing the features inside masked spans leaves the encoder input
    unchanged but changes the targets: the loss cannot be solved by copying."""
    loss_fn = make(name)
    _, _, feats, feats_lengths = batch()
    torch.manual_seed(3)
    mask = loss_fn.sample_mask(feats_lengths)
    from espnet_bljust.unsup.masking import expand_mask

    frame_mask = expand_mask(mask, S, feats.size(1))
    altered = feats.clone()
    altered[frame_mask] = torch.randn(int(frame_mask.sum()), F) * 5
    assert torch.equal(
        loss_fn.mask_features(feats, mask), loss_fn.mask_features(altered, mask)
    )
    t = mask.size(1)
    before = loss_fn.stacked_targets(feats, t)[mask]
    after = loss_fn.stacked_targets(altered, t)[mask]
    assert not torch.allclose(before, after)
    if name in ("best_rq", "kmeans"):
        valid = torch.ones(mask.shape, dtype=torch.bool)
        ids_a = loss_fn.quantizer(loss_fn.stacked_targets(feats, t), valid)[mask]
        ids_b = loss_fn.quantizer(loss_fn.stacked_targets(altered, t), valid)[mask]
        assert (ids_a != ids_b).any()


def test_best_rq_quantizer_is_frozen_and_seeded():
    a = RandomProjectionQuantizer(80, 64, 8, 2, seed=7)
    b = RandomProjectionQuantizer(80, 64, 8, 2, seed=7)
    assert torch.equal(a.projection, b.projection)
    assert not list(a.parameters())  # nothing to train
    frames = torch.randn(2, 10, 80)
    ids = a(frames, torch.ones(2, 10, dtype=torch.bool))
    assert ids.shape == (2, 10, 2) and ids.max() < 64
    loss = BestRQLoss(D, F, S, codebook_size=64)
    assert set(dict(loss.named_buffers())) >= {"quantizer.projection", "quantizer.codebooks"}


def test_contrastive_negatives_never_the_positive():
    loss_fn = ContrastiveLoss(D, F, S, num_negatives=50)
    pos = torch.tensor([0, 3, 9, 1])
    lens = torch.tensor([10, 10, 10, 2])
    neg = loss_fn.sample_negatives(pos, lens)
    assert neg.shape == (4, 50)
    assert (neg != pos[:, None]).all()
    assert (neg >= 0).all() and (neg < lens[:, None]).all()


def test_contrastive_batch_negatives_come_from_the_whole_batch():
    """negatives_from=batch draws distractors from other utterances too, never
    the positive itself, and never from padding."""
    torch.manual_seed(0)
    loss_fn = ContrastiveLoss(D, F, S, num_negatives=200, negatives_from="batch")
    lens = torch.tensor([6, 3, 5])
    # target frame (u, t) is the constant vector 100 * u + t + 1 (padding: -1)
    targets = torch.full((3, 6, 4), -1.0)
    for u, n in enumerate(lens.tolist()):
        for t in range(n):
            targets[u, t] = 100 * u + t + 1
    utt = torch.tensor([0, 1, 2])
    pos = torch.tensor([2, 0, 4])
    neg = loss_fn.negatives_in_batch(targets, utt, pos, lens)[..., 0]  # (3, 200)
    own = (100 * utt + pos + 1).float()
    assert (neg != own[:, None]).all()
    assert (neg > 0).all()  # no padding frame
    for row, u in zip(neg, utt.tolist()):
        assert ((row // 100) != u).any(), "no distractor from another utterance"
    # each row skips only its own frame, so together they cover all 14 frames
    assert torch.unique(neg).numel() == int(lens.sum())
    with pytest.raises(ValueError, match="negatives_from"):
        ContrastiveLoss(D, F, S, negatives_from="speaker")


def test_kmeans_quantizer_finds_separated_clusters():
    """Three well-separated blobs: after some updates every blob maps to its own
    centroid(s) and no centroid is shared between blobs."""
    torch.manual_seed(0)
    quant = OnlineKMeansQuantizer(input_size=8, num_clusters=6, decay=0.9)
    quant.train()
    centers = torch.randn(3, 8) * 10

    def draw(n=60):
        which = torch.randint(3, (2, n))
        frames = centers[which] + 0.1 * torch.randn(2, n, 8)
        return frames, which

    for _ in range(30):
        frames, _ = draw()
        quant(frames, torch.ones(2, 60, dtype=torch.bool))
    quant.eval()
    frames, which = draw()
    # standardization per utterance keeps the blobs apart; map ids -> blob
    ids = quant(frames, torch.ones(2, 60, dtype=torch.bool))
    for cid in torch.unique(ids).tolist():
        blobs = torch.unique(which[ids == cid])
        assert blobs.numel() == 1, f"centroid {cid} covers blobs {blobs.tolist()}"
    assert torch.unique(ids).numel() >= 3


def test_kmeans_quantizer_frozen_in_eval_and_reseeds_dead_centroids():
    torch.manual_seed(0)
    quant = OnlineKMeansQuantizer(input_size=4, num_clusters=4, decay=0.5)
    frames = torch.randn(1, 20, 4)
    valid = torch.ones(1, 20, dtype=torch.bool)
    quant.eval()
    quant(frames, valid)
    assert not bool(quant.initialized)  # eval never seeds or moves the codebook
    quant.train()
    quant(frames, valid)
    assert bool(quant.initialized)
    before = {k: v.clone() for k, v in quant.state_dict().items()}
    quant.eval()
    quant(frames, valid)
    for key, value in quant.state_dict().items():
        assert torch.equal(value, before[key]), key
    # a centroid far from every frame attracts nothing and gets re-seeded
    quant.train()
    quant.centroids[0] = 1e4
    quant.centroid_sum[0] = 1e4
    for _ in range(10):
        quant(frames, valid)
    assert quant.centroids[0].abs().max() < 100
    loss = MaskedKMeansLoss(D, F, S, num_clusters=8)
    assert set(dict(loss.named_buffers())) >= {"quantizer.centroids", "quantizer.cluster_size"}


def test_kmeans_quantizer_keeps_float32_under_autocast():
    torch.manual_seed(0)
    quant = OnlineKMeansQuantizer(input_size=8, num_clusters=4)
    frames = torch.randn(2, 10, 8)
    valid = torch.ones(2, 10, dtype=torch.bool)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        quant(frames, valid)  # seeds and updates the codebook
    assert quant.centroids.dtype == torch.float32
    quant.eval()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        ids = quant(frames, valid)
    assert torch.equal(ids, quant(frames, valid))  # same assignment as in float32


@pytest.mark.parametrize("negatives_from", ["utterance", "batch"])
def test_contrastive_accuracy_counts_frames_whose_positive_wins(negatives_from):
    """Contexts equal to their targets pick the positive at every frame
    (accuracy 1); contexts opposite to them never do (accuracy 0)."""
    torch.manual_seed(0)
    loss_fn = ContrastiveLoss(encoder_output_size=S * F, feature_size=F, stride=S, proj_dim=16,
                              num_negatives=5, negatives_from=negatives_from)  # fmt: skip
    with torch.no_grad():  # the context and target projections the same map, no bias
        loss_fn.context_proj.weight.copy_(loss_fn.target_proj.weight)
        loss_fn.context_proj.bias.zero_()
        loss_fn.target_proj.bias.zero_()
    _, enc_lens, feats, feats_lengths = batch()
    mask = torch.ones(feats.size(0), enc_lens.max().item(), dtype=torch.bool)
    with torch.no_grad():
        targets = loss_fn.target_norm(loss_fn.stacked_targets(feats, mask.size(1)))  # (B, T', S*F)
    loss_same, same = loss_fn(targets, enc_lens, feats, feats_lengths, mask)
    loss_opposite, opposite = loss_fn(-targets, enc_lens, feats, feats_lengths, mask)
    assert same["acc_unsup"].item() == 1.0
    assert opposite["acc_unsup"].item() == 0.0
    assert loss_same.item() < loss_opposite.item()
