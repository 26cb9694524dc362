#!/usr/bin/env bash
# FSDD (Free Spoken Digit Dataset, real speech, 6 speakers, digits ZERO..NINE): BL-JUST with
# 120 labeled utterances (2 takes per speaker and digit) and the other 2280 train utterances
# unlabeled; dev = takes 5-9, test = takes 0-4 (the official FSDD test set).
# The 8 kHz originals are formatted to 16 kHz by bljust.sh (--fs).
# Other budgets: ./run.sh --local_data_opts "--labeled_takes 5"  (1, 2, 5 -> 60, 120, 300).
# Test is decoded twice: CTC only (conf/decode.yaml) and CTC + a character LM trained on the
# labeled transcripts in stages 6-8 (conf/train_lm.yaml, conf/decode_lm.yaml); --use_lm false
# skips the LM.
# shellcheck source=../../../local/recipe.sh
. "$(dirname "$0")/utils/recipe.sh"  # strict mode, this directory, path.sh, cmd.sh, run_bljust

fs=16000
token_type=char
asr_config=conf/train.yaml
inference_config="conf/decode.yaml conf/decode_lm.yaml"
use_lm=true
lm_config=conf/train_lm.yaml
inference_asr_model=valid.cer_ctc.ave.pth
train_set=train_labeled
unlabeled_set=train_unlabeled
valid_set=dev
test_sets=test
local_data_opts="--labeled_takes 2 --audio original"
run_bljust "$@"
