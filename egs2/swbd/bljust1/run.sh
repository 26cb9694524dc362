#!/usr/bin/env bash
# Switchboard-1 300 h, 100 h labeled + ~185 h unlabeled: BL-JUST at full scale (README.md).
#   labeled   train_labeled    (whole conversations, 100 h; local/data.sh --labeled_hours)
#   unlabeled train_unlabeled  (the other conversations, ~185 h, no transcripts)
#   valid     train_dev        (the first conversations, ~4000 utterances)
#   tests     eval2000_sw eval2000_ch  (Hub5'00 Switchboard and CallHome, scored apart)
# 8 kHz telephone speech upsampled to 16 kHz in the wav.scp pipes (as ESPnet's swbd),
# sentencepiece unigram 2000 from the labeled text, global_mvn, segments of 0.1-20 s.
# LDC corpora: set SWBD and EVAL2000 in db.sh first.
#
# --variant (utils/parse_variant.sh, through utils/fullscale.sh) picks the model:
# conformer_ctc_att (default), conformer_ctc,
# ebranchformer_ctc_att (conf/train_bljust_<variant>.yaml and the
# matching decoding config and model file); every other option goes to bljust.sh:
#   ./run.sh                                     # 1 GPU on this machine
#   ./run.sh --ngpu 2 --asr_args "--batch_bins 32000000 --unlabeled_batch_bins 21000000 --accum_grad 1"
#   ./run.sh --local_data_opts "--labeled_hours 50" --asr_tag labeled50h   # another labeled budget
#   cmd_backend=slurm ./run.sh --ngpu 8 --num_nodes 2 ...   # Slurm, 2 nodes x 8 GPUs
#   ./run.sh --strategy pt_ft                    # the PT+FT baseline, same data and model
#   ./run.sh --stage 12 --gpu_inference true --inference_nj 4
# shellcheck source=../../../local/recipe.sh
. "$(dirname "$0")/utils/recipe.sh"  # strict mode, this directory, path.sh, cmd.sh, run_bljust

# shellcheck source=../../../local/fullscale.sh
. utils/fullscale.sh
corpus_name=swbd
data_license="LDC User Agreement (Switchboard-1 Release 2 LDC97S62; Hub5'00 LDC2002S09, LDC2002T43)"
max_wav_duration=20
nbpe=2000
train_set=train_labeled
unlabeled_set=train_unlabeled
valid_set=train_dev
test_sets="eval2000_sw eval2000_ch"
run_bljust "$@"
