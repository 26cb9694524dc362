#!/usr/bin/env bash
# TED-LIUM 2, 50 h labeled + ~157 h unlabeled: BL-JUST at full scale (README.md).
#   labeled   train_labeled    (whole talks, 50 h; local/data.sh --labeled_hours)
#   unlabeled train_unlabeled  (the other talks and <unk> segments, ~157 h, no transcripts)
#   valid     dev              (the official dev set)
#   tests     test dev
# sentencepiece unigram 500 from the labeled text (ESPnet's tedlium2 size), global_mvn,
# training segments of 0.1-20 s; wav.scp entries are sox pipes (sox must be installed
# wherever the format stage runs).
#
# --variant (utils/parse_variant.sh, through utils/fullscale.sh) picks the model:
# conformer_ctc_att (default), conformer_ctc,
# ebranchformer_ctc_att (conf/train_bljust_<variant>.yaml and the
# matching decoding config and model file); every other option goes to bljust.sh:
#   ./run.sh                                     # 1 GPU on this machine
#   ./run.sh --ngpu 2 --asr_args "--batch_bins 32000000 --unlabeled_batch_bins 28000000 --accum_grad 1"
#   ./run.sh --local_data_opts "--labeled_hours 100" --asr_tag labeled100h   # another labeled budget
#   cmd_backend=slurm ./run.sh --ngpu 8 --num_nodes 2 ...   # Slurm, 2 nodes x 8 GPUs
#   ./run.sh --strategy pt_ft                    # the PT+FT baseline, same data and model
#   ./run.sh --stage 12 --gpu_inference true --inference_nj 4
# shellcheck source=../../../local/recipe.sh
. "$(dirname "$0")/utils/recipe.sh"  # strict mode, this directory, path.sh, cmd.sh, run_bljust

# shellcheck source=../../../local/fullscale.sh
. utils/fullscale.sh
corpus_name=tedlium2
data_license="CC BY-NC-ND 3.0 (TED-LIUM release 2, OpenSLR 19)"
model_license=cc-by-nc-nd-4.0
max_wav_duration=20
nbpe=500
train_set=train_labeled
unlabeled_set=train_unlabeled
valid_set=dev
test_sets="test dev"
run_bljust "$@"
