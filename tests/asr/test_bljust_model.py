"""BLJUSTModel built by BLJUSTTask: parameter groups, levels, the penalty gradient."""

import itertools

import jiwer
import pytest
import torch
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.tasks.asr import ASRTask

from espnet_bljust.asr.bljust_model import BLJUSTModel
from espnet_bljust.tasks.bljust import BLJUSTTask

from conftest import TINY_CONFIG, asr_batch, shared_dataset

TOKENS = ["<blank>", "<unk>", "<space>", "E", "I", "N", "O", "R", "T", "W", "Z", "<sos/eos>"]


def tiny_args(tmp_path, *extra):
    token_list = tmp_path / "tokens.txt"
    token_list.write_text("".join(t + "\n" for t in TOKENS))
    cmd = [
        "--config", str(TINY_CONFIG),
        "--token_list", str(token_list),
        "--token_type", "char",
        "--encoder_conf", "num_blocks=1",
        "--encoder_conf", "output_size=32",
        "--encoder_conf", "linear_units=64",
        "--encoder_conf", "attention_heads=2",
        *extra,
    ]  # fmt: skip
    return BLJUSTTask.get_parser().parse_args(cmd)


def fsdd_batch() -> dict:
    """Two real FSDD recordings (16 kHz) with their transcripts, ZERO and ONE
    (skips where FSDD is absent)."""
    recordings = shared_dataset("fsdd") / "recordings_16k"
    return asr_batch([recordings / f"{n}.flac" for n in ("0_jackson_0", "1_lucas_3")],
                     [[TOKENS.index(c) for c in word] for word in ("ZERO", "ONE")])  # fmt: skip


@pytest.fixture
def batch():
    return fsdd_batch()


@pytest.fixture(params=["contrastive", "best_rq"])
def model(request, tmp_path):
    torch.manual_seed(0)
    args = tiny_args(tmp_path, "--unsup_loss", request.param)
    return BLJUSTTask.build_model(args), args


def test_is_an_espnet_asr_model_with_a_partition_of_parameters(model):
    model, _ = model
    assert isinstance(model, BLJUSTModel) and isinstance(model, ESPnetASRModel)
    groups = model.parameter_groups()
    ids = {k: {id(p) for p in v} for k, v in groups.items()}
    assert not (ids["shared"] & ids["supervised"])
    assert not (ids["shared"] & ids["unsupervised"])
    assert not (ids["supervised"] & ids["unsupervised"])
    assert set().union(*ids.values()) == {id(p) for p in model.parameters()}
    assert ids["supervised"] == {id(p) for p in model.ctc.parameters()}
    assert ids["unsupervised"] == {id(p) for p in model.unsup_loss.parameters()}
    assert {id(p) for p in model.encoder.parameters()} <= ids["shared"]
    assert model.unsup_loss.stride == 4  # measured from the conv2d subsampling


def test_optimizer_groups(model):
    model, args = model
    upper, lower = BLJUSTTask.build_optimizers(args, model)
    upper_ids = {id(p) for g in upper.param_groups for p in g["params"]}
    lower_ids = {id(p) for g in lower.param_groups for p in g["params"]}
    groups = model.parameter_groups()
    assert upper_ids == {id(p) for p in model.parameters()}
    assert lower_ids == {id(p) for p in groups["shared"] + groups["unsupervised"]}
    assert not lower_ids & {id(p) for p in groups["supervised"]}
    assert lower.param_groups[0]["lr"] == args.lower_optim_conf["lr"]
    assert args.scheduler2 == args.lower_scheduler


def test_levels_return_espnet_shaped_outputs(model, batch):
    model, _ = model
    loss, stats, weight = model(**batch)
    assert torch.isfinite(loss) and "loss_ctc" in stats and int(weight) == 2
    loss_g, stats_g, _ = model(batch["speech"], batch["speech_lengths"], objective="unsupervised")
    assert torch.isfinite(loss_g) and "loss_unsup" in stats_g
    for source in ("labeled_shared", "labeled", "unlabeled"):
        (f, g), stats_j, _ = model(
            **batch,
            objective="joint",
            unsup_source=source,
            unlabeled_speech=batch["speech"],
            unlabeled_speech_lengths=batch["speech_lengths"],
        )
        assert f.requires_grad and g.requires_grad and "loss_ctc" in stats_j
    with pytest.raises(ValueError, match="objective"):
        model(**batch, objective="middle")


def _grads(loss, params):
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, retain_graph=True)])


def test_penalty_gradient_really_reaches_the_shared_encoder(model, batch):
    """g's gradient on theta is non-zero, so f + gamma*g moves theta differently
    from f alone; adding g as a detached number (the public script's bug)
    would leave the update exactly that of f."""
    model, _ = model
    theta = [p for p in model.parameter_groups()["shared"] if p.requires_grad]
    (f, g), _, _ = model(**batch, objective="joint")
    grad_f = _grads(f, theta)
    grad_g = _grads(g, theta)
    assert grad_g.norm() > 0
    gamma = 0.7
    grad_upper = _grads(f + gamma * g, theta)
    torch.testing.assert_close(grad_upper, grad_f + gamma * grad_g)
    assert (grad_upper - grad_f).norm() > 1e-3 * grad_f.norm()
    grad_detached = _grads(f + gamma * g.detach(), theta)
    torch.testing.assert_close(grad_detached, grad_f)


def test_shared_pass_masks_the_encoder_input(model, batch):
    """In eval mode (no dropout/specaug) the labeled_shared pass differs from
    the clean supervised pass only by the mask."""
    model, _ = model
    model.eval()
    f_clean, _, _ = model(**{k: v.clone() for k, v in batch.items()})
    (f_masked, _), _, _ = model(**{k: v.clone() for k, v in batch.items()}, objective="joint")
    assert not torch.isclose(f_clean, f_masked)


def test_state_dict_loads_into_plain_espnet_model(model, batch):
    """What asr_inference builds from our config.yaml takes every weight it needs."""
    model, args = model
    plain = ASRTask.build_model(args)
    assert type(plain) is ESPnetASRModel
    result = plain.load_state_dict(model.state_dict(), strict=False)
    assert result.missing_keys == []
    assert all(k.startswith(("unsup_loss.", "bilevel_state.")) for k in result.unexpected_keys)
    model.eval()
    plain.eval()
    with torch.no_grad():
        a, _ = model.encode(batch["speech"], batch["speech_lengths"])
        b, _ = plain.encode(batch["speech"], batch["speech_lengths"])
    torch.testing.assert_close(a, b)


def test_validation_reports_ctc_greedy_wer(model, batch):
    """In eval, the supervised forward adds wer_ctc (espnet2 gives CTC-only
    models cer_ctc alone); it scores the final encoder layer's argmax path."""
    model, _ = model
    model.train()
    assert "wer_ctc" not in model(**batch)[1]
    model.eval()
    with torch.no_grad():
        _, stats, weight = model(**batch)
        enc, enc_lens = model.encode(batch["speech"], batch["speech_lengths"])
        paths = model.ctc.argmax(enc)
    # the same path scored here with jiwer: repeats merged, blanks dropped, words compared
    def chars(ids):
        return "".join(TOKENS[i] for i in ids).replace("<space>", " ")

    hyps = [chars(i for i, _ in itertools.groupby(path[:n].tolist()) if i != 0)
            for path, n in zip(paths, enc_lens)]  # fmt: skip
    refs = [chars(i for i in ys.tolist() if i != -1) for ys in batch["text"]]
    expected = jiwer.process_words(refs, hyps)
    edits = expected.substitutions + expected.deletions + expected.insertions
    assert float(stats["wer_ctc"]) == pytest.approx(edits / sum(len(r.split()) for r in refs))
    assert "cer_ctc" in stats
    # espnet2's distributed stat averaging needs every stat in the same (gatherable) shape
    assert stats["wer_ctc"].shape == stats["loss_ctc"].shape == weight.shape


def test_masked_pass_runs_the_frontend_outside_float16_autocast(model, batch):
    """Under float16 autocast (AMP on a GPU without bfloat16) the masked pass
    computes its features in float32, as ESPnetASRModel.encode does. Input whose
    mel energies float16 cannot hold (a clip far above full scale) makes the
    float16 frontend's output non-finite; the masked pass's stays finite."""
    model, _ = model
    loud = batch["speech"] * 2000.0
    lengths = batch["speech_lengths"]
    with torch.autocast("cpu", dtype=torch.float16):
        half, _ = model.frontend(loud, lengths)
        assert half.dtype == torch.float16 and not torch.isfinite(half).all()
        masked = model._encode_masked(loud, lengths)
        loss, _, _ = model.forward_unsupervised(loud, lengths)
    assert masked.target_feats.dtype == torch.float32
    assert torch.isfinite(masked.target_feats).all() and torch.isfinite(loss)
