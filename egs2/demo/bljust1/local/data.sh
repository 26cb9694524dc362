#!/usr/bin/env bash
# Synthesize the demo corpus with espeak-ng (36 training speakers from 6 accents;
# test speakers from 2 other accents, held out) and write
# data/{train_labeled,train_unlabeled,dev,test}.
set -euo pipefail
python=python3  # the Python that runs espnet_bljust (bljust.sh passes its --python)
help_message="Usage: $0 [--python <python>] (sizes: DEMO_NUM_* in the environment)"
# shellcheck source=../../../../local/parse_options.sh
. utils/parse_options.sh
[ $# -eq 0 ] || { echo "$0: unexpected argument $1" >&2; exit 1; }
# shellcheck source=/dev/null
. ./db.sh
# Sizes; the environment may override them (the CI test makes a tiny corpus).
num_labeled="${DEMO_NUM_LABELED:-300}"
num_unlabeled="${DEMO_NUM_UNLABELED:-900}"
num_dev="${DEMO_NUM_DEV:-60}"
num_test="${DEMO_NUM_TEST:-60}"
if [ -f data/test/wav.scp ]; then
    echo "$0: data/ already prepared; remove it to synthesize again"
    exit 0
fi
"${python}" -m espnet_bljust.corpora.espeak --out data --audio_dir "${DEMO}/wav" \
    --num_labeled "${num_labeled}" --num_unlabeled "${num_unlabeled}" \
    --num_dev "${num_dev}" --num_test "${num_test}"
