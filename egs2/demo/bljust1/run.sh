#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Demo recipe: a self-made espeak-ng corpus, BL-JUST training, decoding, WER, packing.
# Every stage of ../../TEMPLATE/bljust1/bljust.sh (./run.sh --help lists the options);
# options given here are passed on, e.g.
#   ./run.sh --stage 11 --stop-stage 13 --asr_args "--max_epoch 2"
#   ./run.sh --token_type bpe --nbpe 40
#   ./run.sh --skip_upload_hf false --hf_repo user/name
# At the end it shows a few reference/hypothesis pairs of the held-out test voices and
# the next steps.
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh

case " $* " in *" --help "*|*" -h "*) exec ./bljust.sh --help ;; esac
started=$(mktemp)
trap 'rm -f "${started}"' EXIT

./bljust.sh \
    --corpus_name demo \
    --data_license "self-made: synthesized locally with espeak-ng from a generated grammar; no third-party recordings" \
    --asr_config conf/train.yaml \
    --inference_config "conf/decode_ctc_greedy.yaml conf/decode_ctc_lm.yaml" \
    --use_lm true \
    --lm_config conf/train_lm.yaml \
    --train_set train_labeled \
    --unlabeled_set train_unlabeled \
    --valid_set dev \
    --test_sets "test" \
    --token_type char \
    --fs 16000 \
    --nj 2 \
    --inference_nj 2 \
    "$@"

# What this run made: the newest scored experiment (the tag follows the options).
results=$(ls -t exp/asr_*/RESULTS.md 2> /dev/null | head -n 1 || true)
[ -n "${results}" ] && [ "${results}" -nt "${started}" ] || exit 0  # not scored by this run
asr_exp=$(dirname "${results}")
hyps=$(ls -t "${asr_exp}"/*/test/1best_recog/text 2> /dev/null | head -n 1 || true)
if [ -n "${hyps}" ] && [ -f dump/raw/test/text ]; then
    echo
    echo "Held-out test voices, reference (REF) and hypothesis (HYP) (${hyps}):"
    awk 'NR == FNR { $1 = $1; ref[$1] = substr($0, length($1) + 2); next }
         ($1 in ref) && n < 4 { id = $1; $1 = ""; n++
                                printf "  %s\n    REF: %s\n    HYP:%s\n", id, ref[id], $0 }' \
        dump/raw/test/text "${hyps}"
fi
packed=$(ls -t "${asr_exp}"/*.zip 2> /dev/null | head -n 1 || true)
echo
echo "Next steps:"
if [ -n "${packed}" ]; then
    echo "- the packed model: $(pwd)/${packed}"
    echo "  load it with espnet2 alone:"
    echo "    from espnet2.bin.asr_inference import Speech2Text"
    echo "    s2t = Speech2Text.from_pretrained(\"$(pwd)/${packed}\", ctc_weight=1.0, lm_weight=0.0)"
    echo "    text, *_ = s2t(speech)[0]   # speech: 16 kHz mono float array"
else
    echo "- pack the model: ./run.sh --stage 14 --stop_stage 14 (with the options of this run)"
fi
echo "- results and command: ${asr_exp}/RESULTS.md"
echo "- real speech: cd ../../fsdd/bljust1 && FSDD=/path/to/free-spoken-digit-dataset ./run.sh" \
    "(downloads FSDD when FSDD is not set)"
