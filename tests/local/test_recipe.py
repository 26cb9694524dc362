"""local/recipe.sh, what the recipes' run.sh share: run_bljust passes the options run.sh
sets, in one fixed order, then run.sh's own arguments; option variables in the environment
are not passed on. Checked on the real an4 and fsdd recipes at stage 9 (it needs no data)."""

import subprocess

import pytest

from conftest import copy_recipe

COMMANDS = {
    "an4": "./bljust.sh --fs 16000 --token_type char --asr_config conf/train.yaml "
    "--inference_config conf/decode.yaml --train_set train_labeled --unlabeled_set "
    "train_unlabeled --valid_set dev --test_sets test --local_data_opts "
    "--num_dev\\ 100\\ --num_labeled\\ 400",
    "fsdd": "./bljust.sh --fs 16000 --token_type char --asr_config conf/train.yaml "
    "--inference_config conf/decode.yaml\\ conf/decode_lm.yaml --use_lm true --lm_config "
    "conf/train_lm.yaml --inference_asr_model valid.cer_ctc.ave.pth --train_set train_labeled "
    "--unlabeled_set train_unlabeled --valid_set dev --test_sets test --local_data_opts "
    "--labeled_takes\\ 2\\ --audio\\ original",
}


@pytest.mark.parametrize("corpus", sorted(COMMANDS))
def test_run_bljust_passes_what_run_sh_sets_in_order(corpus, tmp_path):
    # nj, lang and nbpe in the environment: run.sh sets none of them, so none is passed on
    recipe, env = copy_recipe(corpus, tmp_path, nj="7", lang="xx", nbpe="99")
    done = subprocess.run([str(recipe / "run.sh"), "--stage", "9", "--stop_stage", "9",
                           "--nj", "3"], cwd=tmp_path, env=env, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    command = done.stdout.splitlines()[0].split(": ", 1)[1]
    assert command == COMMANDS[corpus] + " --stage 9 --stop_stage 9 --nj 3"
