# shellcheck shell=bash
# What the recipes' run.sh (an4, fsdd, librispeech_100, tedlium2, swbd) share, sourced first
# by each (". "$(dirname "$0")/utils/recipe.sh""): strict mode, the recipe's directory,
# path.sh and cmd.sh, and run_bljust. run.sh then sets the recipe's options as shell variables
# of their names (nbpe=5000, test_sets="test dev", ...) and ends with run_bljust "$@".
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../egs2/TEMPLATE/bljust1/path.sh
. ./path.sh
# shellcheck source=../egs2/TEMPLATE/bljust1/cmd.sh
. ./cmd.sh

# The options run_bljust passes on, in the order the logged command and RESULTS.md show them.
RECIPE_OPTIONS=(corpus_name data_license model_license lang ngpu nj inference_nj fs
    min_wav_duration max_wav_duration token_type nbpe bpemode asr_config inference_config
    use_lm lm_config inference_asr_model train_set unlabeled_set valid_set test_sets
    local_data_opts)
unset "${RECIPE_OPTIONS[@]}"  # none comes from the environment: only what run.sh sets

run_bljust() {
    # run_bljust "$@": ./bljust.sh --<name> <value> for every RECIPE_OPTIONS variable that
    # run.sh set, then run.sh's own arguments (a later option overrides an earlier one).
    local name opts=()
    for name in "${RECIPE_OPTIONS[@]}"; do
        [ -z "${!name+set}" ] || opts+=("--${name}" "${!name}")
    done
    ./bljust.sh "${opts[@]}" "$@"
}
