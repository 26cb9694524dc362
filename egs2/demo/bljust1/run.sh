#!/usr/bin/env bash
# Demo recipe: a self-made espeak-ng corpus, BL-JUST training, decoding, WER.
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

./bljust.sh \
    --train_config conf/train.yaml \
    --inference_config conf/decode.yaml \
    --labeled_set train_labeled \
    --unlabeled_set train_unlabeled \
    --valid_set dev \
    --test_sets "test" \
    --strategy bljust \
    "$@"
