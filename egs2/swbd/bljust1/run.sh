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
# --variant picks the model: conformer_ctc_att (default), conformer_ctc,
# ebranchformer_ctc_att (conf/train_bljust_<variant>.yaml and the
# matching decoding config and model file); every other option goes to bljust.sh:
#   ./run.sh                                     # 1 GPU on this machine
#   ./run.sh --ngpu 2 --train_args "--batch_bins 32000000 --unlabeled_batch_bins 21000000 --accum_grad 1"
#   ./run.sh --local_data_opts "--labeled_hours 50"   # another labeled budget (stage 1 reruns)
#   cmd_backend=slurm ./run.sh --ngpu 8 --num_nodes 2 ...   # Slurm, 2 nodes x 8 GPUs
#   ./run.sh --strategy pt_ft                    # the PT+FT baseline, same data and model
#   ./run.sh --stage 7 --gpu_inference true --inference_nj 4
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

variant=conformer_ctc_att
strategy=bljust
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) [ $# -ge 2 ] || { echo "$0: --variant needs a value" >&2; exit 1; }
                   variant="$2"; shift 2 ;;
        --strategy) [ $# -ge 2 ] && strategy="$2"; args+=("$1"); shift ;;
        *) args+=("$1"); shift ;;
    esac
done
train_config="conf/train_bljust_${variant}.yaml"
[ -f "${train_config}" ] || { echo "$0: no ${train_config} (--variant ${variant})" >&2; exit 1; }
case "${variant}" in
    *_ctc_att) inference_config=conf/decode_ctc_att.yaml; inference_model=valid.acc.ave.pth ;;
    *) inference_config=conf/decode_ctc.yaml; inference_model=valid.cer_ctc.ave.pth ;;
esac

./bljust.sh \
    --corpus_name swbd \
    --data_license "LDC User Agreement (Switchboard-1 Release 2 LDC97S62; Hub5'00 LDC2002S09, LDC2002T43)" \
    --lang en \
    --ngpu 1 \
    --nj 16 \
    --inference_nj 16 \
    --fs 16000 \
    --min_wav_duration 0.1 \
    --max_wav_duration 20 \
    --token_type bpe \
    --nbpe 2000 \
    --bpemode unigram \
    --train_config "${train_config}" \
    --inference_config "${inference_config}" \
    --inference_model "${inference_model}" \
    --labeled_set train_labeled \
    --unlabeled_set train_unlabeled \
    --valid_set train_dev \
    --test_sets "eval2000_sw eval2000_ch" \
    --strategy "${strategy}" \
    --asr_tag "${strategy}_${variant}" \
    "${args[@]}"
