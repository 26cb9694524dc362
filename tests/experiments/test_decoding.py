"""Checkpoints a run decodes, and decoding itself."""

import pytest
import soundfile

from espnet_bljust.experiments.argv import DEFAULT_CONFIG, REPO

from espnet_bljust.experiments.decoding import averaged_checkpoint


def test_averaged_checkpoint_prefers_the_asked_n(tmp_path):
    with pytest.raises(FileNotFoundError, match="--keep_nbest_models 5"):
        averaged_checkpoint(tmp_path, 5)
    for n in (1, 2, 10):
        (tmp_path / f"valid.cer_ctc.ave_{n}best.pth").write_bytes(b"")
    # as espnet2 leaves it: ave.pth links to the largest average it made
    (tmp_path / "valid.cer_ctc.ave.pth").symlink_to("valid.cer_ctc.ave_10best.pth")
    assert averaged_checkpoint(tmp_path, 2).name == "valid.cer_ctc.ave_2best.pth"
    # no ave_5best made: the largest average espnet2 made instead
    assert averaged_checkpoint(tmp_path, 5).name == "valid.cer_ctc.ave_10best.pth"


SMALL_MODEL = ["--encoder_conf", "num_blocks=1", "--encoder_conf", "output_size=64",
               "--encoder_conf", "linear_units=128", "--encoder_conf", "attention_heads=2",
               "--batch_size", "8", "--scheduler_conf", "warmup_steps=5"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(fsdd_root, tmp_path_factory):
    """A tiny model trained 60 supervised ticks on FSDD, and a 2-epoch char LM."""
    from espnet_bljust.experiments.argv import phase_argv, train_argv
    from espnet_bljust.experiments.runs import run_child
    from espnet_bljust.experiments.splits import prepare_fsdd
    from espnet_bljust.recipe.text_lm import train_text_lm

    tmp = tmp_path_factory.mktemp("decode")
    data = prepare_fsdd(fsdd_root, tmp / "data", 2, 0, 1, 1, speakers=["george", "theo"])
    exp = tmp / "exp"
    argv = train_argv(data, exp, DEFAULT_CONFIG, "--max_epoch",
                      "1", "--num_iters_per_epoch", "60", *phase_argv("supervised", 0, 0),
                      *SMALL_MODEL, unlabeled=None)  # fmt: skip
    result = run_child("espnet_bljust.bin.bljust_train:main", dict(cmd=argv), tmp / "train.log")
    assert result["ok"], (tmp / "train.log").read_text()[-2000:]
    lm = train_text_lm(str(data / "train_labeled" / "text"), str(data / "dev" / "text"),
                       str(data / "tokens.txt"), str(tmp / "lm"),
                       str(REPO / "egs2" / "fsdd" / "bljust1" / "conf" / "train_lm.yaml"),
                       extra=["--max_epoch", "2"])  # fmt: skip
    return exp, data, lm


def test_encode_once_sharded_decoding_equals_one_by_one(tiny_run, tmp_path):
    """Every FSDD test utterance (20), CTC alone and CTC + LM at two weights:
    encoding once per utterance, in 2 shards, gives Speech2Text's one-call-
    per-utterance hypotheses exactly."""
    from espnet_bljust.experiments.decoding import decode_ctc, decode_weights_sharded, read_text

    exp, data, lm = tiny_run
    model = exp / "latest.pth"
    weights = [0.0, 0.5, 4.0]
    fast = decode_weights_sharded(exp, model, data / "test", weights, beam_size=4, lm=lm, nj=2,
                                  log_dir=tmp_path)  # fmt: skip
    for w in weights:
        decode_ctc(exp, model, data / "test", tmp_path / f"{w:g}" / "text", 4, lm, w)
        slow = read_text(tmp_path / f"{w:g}" / "text")
        assert len(slow) == 20 and fast["hyps"][f"{w:g}"] == slow, w
    texts = [h for hyps in fast["hyps"].values() for h in hyps.values()]
    assert sum(bool(t) for t in texts) > len(texts) // 2  # the model writes something
    # both shards' audio, every test utterance once
    durations = [soundfile.info(line.split(maxsplit=1)[1]).duration
                 for line in (data / "test" / "wav.scp").read_text().splitlines()]  # fmt: skip
    assert len(durations) == 20 and fast["audio_s"] == pytest.approx(sum(durations))
