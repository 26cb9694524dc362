"""The FSDD recipe (real speech) through every stage, with a tiny split and budget.

The corpus is the shared FSDD copy (``FSDD=../shared/data/fsdd``, skipped where absent; the 8 kHz
originals that stage 3 resamples to 16 kHz); two speakers and one take per
digit per set keep it small. One run of stages 1-14 (asr.sh's numbers; the LM in 6-8), then the packed zip loaded
with ``Speech2Text.from_pretrained`` to transcribe a test wav, and a restart at
stage 12 that reuses the trained model; and a wrong corpus folder named, not downloaded over.
"""

import re
import subprocess

import pytest
import soundfile
import yaml

from conftest import copy_recipe, shared_dataset
from espnet_bljust.bin.score import read_text

TINY_TRAIN = (
    "--max_epoch 2 --num_iters_per_epoch 3 --exploration_len 1 --finetune_len 0 "
    "--encoder_conf num_blocks=1 --encoder_conf output_size=64 "
    "--encoder_conf linear_units=128 --use_tensorboard false"
)
SPLIT = "--labeled_takes 1 --unlabeled_takes 1 --dev_takes 1 --test_takes 1 --speakers george,theo"
MODEL = "valid.cer_ctc.ave"  # run.sh: the average of the n best dev checkpoints
DECODE = "decode"  # conf/decode.yaml
DECODE_LM = "decode_lm"  # conf/decode_lm.yaml: CTC + the LM of conf/train_lm.yaml
# decode dir names, as asr.sh's: the config's, then the fused LM's, then the model's
DECODE_DIRS = {DECODE: f"{DECODE}_{MODEL}",
               DECODE_LM: f"{DECODE_LM}_lm_train_lm_char_valid.loss.best_{MODEL}"}  # fmt: skip

def run_recipe(recipe, env, *args):
    cmd = [str(recipe / "run.sh"), "--asr_args", TINY_TRAIN, "--asr_tag", "tiny",
           "--local_data_opts", SPLIT, *args]  # fmt: skip
    return subprocess.run(cmd, cwd=recipe, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """A copy of egs2/fsdd/bljust1 run once through stages 1-14."""
    fsdd = shared_dataset("fsdd")
    recipe, env = copy_recipe("fsdd", tmp_path_factory.mktemp("fsdd"), FSDD=str(fsdd))
    done = run_recipe(recipe, env, "--inference_nj", "2")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return recipe, env, done


def test_every_stage_on_real_speech(full_run):
    recipe, _, done = full_run
    ran = sorted({int(n) for n in re.findall(r"\(bljust.sh\) stage (\d+):", done.stdout)})
    assert ran == list(range(1, 15))
    assert "stage 8: perplexity on test: " in done.stdout
    # 2 speakers x 10 digits x 1 take per set.
    for name in ("train_labeled", "train_unlabeled", "dev", "test"):
        ids = [line.split()[0] for line in (recipe / "data" / name / "wav.scp").read_text().splitlines()]
        assert len(ids) == 20, name
        assert {i.split("-")[0] for i in ids} == {"george", "theo"}
        dumped = (recipe / "dump" / "raw" / name / "wav.scp").read_text().splitlines()
        info = soundfile.info(dumped[0].split(maxsplit=1)[1])
        assert (info.samplerate, info.channels) == (16000, 1)  # 8 kHz originals resampled
    assert not (recipe / "data" / "train_unlabeled" / "text").exists()
    words = {w for line in (recipe / "data" / "train_labeled" / "text").read_text().splitlines()
             for w in line.split()[1:]}  # fmt: skip
    assert words <= {"ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"}
    exp = recipe / "exp" / "asr_tiny"
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["strategy"] == "bljust" and config["unlabeled_data_path_and_name_and_type"]
    for decode in (DECODE, DECODE_LM):
        hyps = (exp / DECODE_DIRS[decode] / "test" / "1best_recog" / "text").read_text()
        assert len(hyps.splitlines()) == 20
    results = (exp / "RESULTS.md").read_text()
    for decode in (DECODE, DECODE_LM):
        assert f"| {decode} | test | 20 |" in results and f"| {decode} | test | 20 |" in done.stdout
    # the LM: trained in stage 7 on the labeled transcripts only, fused by decode_lm alone
    lm_exp = recipe / "exp" / "lm_train_lm_char"
    assert (lm_exp / "valid.loss.best.pth").exists()
    lm_config = yaml.safe_load((lm_exp / "config.yaml").read_text())
    assert lm_config["train_data_path_and_name_and_type"][0][0] == "exp/lm_train_lm_char/data/train.txt"
    assert (lm_exp / "data" / "train.txt").read_text() == (
        recipe / "dump" / "raw" / "train_labeled" / "text").read_text()
    assert lm_config["token_list"] == config["token_list"]
    # the LM predicts test better than a uniform guess over its tokens
    assert isinstance(lm_config["token_list"], list)
    assert float((lm_exp / "perplexity_test" / "ppl").read_text()) < len(lm_config["token_list"])
    log = (exp / DECODE_DIRS[DECODE_LM] / "test" / "logdir" / "asr_inference.1.log").read_text()
    assert "lm_file" in log and "lm_train_lm_char/valid.loss.best.pth" in log
    log = (exp / DECODE_DIRS[DECODE] / "test" / "logdir" / "asr_inference.1.log").read_text()
    assert "lm_train_lm_char" not in log
    assert "- LM: `exp/lm_train_lm_char/valid.loss.best.pth`" in results
    card = (exp / "README.md").read_text()
    assert "token LM trained on the labeled transcripts only (`conf/train_lm.yaml`)" in card
    assert "packed model check: " in done.stdout


def test_packed_zip_loads_with_from_pretrained(full_run):
    recipe, _, _ = full_run
    from espnet2.bin.asr_inference import Speech2Text

    packed = recipe / "exp" / "asr_tiny" / f"asr_tiny_{MODEL}.zip"
    uid, path = (recipe / "dump" / "raw" / "test" / "wav.scp").read_text().split("\n")[0].split()
    speech, rate = soundfile.read(path)
    assert rate == 16000
    # The model zoo's downloader unpacks a local zip into its own cache; the zip holds the
    # LM too, so from_pretrained fuses it. The options of conf/decode.yaml and
    # conf/decode_lm.yaml: the zip transcribes as the recipe's stage 12 did.
    exp = recipe / "exp" / "asr_tiny"
    for decode in (DECODE, DECODE_LM):
        options = yaml.safe_load((recipe / "conf" / f"{decode}.yaml").read_text())
        del options["batch_size"]  # an option of asr_inference's loop, not of Speech2Text
        speech2text = Speech2Text.from_pretrained(str(packed), **options)
        # loaded from the zip; espnet's beam search drops a scorer of weight 0
        assert ("lm" in speech2text.beam_search.full_scorers) == (options["lm_weight"] > 0)
        text, tokens, *_ = speech2text(speech)[0]
        recog = read_text(exp / DECODE_DIRS[decode] / "test" / "1best_recog" / "text")
        assert text == recog[uid], decode
        assert "".join(tokens).replace("<space>", " ") == text


def test_restart_at_stage_12_reuses_training(full_run):
    recipe, env, _ = full_run
    exp = recipe / "exp" / "asr_tiny"
    ckpt = (exp / "checkpoint.pth").stat().st_mtime_ns
    hyp_file = exp / DECODE_DIRS[DECODE] / "test" / "1best_recog" / "text"
    old = hyp_file.read_text()
    again = run_recipe(recipe, env, "--stage", "12", "--stop-stage", "13")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    ran = sorted({int(n) for n in re.findall(r"\(bljust.sh\) stage (\d+):", again.stdout)})
    assert ran == [12, 13]
    assert (exp / "checkpoint.pth").stat().st_mtime_ns == ckpt
    assert hyp_file.read_text() == old


def test_a_folder_that_is_no_fsdd_root_is_named_not_downloaded_over(tmp_path):
    wrong = tmp_path / "not_fsdd"
    (wrong / "wav").mkdir(parents=True)
    recipe, env = copy_recipe("fsdd", tmp_path, FSDD=str(wrong))
    done = subprocess.run(["local/data.sh", "--python", "python"], cwd=recipe, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode != 0
    assert f"FSDD={wrong} holds neither recordings/ nor recordings_16k/" in done.stderr
    assert not (recipe / "downloads").exists() and not (recipe / "data").exists()
