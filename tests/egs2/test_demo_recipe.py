"""The demo recipe through asr.sh's stages, with a tiny corpus and budget.

The option checks first (no stage runs), then one run of stages 1-14 with speed
perturbation (15, the upload, is skipped by default), and on the same outputs:
the packed zip loaded in this process, a restart at stage 11 with the hyphen
form ``--stop-stage 13``, a sentencepiece token list (stage 5), a validation
failure (stage 1) and the upload's one-line failures (stage 15).
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile
import yaml

from conftest import REPO, copy_recipe
from espnet_bljust.bin.score import read_text

TINY_TRAIN = (
    "--max_epoch 1 --num_iters_per_epoch 3 --exploration_len 0 --finetune_len 0 "
    "--encoder_conf num_blocks=1 --encoder_conf output_size=64 "
    "--encoder_conf linear_units=128 --use_tensorboard false --normalize global_mvn"
)
# asr.sh's tag: the config's name, the token type, then the --asr_args with "--" as "_"
# and without blanks, "|", "=" and "/", then "_sp" (the runs here perturb the speed).
TAG = "train_char" + re.sub(r"[ |=/]", "", TINY_TRAIN.replace("--", "_")) + "_sp"
STATS = Path("exp") / "asr_stats_raw_char_sp" / "train" / "feats_stats.npz"
GREEDY = "decode_ctc_greedy"
MODEL = "valid.cer_ctc.best"
FACTORS = "0.9 1.0 1.1"
BLJUST_SH = REPO / "egs2" / "TEMPLATE" / "bljust1" / "bljust.sh"

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
    # the LM stages are the FSDD recipe test's; here CTC alone
    cmd = [str(recipe / "run.sh"), "--asr_args", TINY_TRAIN, "--use_lm", "false",
           "--inference_config", "conf/decode_ctc_greedy.yaml", *args]  # fmt: skip
    return subprocess.run(cmd, cwd=recipe, env=env, capture_output=True, text=True)


def one_line_error(done) -> str:
    """The failure's stderr, which must be one line."""
    assert done.returncode != 0, done.stdout[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_help_and_bad_options_fail_in_one_line(recipe):
    recipe, env = recipe
    shown = subprocess.run([str(recipe / "run.sh"), "--help"], cwd=recipe, env=env,
                           capture_output=True, text=True)  # fmt: skip
    assert shown.returncode == 0
    help_text = shown.stdout + shown.stderr
    # every option of bljust.sh's option block, with its default and meaning
    block = BLJUST_SH.read_text().split("# <options>")[1].split("# </options>")[0]
    names = re.findall(r"^([a-z_]+)=", block, flags=re.M)
    assert len(names) > 40
    for name in names:
        assert re.search(rf"^  --{name} +\S.* \(default: .+\)$", help_text, flags=re.M), name
    assert re.search(r"^  --stop_stage +last stage to run \(1-15; larger, e\.g\. asr\.sh's 10000: to "
                     r"the end\) \(default: 15\)$", help_text, flags=re.M)  # fmt: skip
    for name in ("asr_config", "asr_args", "asr_tag", "asr_exp", "train_set", "valid_set",
                 "test_sets", "inference_config", "inference_args", "inference_asr_model",
                 "lm_config", "use_lm", "token_type", "nbpe", "skip_data_prep", "skip_train",
                 "skip_eval", "skip_packing", "skip_upload_hf", "hf_repo", "ngpu", "num_nodes",
                 "nj", "inference_nj", "gpu_inference", "unlabeled_set", "strategy",
                 "speed_perturb_factors"):  # fmt: skip
        assert f"  --{name} " in help_text, name
    assert "Next steps" not in help_text  # the demo's summary is not printed for --help

    def run(*args):
        return subprocess.run([str(recipe / "run.sh"), *args], cwd=recipe, env=env,
                              capture_output=True, text=True)  # fmt: skip

    assert "invalid option --bogus" in one_line_error(run("--bogus", "1"))
    assert "--stage 16: no such stage (stages are 1-15" in one_line_error(run("--stage", "16"))
    assert "--stop_stage 0: no such stage" in one_line_error(run("--stop-stage", "0"))
    assert "--stage 6 is after --stop_stage 5" in one_line_error(
        run("--stage", "6", "--stop-stage", "5"))
    assert "--strategy bilevel: not one of" in one_line_error(run("--strategy", "bilevel"))
    # numbers, sets and asr.sh's format options, each named before anything runs
    for option, value, message in (
            ("--nj", "abc", "--nj abc: not a positive integer"),
            ("--inference_nj", "0", "--inference_nj 0: not a positive integer"),
            ("--num_nodes", "abc", "--num_nodes abc: not a positive integer"),
            ("--nbpe", "x", "--nbpe x: not a positive integer"),
            ("--ngpu", "abc", "--ngpu abc: not a number of GPUs"),
            ("--min_wav_duration", "abc", "--min_wav_duration abc: not a duration in seconds"),
            ("--max_wav_duration", "0.05", "--min_wav_duration 0.1 is above --max_wav_duration 0.05"),
            ("--test_sets", "", "--test_sets is empty"),
            ("--valid_set", " ", "--valid_set is empty"),
            ("--feats_type", "fbank_pitch", "--feats_type fbank_pitch: only raw"),
            ("--audio_format", "flac", "--audio_format flac: only wav")):  # fmt: skip
        assert message in one_line_error(run(option, value)), option
    assert "would share one decode dir" in one_line_error(run(
        "--inference_tag", "mine", "--inference_config",
        "conf/decode_ctc_greedy.yaml conf/decode_ctc_beam.yaml"))  # fmt: skip
    assert "expected \"true\" or \"false\": --use-lm maybe" in one_line_error(
        run("--use-lm", "maybe"))
    assert not (recipe / "data").exists()  # nothing ran
    # the hyphen and underscore forms alike; stage 9 alone says why it does nothing
    only9 = run("--stage", "9", "--stop-stage", "9")
    assert only9.returncode == 0, only9.stderr
    assert re.findall(r"stage (\d+):", only9.stdout) == ["9"]
    assert "stage 9: no n-gram LM: kenlm is not a dependency" in only9.stdout
    # asr.sh's --stop_stage 10000 (its default) runs to the last stage; asr.sh's
    # --feats_type raw and --audio_format wav are accepted (15 is skipped by default)
    last = run("--stage", "15", "--stop_stage", "10000", "--feats_type", "raw",
               "--audio_format", "wav")  # fmt: skip
    assert last.returncode == 0, last.stderr
    assert re.findall(r"stage (\d+):", last.stdout) == []


@pytest.fixture(scope="module")
def full_run(recipe):
    """Stages 1-14 once, with speed perturbation of the labeled set and 2 decoding jobs."""
    recipe_dir, env = recipe
    done = run_recipe(recipe_dir, env, "--speed_perturb_factors", FACTORS)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return recipe_dir, env, done


def lines(path: Path):
    return path.read_text().splitlines()


def test_stages_by_asr_sh_numbers(full_run):
    recipe, _, done = full_run
    ran = [int(n) for n in re.findall(r"\(bljust.sh\) stage (\d+):", done.stdout)]
    assert sorted(set(ran)) == list(range(1, 15)) and ran == sorted(ran)
    # 1: data prep, then the lists validated
    assert "validated: train_labeled train_unlabeled dev test" in done.stdout
    # 2: speed perturbation of the labeled set only: one copy per factor
    sp = recipe / "data" / "train_labeled_sp"
    ids = [x.split()[0] for x in lines(sp / "wav.scp")]
    orig = [x.split()[0] for x in lines(recipe / "data" / "train_labeled" / "wav.scp")]
    assert sorted(ids) == sorted(orig + [f"sp0.9-{u}" for u in orig] + [f"sp1.1-{u}" for u in orig])
    assert [x.split()[0] for x in lines(sp / "text")] == ids == [x.split()[0] for x in lines(sp / "utt2spk")]
    assert not (recipe / "data" / "train_unlabeled_sp").exists()
    # 3: formatted; the perturbed copies are shorter / longer by the factor
    dur = dict(x.split() for x in lines(recipe / "dump" / "raw" / "org" / "train_labeled_sp" / "utt2dur"))
    u = orig[0]
    assert float(dur[f"sp0.9-{u}"]) == pytest.approx(float(dur[u]) / 0.9, rel=0.01)
    assert float(dur[f"sp1.1-{u}"]) == pytest.approx(float(dur[u]) / 1.1, rel=0.01)
    # 4: within the duration limits, in dump/raw/<set>; test sets straight from stage 3
    for name, count in (("train_labeled_sp", 72), ("train_unlabeled", 24), ("dev", 12), ("test", 8)):
        dumped = lines(recipe / "dump" / "raw" / name / "wav.scp")
        assert len(dumped) == count, name
        info = soundfile.info(dumped[0].split(maxsplit=1)[1])
        assert (info.samplerate, info.subtype, info.channels) == (16000, "PCM_16", 1)
    assert "stage 4: dump/raw/train_labeled_sp: 72 of 72 utterances" in done.stdout
    assert "validated: train_labeled_sp train_unlabeled dev test" in done.stdout
    assert not (recipe / "dump" / "raw" / "train_unlabeled" / "text").exists()
    # 5: espnet2's tokenize_text token list of the labeled text, and text shapes
    tokens = lines(recipe / "data" / "token_list" / "char" / "tokens.txt")
    # espnet2.bin.tokenize_text orders the characters by frequency in the labeled text
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    assert "<space>" in tokens
    text = recipe / "dump" / "raw" / "train_labeled_sp" / "text"
    assert {c for x in lines(text) for c in x.split(maxsplit=1)[1] if c != " "} == set(tokens[2:-1]) - {"<space>"}
    shape = dict(x.split() for x in lines(text.parent / "text_shape.char"))
    first = lines(text)[0].split(maxsplit=1)
    assert shape[first[0]] == f"{len(first[1])},{len(tokens)}"
    # 6-9: no LM here, each says so in one line
    for n in (6, 7, 8):
        assert f"stage {n}: no LM (--use_lm false): no " in done.stdout
    assert "stage 9: no n-gram LM" in done.stdout
    # 10: statistics over both streams (global_mvn), used by the training (11)
    stats = recipe / STATS  # "_sp": statistics of the perturbed set
    assert stats.exists()
    exp = recipe / "exp" / f"asr_{TAG}"  # the tag derived as asr.sh derives it
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["normalize_conf"]["stats_file"] == str(STATS)
    assert config["train_data_path_and_name_and_type"][0][0] == "dump/raw/train_labeled_sp/wav.scp"
    assert config["frontend_conf"]["fs"] == 16000
    # 12: two decoding jobs, merged and sorted; 13: scored
    dec = exp / f"{GREEDY}_{MODEL}" / "test"
    assert (dec / "logdir" / "asr_inference.2.log").exists()
    hyps = lines(dec / "1best_recog" / "text")
    assert len(hyps) == 8 and hyps == sorted(hyps)
    results = (exp / "RESULTS.md").read_text()
    assert f"| {GREEDY} | test | 8 |" in results and f"| {GREEDY} | test | 8 |" in done.stdout
    assert "--asr_config conf/train.yaml" in results  # the exact command
    # 14: model card, zip, loaded back
    card = (exp / "README.md").read_text()
    assert "arXiv:2412.08548" in card and f"| {GREEDY} | test | 8 |" in card
    assert "packed model check: " in done.stdout
    # the demo's summary: reference/hypothesis pairs and the next steps
    assert done.stdout.count("    REF: ") == 4 and done.stdout.count("    HYP:") == 4
    assert f"asr_{TAG}_{MODEL}.zip" in done.stdout and "Speech2Text.from_pretrained(" in done.stdout
    assert "cd ../../fsdd/bljust1" in done.stdout


def test_packed_zip_loads_and_transcribes(full_run, tmp_path):
    recipe, _, _ = full_run
    from espnet2.bin.asr_inference import Speech2Text
    from espnet_model_zoo.downloader import ModelDownloader

    packed = recipe / "exp" / f"asr_{TAG}" / f"asr_{TAG}_{MODEL}.zip"
    # What Speech2Text.from_pretrained(<zip>) does, with a cache dir of our own.
    files = ModelDownloader(cachedir=tmp_path / "zoo").download_and_unpack(str(packed))
    config = yaml.safe_load(Path(files["asr_train_config"]).read_text())
    stats = Path(config["normalize_conf"]["stats_file"])
    assert stats.is_absolute() and stats.exists()  # the stats file travels in the zip
    speech2text = Speech2Text(**files, ctc_weight=1.0, lm_weight=0.0, beam_size=1)
    uid, path = lines(recipe / "dump" / "raw" / "test" / "wav.scp")[0].split()
    speech, rate = soundfile.read(path)
    text, tokens, *_ = speech2text(speech)[0]
    assert rate == 16000
    # the zip decodes as stage 12 did with conf/decode_ctc_greedy.yaml (the same options)
    recog = read_text(recipe / "exp" / f"asr_{TAG}" / f"{GREEDY}_{MODEL}" / "test" / "1best_recog" / "text")
    assert text == recog[uid]
    assert "".join(tokens).replace("<space>", " ") == text


def test_restart_at_stage_11_to_13_reuses_the_trained_model(full_run):
    recipe, env, _ = full_run
    exp = recipe / "exp" / f"asr_{TAG}"
    model = (exp / f"{MODEL}.pth").resolve()
    model_time = model.stat().st_mtime_ns
    stats = (recipe / STATS).stat()
    hyp_file = exp / f"{GREEDY}_{MODEL}" / "test" / "1best_recog" / "text"
    old_hyps = hyp_file.read_text()
    again = run_recipe(recipe, env, "--stage", "11", "--stop-stage", "13",
                       "--speed_perturb_factors", FACTORS, "--inference_nj", "1")  # fmt: skip
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    ran = sorted({int(n) for n in re.findall(r"\(bljust.sh\) stage (\d+):", again.stdout)})
    assert ran == [11, 12, 13]
    assert "stage 12: decoding test" in again.stdout and "stage 13: scoring" in again.stdout
    assert model.stat().st_mtime_ns == model_time  # resumed at its last epoch: not retrained
    assert (recipe / STATS).stat() == stats
    assert hyp_file.read_text() == old_hyps  # same model, same greedy output
    assert "Next steps:" in again.stdout and "    REF: " in again.stdout


def test_decode_dir_names_the_inference_args(full_run):
    recipe, env, _ = full_run
    exp = recipe / "exp" / f"asr_{TAG}"
    done = run_recipe(recipe, env, "--stage", "12", "--stop_stage", "12", "--speed_perturb_factors",
                      FACTORS, "--inference_args", "--beam_size 2", "--inference_nj", "1")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # as asr.sh: the options are in the name, so the earlier decode is not overwritten
    beam2 = exp / f"{GREEDY}_beam_size2_{MODEL}" / "test" / "1best_recog" / "text"
    assert len(lines(beam2)) == 8
    assert len(lines(exp / f"{GREEDY}_{MODEL}" / "test" / "1best_recog" / "text")) == 8
    tagged = run_recipe(recipe, env, "--stage", "12", "--stop_stage", "12", "--speed_perturb_factors",
                        FACTORS, "--inference_tag", "mine", "--inference_nj", "1")  # fmt: skip
    assert tagged.returncode == 0, tagged.stdout[-3000:] + tagged.stderr[-3000:]
    assert len(lines(exp / "mine" / "test" / "1best_recog" / "text")) == 8


def test_valid_set_decoded_as_a_test_set_is_filtered_like_training(full_run, tmp_path):
    recipe, env, _ = full_run
    copy = tmp_path / "copy"
    shutil.copytree(recipe, copy, symlinks=True, ignore=shutil.ignore_patterns("exp", "dump", "downloads"))
    done = run_recipe(copy, env, "--stage", "3", "--stop_stage", "4", "--speed_perturb_factors",
                      FACTORS, "--test_sets", "test dev test")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # dev is the valid set: formatted into org/ once, then filtered into dump/raw/dev;
    # a set listed twice is one set
    assert done.stdout.count("stage 3: formatting data/dev") == 1
    assert done.stdout.count("stage 3: formatting data/test") == 1
    assert len(lines(copy / "dump" / "raw" / "org" / "dev" / "wav.scp")) == 12
    assert len(lines(copy / "dump" / "raw" / "dev" / "wav.scp")) == 12
    assert not (copy / "dump" / "raw" / "org" / "test").exists()
    assert "validated: train_labeled_sp train_unlabeled dev test" in done.stdout


def test_bpe_token_stage(full_run):
    recipe, env, _ = full_run
    done = run_recipe(recipe, env, "--stage", "5", "--stop_stage", "5", "--speed_perturb_factors",
                      FACTORS, "--token_type", "bpe", "--nbpe", "40")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    token_dir = recipe / "data" / "token_list" / "bpe_unigram40"
    tokens = lines(token_dir / "tokens.txt")
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(token_dir / "bpe.model"))
    assert sp.get_piece_size() == 40
    text = recipe / "dump" / "raw" / "train_labeled_sp" / "text"
    used = {p for x in lines(text) for p in sp.encode(x.split(maxsplit=1)[1], out_type=str)}
    assert used == set(tokens[2:-1])  # the pieces of the labeled text, nothing else
    shape = dict(x.split() for x in lines(text.parent / "text_shape.bpe_unigram40"))
    first = lines(text)[0].split(maxsplit=1)
    assert shape[first[0]] == f"{len(sp.encode(first[1]))},{len(tokens)}"
    assert (text.parent / "text_shape.char").exists()


def test_validation_stops_the_pipeline_and_upload_fails_in_one_line(full_run, tmp_path):
    recipe, env, _ = full_run
    bad = tmp_path / "bad"
    shutil.copytree(recipe, bad, symlinks=True, ignore=shutil.ignore_patterns("exp", "dump", "downloads"))
    text = bad / "data" / "train_labeled" / "text"
    old = lines(text)
    text.write_text("\n".join([old[0].split()[0]] + old[1:]) + "\n")  # empty transcript
    done = run_recipe(bad, env, "--stage", "1", "--stop_stage", "5")
    assert done.returncode != 0
    assert "validation of train_labeled failed" in done.stderr
    assert old[0].split()[0] in done.stderr  # the problem line itself is shown
    assert "stage 2" not in done.stdout and not (bad / "dump").exists()

    def upload(extra_env):
        return run_recipe(recipe, dict(env, **extra_env), "--stage", "15", "--speed_perturb_factors",
                          FACTORS, "--skip_upload_hf", "false", "--hf_repo", "nobody/bljust-demo-test")  # fmt: skip

    no_hub = one_line_error(upload({"HF_HUB_OFFLINE": "1"}))
    assert "stage 15: HF_HUB_OFFLINE is set: not uploading" in no_hub
    hf = recipe / "exp" / f"hf_asr_{TAG}_{MODEL}"
    assert f"the repo folder is ready in exp/hf_asr_{TAG}_{MODEL}" in no_hub
    assert (hf / "README.md").exists() and (hf / "meta.yaml").exists()
    no_token = one_line_error(upload({"HF_HOME": str(tmp_path / "hf_home")}))
    assert "stage 15: no Hugging Face token" in no_token
