"""The demo recipe through every stage, with a tiny corpus and budget.

One run of stages 1-9 (10, the upload, is skipped by default), then on the same
outputs: the packed zip loaded in this process and a wav transcribed, a restart
at the decoding stage that reuses the trained model, a sentencepiece token
stage, a validation failure and an offline upload.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile
import yaml

from conftest import copy_recipe

TINY_TRAIN = (
    "--max_epoch 1 --num_iters_per_epoch 3 --exploration_len 0 --finetune_len 0 "
    "--encoder_conf num_blocks=1 --encoder_conf output_size=64 "
    "--encoder_conf linear_units=128 --use_tensorboard false --normalize global_mvn"
)
GREEDY = "decode_ctc_greedy"
MODEL = "valid.cer_ctc.best"

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are needed to synthesize the demo corpus "
    "(make test installs them where apt-get works)",
)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """A copy of egs2/demo/bljust1 (links resolved) and the environment to run it."""
    return copy_recipe("demo", tmp_path_factory.mktemp("demo"), DEMO_NUM_LABELED="24",
                       DEMO_NUM_UNLABELED="24", DEMO_NUM_DEV="12", DEMO_NUM_TEST="8")  # fmt: skip


def run_recipe(recipe, env, *args):
    cmd = [str(recipe / "run.sh"), "--train_args", TINY_TRAIN,
           "--inference_config", "conf/decode_ctc_greedy.yaml", *args]  # fmt: skip
    return subprocess.run(cmd, cwd=recipe, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def full_run(recipe):
    """Stages 1-9 once, with 2 decoding jobs."""
    recipe_dir, env = recipe
    done = run_recipe(recipe_dir, env, "--inference_nj", "2")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return recipe_dir, env, done


def test_every_stage_runs_and_writes_its_outputs(full_run):
    recipe, _, done = full_run
    for stage in range(1, 10):
        assert f"stage {stage}:" in done.stdout, stage
    assert "stage 10" not in done.stdout  # --skip_upload_hf true by default
    for name, count in (("train_labeled", 24), ("train_unlabeled", 24), ("test", 8)):
        assert len((recipe / "data" / name / "wav.scp").read_text().splitlines()) == count
        dumped = (recipe / "dump" / "raw" / name / "wav.scp").read_text().splitlines()
        assert len(dumped) == count
        info = soundfile.info(dumped[0].split(maxsplit=1)[1])
        assert (info.samplerate, info.subtype, info.channels) == (16000, "PCM_16", 1)
    assert not (recipe / "dump" / "raw" / "train_unlabeled" / "text").exists()
    assert "validated: train_labeled train_unlabeled dev test" in done.stdout
    # Statistics over both streams, used by the training.
    stats = recipe / "exp" / "asr_stats_raw_char" / "train" / "feats_stats.npz"
    assert stats.exists()
    exp = recipe / "exp" / "asr_bljust"
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["normalize"] == "global_mvn"
    assert config["normalize_conf"]["stats_file"] == "exp/asr_stats_raw_char/train/feats_stats.npz"
    assert config["frontend_conf"]["fs"] == 16000
    # Two decoding jobs, merged and sorted.
    dec = exp / f"{GREEDY}_{MODEL}" / "test"
    assert (dec / "logdir" / "asr_inference.2.log").exists()
    hyps = (dec / "1best_recog" / "text").read_text().splitlines()
    assert len(hyps) == 8 and hyps == sorted(hyps)
    assert len((dec / "1best_recog" / "score").read_text().splitlines()) == 8
    results = (exp / "RESULTS.md").read_text()
    assert "| decoding | test set | utts | WER (%) | CER (%) |" in results
    assert f"| {GREEDY} | test | 8 |" in results and f"| {GREEDY} | test | 8 |" in done.stdout
    assert "--train_config conf/train.yaml" in results  # the exact command
    card = (exp / "README.md").read_text()
    assert "arXiv:2412.08548" in card and f"| {GREEDY} | test | 8 |" in card
    assert "packed model check: " in done.stdout


def test_packed_zip_loads_and_transcribes(full_run, tmp_path):
    recipe, _, _ = full_run
    from espnet2.bin.asr_inference import Speech2Text
    from espnet_model_zoo.downloader import ModelDownloader

    packed = recipe / "exp" / "asr_bljust" / f"asr_bljust_{MODEL}.zip"
    # What Speech2Text.from_pretrained(<zip>) does, with a cache dir of our own.
    files = ModelDownloader(cachedir=tmp_path / "zoo").download_and_unpack(str(packed))
    config = yaml.safe_load(Path(files["asr_train_config"]).read_text())
    stats = Path(config["normalize_conf"]["stats_file"])
    assert stats.is_absolute() and stats.exists()  # the stats file travels in the zip
    speech2text = Speech2Text(**files, ctc_weight=1.0, lm_weight=0.0, beam_size=1)
    uid, path = (recipe / "dump" / "raw" / "test" / "wav.scp").read_text().split("\n")[0].split()
    speech, rate = soundfile.read(path)
    text, tokens, *_ = speech2text(speech)[0]
    assert rate == 16000 and isinstance(text, str) and isinstance(tokens, list)


def test_restart_at_decoding_reuses_the_trained_model(full_run):
    recipe, env, _ = full_run
    exp = recipe / "exp" / "asr_bljust"
    ckpt = (exp / "checkpoint.pth").stat().st_mtime_ns
    stats = (recipe / "exp" / "asr_stats_raw_char" / "train" / "feats_stats.npz").stat()
    hyp_file = exp / f"{GREEDY}_{MODEL}" / "test" / "1best_recog" / "text"
    old_hyps = hyp_file.read_text()
    again = run_recipe(recipe, env, "--stage", "7", "--stop_stage", "8", "--inference_nj", "1")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "stage 6" not in again.stdout and "stage 5" not in again.stdout
    assert "stage 7: decoding test" in again.stdout and "stage 8: scoring" in again.stdout
    assert (exp / "checkpoint.pth").stat().st_mtime_ns == ckpt
    assert (recipe / "exp" / "asr_stats_raw_char" / "train" / "feats_stats.npz").stat() == stats
    assert hyp_file.read_text() == old_hyps  # same model, same greedy output
    assert f"| {GREEDY} | test | 8 |" in (exp / "RESULTS.md").read_text()


def test_bpe_token_stage(full_run):
    recipe, env, _ = full_run
    done = run_recipe(recipe, env, "--stage", "4", "--stop_stage", "4",
                      "--token_type", "bpe", "--nbpe", "40")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    tokens = (recipe / "data" / "token_list" / "bpe_unigram40" / "tokens.txt").read_text().split()
    assert len(tokens) == 40 and tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    assert (recipe / "data" / "token_list" / "bpe_unigram40" / "bpe.model").exists()
    shape = recipe / "dump" / "raw" / "train_labeled" / "text_shape.bpe_unigram40"
    assert shape.read_text().splitlines()[0].endswith(",40")
    assert (recipe / "dump" / "raw" / "train_labeled" / "text_shape.char").exists()


def test_validation_stops_the_pipeline_and_upload_fails_cleanly(full_run, tmp_path):
    recipe, env, _ = full_run
    bad = tmp_path / "bad"
    shutil.copytree(recipe, bad, symlinks=True, ignore=shutil.ignore_patterns("exp", "dump", "downloads"))
    text = bad / "data" / "train_labeled" / "text"
    lines = text.read_text().splitlines()
    text.write_text("\n".join([lines[0].split()[0]] + lines[1:]) + "\n")  # empty transcript
    done = run_recipe(bad, env, "--stage", "2", "--stop_stage", "6")
    assert done.returncode != 0
    assert "validation of train_labeled failed" in done.stderr
    assert lines[0].split()[0] in done.stderr  # the problem line itself is shown
    assert "stage 3" not in done.stdout and not (bad / "dump").exists()

    up = run_recipe(recipe, env, "--stage", "10", "--skip_upload_hf", "false",
                    "--hf_repo", "nobody/bljust-demo-test")  # fmt: skip
    assert up.returncode != 0 and "stage 10: upload failed" in up.stderr
    assert "Traceback" not in up.stdout + up.stderr
    hf = recipe / "exp" / f"hf_asr_bljust_{MODEL}"
    assert (hf / "README.md").exists() and (hf / "meta.yaml").exists()

    offline = run_recipe(recipe, dict(env, HF_HUB_OFFLINE="1"), "--stage", "10",
                         "--skip_upload_hf", "false", "--hf_repo", "nobody/bljust-demo-test")  # fmt: skip
    assert offline.returncode == 0, offline.stdout[-3000:] + offline.stderr[-3000:]
    assert "stage 10: push skipped: model_card push: HF_HUB_OFFLINE is set" in offline.stdout
    assert "push it later with: " in offline.stdout and (hf / "meta.yaml").exists()
