#!/usr/bin/env bash
# LibriSpeech 100 h labeled + 860 h unlabeled: BL-JUST at full scale (README.md).
#   labeled   train_clean_100  (train-clean-100, 100.6 h)
#   unlabeled train_860        (train-clean-360 + train-other-500, 860 h, no transcripts)
#   valid     dev              (dev-clean + dev-other)
#   tests     test_clean test_other dev_clean dev_other
# sentencepiece unigram 5000 from the labeled text, global_mvn, max 30 s per
# training utterance (as ESPnet's librispeech_100).
#
# --variant (utils/parse_variant.sh, through utils/fullscale.sh) picks the model:
# conformer_ctc_att (default), conformer_ctc,
# ebranchformer_ctc_att, ebranchformer_ctc (conf/train_bljust_<variant>.yaml and the
# matching decoding config and model file); every other option goes to bljust.sh:
#   ./run.sh                                     # 1 GPU on this machine
#   ./run.sh --ngpu 4 --asr_args "--batch_bins 64000000 --unlabeled_batch_bins 32000000 --accum_grad 1"
#   cmd_backend=slurm ./run.sh --ngpu 8 --num_nodes 2 ...   # Slurm, 2 nodes x 8 GPUs
#   ./run.sh --strategy pt_ft                    # the PT+FT baseline, same data and model
#   ./run.sh --stage 12 --gpu_inference true --inference_nj 4
# shellcheck source=../../../local/recipe.sh
. "$(dirname "$0")/utils/recipe.sh"  # strict mode, this directory, path.sh, cmd.sh, run_bljust

# shellcheck source=../../../local/fullscale.sh
. utils/fullscale.sh
corpus_name=librispeech_100
data_license="CC BY 4.0 (LibriSpeech, OpenSLR 12)"
max_wav_duration=30
nbpe=5000
train_set=train_clean_100
unlabeled_set=train_860
valid_set=dev
test_sets="test_clean test_other dev_clean dev_other"
run_bljust "$@"
