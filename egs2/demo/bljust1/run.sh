#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Demo recipe: a self-made espeak-ng corpus, BL-JUST training, decoding, WER, packing.
# Every stage of ../../TEMPLATE/bljust1/bljust.sh; options given here are passed on
# (e.g. ./run.sh --stage 7, ./run.sh --token_type bpe --nbpe 40, --skip_upload_hf false
# --hf_repo user/name).
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

./bljust.sh \
    --corpus_name demo \
    --data_license "self-made: synthesized locally with espeak-ng from a generated grammar; no third-party recordings" \
    --train_config conf/train.yaml \
    --inference_config "conf/decode_ctc_greedy.yaml conf/decode_ctc_beam.yaml" \
    --labeled_set train_labeled \
    --unlabeled_set train_unlabeled \
    --valid_set dev \
    --test_sets "test" \
    --strategy bljust \
    --token_type char \
    --fs 16000 \
    --nj 2 \
    --inference_nj 2 \
    "$@"
