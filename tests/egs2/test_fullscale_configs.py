"""Dry run of every full-scale recipe config (librispeech_100, tedlium2, swbd).

Each train config is parsed by BLJUSTTask exactly as bljust.sh passes it (plus a
small sentencepiece token list and global_mvn stats), its options and phase plan
are checked, the model is built unchanged (12 x 256 encoders, full decoders) and
each level takes one forward and backward pass on a CPU batch of two real
LibriSpeech utterances (2.1 s and 3.0 s) with their transcripts: supervised f,
unsupervised g, and the joint f + gamma * g.
Configs whose model sections are identical (the same conformer CTC/attention in
the three recipes, ...) build the same model: it is built and stepped once per
group, with every member's parsed model options checked equal. The decode
configs are parsed by espnet2's asr_inference parser.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from espnet2.asr.frontend.default import DefaultFrontend

from conftest import REPO, asr_batch, shared_dataset
from espnet_bljust.tasks.bljust import BLJUSTTask
from espnet_bljust.train.bljust_trainer import BLJUSTTrainer, build_phase_plan
from espnet_bljust.data.kaldi_lists import bpe_token_list, bpe_tokenizer, train_bpe
from espnet_bljust.evaluation.stats import read_kaldi_text

RECIPES = ("librispeech_100", "tedlium2", "swbd")
TRAIN_CONFIGS = sorted(
    p for r in RECIPES for p in (REPO / "egs2" / r / "bljust1" / "conf").glob("train_*.yaml")
)
DECODE_CONFIGS = sorted(
    p for r in RECIPES for p in (REPO / "egs2" / r / "bljust1" / "conf").glob("decode_*.yaml")
)
# The options that define the model (the others: data, batching, optimization).
MODEL_KEYS = ("frontend", "frontend_conf", "specaug", "specaug_conf", "normalize",
              "normalize_conf", "preencoder", "preencoder_conf", "encoder", "encoder_conf",
              "postencoder", "postencoder_conf", "decoder", "decoder_conf", "ctc_conf",
              "model", "model_conf", "unsup_loss", "unsup_loss_conf", "input_size")  # fmt: skip


def model_groups():
    """Train configs grouped by their model sections (each group builds one model)."""
    groups = {}
    for path in TRAIN_CONFIGS:
        conf = yaml.safe_load(path.read_text())
        key = json.dumps({k: conf.get(k) for k in MODEL_KEYS}, sort_keys=True)
        groups.setdefault(key, []).append(path)
    return list(groups.values())


# Two real LibriSpeech utterances (../shared/data/librispeech_samples), 2.1 s and 3.0 s.
UTTERANCES = ("1089-134691-0000", "61-70968-0002")
# More text for the sentencepiece model: other samples' transcripts, lower case and
# conversational words as the TED-LIUM and Switchboard lists have them.
SENTENCES = [
    "HE HOPED THERE WOULD BE STEW FOR DINNER",
    "STUFF IT INTO YOU HIS BELLY COUNSELLED HIM",
    "a golden fortune and a happy life",
    "give not so earnest a mind to these mummeries child",
    "he could wait no longer uh-huh yeah it's",
]


def conf_id(path: Path) -> str:
    return f"{path.parts[-4]}/{path.stem}"


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """Two real utterances as a batch, a sentencepiece model and token list that
    cover their transcripts, and global_mvn stats of their fbank features."""
    samples = shared_dataset("librispeech_samples")
    wav, text = read_kaldi_text(samples / "wav.scp"), read_kaldi_text(samples / "text")

    d = tmp_path_factory.mktemp("fullscale")
    sentences = [text[u] for u in UTTERANCES] + SENTENCES
    (d / "text").write_text("".join(f"utt{i} {s}\n" for i, s in enumerate(sentences)))
    bpemodel = train_bpe(d / "text", d / "bpe.model", nbpe=60, bpemode="unigram")
    tokens = bpe_token_list(bpemodel)
    (d / "tokens.txt").write_text("".join(t + "\n" for t in tokens))
    pieces = bpe_tokenizer(bpemodel)
    batch = asr_batch([samples / wav[u] for u in UTTERANCES],
                      [[tokens.index(p) for p in pieces(text[u])] for u in UTTERANCES])  # fmt: skip

    # the configs' frontend (80 mel bins, 25 ms windows, 10 ms hop)
    frontend = DefaultFrontend(fs=16000, n_fft=512, win_length=400, hop_length=160, n_mels=80)
    with torch.no_grad():
        feats, feats_lengths = frontend(batch["speech"], batch["speech_lengths"])
    frames = torch.cat([f[:n] for f, n in zip(feats, feats_lengths)]).double()
    stats = d / "feats_stats.npz"
    np.savez(stats, count=np.array(len(frames)), sum=frames.sum(0).numpy(),
             sum_square=(frames**2).sum(0).numpy())  # fmt: skip
    return dict(bpemodel=bpemodel, tokens=d / "tokens.txt", stats=stats, size=len(tokens),
                batch=batch)  # fmt: skip


def parse(config: Path, assets) -> object:
    # What bljust.sh's stage 11 adds to the config (data lists aside).
    return BLJUSTTask.get_parser().parse_args([
        "--config", str(config),
        "--token_list", str(assets["tokens"]), "--token_type", "bpe",
        "--bpemodel", str(assets["bpemodel"]),
        "--frontend_conf", "fs=16000",
        "--normalize", "global_mvn", "--normalize_conf", f"stats_file={assets['stats']}",
        "--output_dir", "unused",
    ])  # fmt: skip


def grads_of(model, params):
    return [p.grad for p in params if p.grad is not None]


def check_options(config: Path, args) -> None:
    assert args.use_amp and args.normalize == "global_mvn" and args.batch_type == "numel"
    assert (args.strategy, args.phase_unit, args.lower_steps_per_upper) == ("bljust", "epoch", 1)
    assert (args.gamma_init, args.gamma_max, args.gamma_shape) == (0.1, 1.0, "linear")
    assert args.gamma_ramp_steps <= 0  # the ramp spans the joint phase
    assert args.lower_optim == "adam" and args.lower_scheduler == "warmuplr"
    assert args.encoder_conf["num_blocks"] == 12 and args.encoder_conf["output_size"] == 256
    assert args.encoder_conf["input_layer"] == "conv2d"
    plan = build_phase_plan(BLJUSTTrainer.build_options(args))
    assert plan.exploration_len > 0 and plan.finetune_len > 0
    assert plan.joint_len == args.max_epoch - args.exploration_len - args.finetune_len > 0
    attention = args.decoder == "transformer"
    assert args.model_conf["ctc_weight"] == (0.3 if attention else 1.0)
    if attention:
        assert args.decoder_conf["num_blocks"] == 6
    criterion = ["valid", "acc", "max"] if attention else ["valid", "cer_ctc", "min"]
    assert args.best_model_criterion == [criterion], config


@pytest.mark.parametrize(
    "group", model_groups(), ids=lambda g: "+".join(conf_id(p) for p in g)
)
def test_config_builds_and_each_level_steps(group, assets):
    parsed = [parse(config, assets) for config in group]
    for config, args in zip(group, parsed):
        check_options(config, args)
        assert {k: getattr(args, k) for k in MODEL_KEYS} == {
            k: getattr(parsed[0], k) for k in MODEL_KEYS}
    args = parsed[0]

    torch.manual_seed(0)
    model = BLJUSTTask.build_model(args)
    attention = args.decoder == "transformer"
    assert (model.decoder is not None) == attention
    assert model.unsup_loss.stride == 4
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{'+'.join(conf_id(p) for p in group)}: {n_params / 1e6:.2f} M parameters "
          f"(vocabulary {assets['size']})")  # fmt: skip
    assert 20e6 < n_params < 60e6
    upper, lower = BLJUSTTask.build_optimizers(args, model)
    assert {id(p) for g in lower.param_groups for p in g["params"]} < {
        id(p) for g in upper.param_groups for p in g["params"]}
    shared = [p for p in model.parameter_groups()["shared"] if p.requires_grad]
    batch = assets["batch"]
    model.train()

    # Supervised level f (an upper / fine-tune step).
    loss, stats, _ = model(**batch)
    assert torch.isfinite(loss) and "loss_ctc" in stats
    assert (stats.get("loss_att") is not None) == attention
    loss.backward()
    assert len(grads_of(model, shared)) == len(shared)
    assert all(torch.isfinite(g).all() for g in grads_of(model, shared))

    # Unsupervised level g (a lower / exploration step).
    model.zero_grad()
    loss_g, stats_g, _ = model(batch["speech"], batch["speech_lengths"], objective="unsupervised")
    assert torch.isfinite(loss_g) and "loss_unsup" in stats_g
    loss_g.backward()
    assert len(grads_of(model, shared)) > 0

    # Joint upper step f + gamma * g; the configs' penalty: g on an unlabeled batch.
    assert args.upper_unsup_source == "unlabeled"
    model.zero_grad()
    unlabeled = dict(unlabeled_speech=batch["speech"].flip(0),
                     unlabeled_speech_lengths=batch["speech_lengths"].flip(0))  # fmt: skip
    (f, g), _, _ = model(**batch, objective="joint", unsup_source="unlabeled", **unlabeled)
    assert torch.isfinite(f) and torch.isfinite(g)
    (f + 0.5 * g).backward()
    assert len(grads_of(model, shared)) == len(shared)
    assert all(torch.isfinite(gr).all() for gr in grads_of(model, shared))


@pytest.mark.parametrize("config", DECODE_CONFIGS, ids=conf_id)
def test_decode_config_is_asr_inference_options(config):
    from espnet2.bin.asr_inference import get_parser

    args = get_parser().parse_args([
        "--config", str(config), "--output_dir", "unused",
        "--data_path_and_name_and_type", "wav.scp,speech,sound",
    ])  # fmt: skip
    assert args.lm_weight == 0.0 and args.batch_size == 1
    assert args.ctc_weight == (1.0 if config.stem == "decode_ctc" else 0.3)


def test_every_recipe_has_its_configs():
    for recipe in RECIPES:
        names = {p.name for p in TRAIN_CONFIGS + DECODE_CONFIGS if p.parts[-4] == recipe}
        assert {"train_bljust_conformer_ctc_att.yaml", "train_bljust_conformer_ctc.yaml",
                "train_bljust_ebranchformer_ctc_att.yaml", "decode_ctc_att.yaml",
                "decode_ctc.yaml"} <= names, recipe  # fmt: skip
