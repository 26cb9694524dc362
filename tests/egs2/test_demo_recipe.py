"""The demo recipe through every stage it has, with a tiny corpus and budget."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

TINY_TRAIN = (
    "--max_epoch 2 --num_iters_per_epoch 3 --exploration_len 1 --finetune_len 0 "
    "--encoder_conf num_blocks=1 --encoder_conf output_size=64 "
    "--encoder_conf linear_units=128"
)


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are needed to synthesize the demo corpus "
    "(make test installs them where apt-get works)",
)
def test_demo_recipe_end_to_end_and_stage_restart(tmp_path):
    recipe = tmp_path / "bljust1"
    shutil.copytree(
        REPO / "egs2" / "demo" / "bljust1",
        recipe,
        symlinks=False,
        ignore=shutil.ignore_patterns("data", "exp", "downloads", "dump"),
    )
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.update(DEMO_NUM_LABELED="24", DEMO_NUM_UNLABELED="24", DEMO_NUM_DEV="12",
               DEMO_NUM_TEST="8")  # fmt: skip
    run = [str(recipe / "run.sh"), "--train_args", TINY_TRAIN,
           "--inference_args", "--beam_size 1"]  # fmt: skip
    done = subprocess.run(run, cwd=recipe, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    for name, count in (("train_labeled", 24), ("train_unlabeled", 24), ("test", 8)):
        assert len((recipe / "data" / name / "wav.scp").read_text().splitlines()) == count
    assert not (recipe / "data" / "train_unlabeled" / "text").exists()
    exp = recipe / "exp" / "asr_bljust"
    hyps = (exp / "decode_test" / "1best_recog" / "text").read_text().splitlines()
    assert len(hyps) == 8
    results = (exp / "RESULTS.md").read_text()
    assert "| test | 8 |" in results and "bljust.sh --strategy bljust" in results
    assert "| test | 8 |" in done.stdout

    # A restart at the scoring stage reuses the decoded output.
    before = (exp / "decode_test" / "1best_recog" / "text").stat().st_mtime_ns
    again = subprocess.run(run + ["--stage", "5"], cwd=recipe, env=env,
                           capture_output=True, text=True)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "stage 3" not in again.stdout and "stage 5: scoring" in again.stdout
    assert (exp / "decode_test" / "1best_recog" / "text").stat().st_mtime_ns == before
