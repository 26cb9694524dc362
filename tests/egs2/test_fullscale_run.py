"""The full-scale recipes' run.sh (librispeech_100, tedlium2, swbd): the shared options
(local/fullscale.sh) and --variant parser (local/parse_variant.sh) pick the config, decoding
config and model, and every other option reaches bljust.sh. Stage 9 alone runs (it needs no
data)."""

import re
import subprocess

import pytest

from conftest import REPO, copy_recipe

RECIPES = ("librispeech_100", "tedlium2", "swbd")


@pytest.mark.parametrize("corpus", RECIPES)
def test_variant_picks_config_decoding_and_model(corpus, tmp_path):
    text = (REPO / "egs2" / corpus / "bljust1" / "run.sh").read_text()
    assert ". utils/fullscale.sh" in text and text.rstrip().endswith('run_bljust "$@"')
    assert "while [ $# -gt 0 ]" not in text and "./bljust.sh" not in text  # no copy
    recipe, env = copy_recipe(corpus, tmp_path)

    def run(*args):
        return subprocess.run([str(recipe / "run.sh"), *args], cwd=recipe, env=env,
                              capture_output=True, text=True)  # fmt: skip

    done = run("--variant", "conformer_ctc", "--stage", "9", "--stop-stage", "9", "--nj", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    command = done.stdout.splitlines()[0]
    assert "--asr_config conf/train_bljust_conformer_ctc.yaml" in command
    assert "--inference_config conf/decode_ctc.yaml" in command
    assert "--inference_asr_model valid.cer_ctc.ave.pth" in command
    assert command.endswith("--stage 9 --stop-stage 9 --nj 3") and "--variant" not in command
    assert re.findall(r"stage (\d+):", done.stdout) == ["9"]

    default = run("--stage", "9", "--stop_stage", "9")
    assert default.returncode == 0, default.stderr
    assert "--asr_config conf/train_bljust_conformer_ctc_att.yaml" in default.stdout
    assert "--inference_asr_model valid.acc.ave.pth" in default.stdout

    bad = run("--variant", "lstm")
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    assert "--variant lstm: no conf/train_bljust_lstm.yaml (variants: conformer_ctc" in bad.stderr
