#!/usr/bin/env bash
# CMU AN4 (census: spelled words, digits, dates, commands; 16 kHz): BL-JUST with 400 labeled
# train utterances and the rest of train (448) unlabeled; dev = the first 100 train
# utterances, test = the AN4 test set (130).
# Other budgets: ./run.sh --local_data_opts "--num_labeled 200".
# shellcheck source=../../../local/recipe.sh
. "$(dirname "$0")/utils/recipe.sh"  # strict mode, this directory, path.sh, cmd.sh, run_bljust

fs=16000
token_type=char
asr_config=conf/train.yaml
inference_config=conf/decode.yaml
train_set=train_labeled
unlabeled_set=train_unlabeled
valid_set=dev
test_sets=test
local_data_opts="--num_dev 100 --num_labeled 400"
run_bljust "$@"
