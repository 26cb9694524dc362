#!/usr/bin/env bash
# The BL-JUST recipe pipeline, shared by every egs2/<corpus>/bljust1/run.sh.
#
# Stages (run those with stage <= N <= stop_stage):
#   1. data prep:   local/data.sh writes data/{train_labeled,train_unlabeled,dev,<test sets>}
#   2. token list:  char tokens from the labeled text only; shape files of every set
#   3. training:    python -m espnet_bljust.bin.bljust_train (strategy, config, both streams)
#   4. decoding:    espnet2's own asr_inference on every test set
#   5. scoring:     WER/CER per test set (jiwer; sclite trn files), exp/.../RESULTS.md
# Not yet here (see issue 4): list validation, audio formatting and duration filter,
# sentencepiece, global_mvn statistics, packing, upload.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') ($(basename "$0")) $*"; }

stage=1
stop_stage=100
ngpu=0
nj=2
inference_nj=2
strategy=bljust
train_config=
inference_config=
labeled_set=train_labeled
unlabeled_set=train_unlabeled
valid_set=dev
test_sets="test"
token_type=char
expdir=exp
python=python3
train_args=
inference_args=
decode_model=valid.cer_ctc.best.pth

while [ $# -gt 0 ]; do
    case "$1" in
        --*)
            name="${1#--}"
            [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
            if ! declare -p "${name}" >/dev/null 2>&1; then
                echo "$0: unknown option $1" >&2; exit 1
            fi
            printf -v "${name}" '%s' "$2"
            shift 2 ;;
        *) echo "$0: unexpected argument $1" >&2; exit 1 ;;
    esac
done
[ -n "${train_config}" ] || { echo "$0: --train_config is required" >&2; exit 1; }
[ "${token_type}" = char ] || { echo "$0: only --token_type char is supported yet" >&2; exit 1; }

data=data
asr_exp="${expdir}/asr_${strategy}"
token_list="${data}/token_list/char/tokens.txt"

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    log "stage 1: data preparation"
    local/data.sh
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "stage 2: char token list from ${labeled_set}/text; shape files"
    mkdir -p "$(dirname "${token_list}")"
    dirs=""
    for s in "${labeled_set}" "${unlabeled_set}" "${valid_set}" ${test_sets}; do
        dirs+=" ${data}/${s}"
    done
    ${python} -m espnet_bljust.utils.kaldi_lists \
        --labeled_text "${data}/${labeled_set}/text" --token_list "${token_list}" ${dirs}
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    log "stage 3: training (${strategy}) -> ${asr_exp}"
    mkdir -p "${asr_exp}"
    # shellcheck disable=SC2086
    ${python} -m espnet_bljust.bin.bljust_train \
        --config "${train_config}" --strategy "${strategy}" --ngpu "${ngpu}" \
        --token_list "${token_list}" --token_type char --output_dir "${asr_exp}" \
        --resume true \
        --train_data_path_and_name_and_type "${data}/${labeled_set}/wav.scp,speech,sound" \
        --train_data_path_and_name_and_type "${data}/${labeled_set}/text,text,text" \
        --train_shape_file "${data}/${labeled_set}/speech_shape" \
        --train_shape_file "${data}/${labeled_set}/text_shape" \
        --valid_data_path_and_name_and_type "${data}/${valid_set}/wav.scp,speech,sound" \
        --valid_data_path_and_name_and_type "${data}/${valid_set}/text,text,text" \
        --valid_shape_file "${data}/${valid_set}/speech_shape" \
        --valid_shape_file "${data}/${valid_set}/text_shape" \
        --unlabeled_data_path_and_name_and_type "${data}/${unlabeled_set}/wav.scp,speech,sound" \
        --unlabeled_shape_file "${data}/${unlabeled_set}/speech_shape" \
        --fold_length 80000 --fold_length 150 \
        ${train_args} 2>&1 | tee "${asr_exp}/train.log" | grep -E "epoch results|Error|error" || true
    [ -f "${asr_exp}/${decode_model}" ] || { log "training failed: see ${asr_exp}/train.log"; exit 1; }
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    for t in ${test_sets}; do
        log "stage 4: decoding ${t}"
        out="${asr_exp}/decode_${t}"
        inference_opts=()
        [ -n "${inference_config}" ] && inference_opts=(--config "${inference_config}")
        # shellcheck disable=SC2086
        ${python} -m espnet2.bin.asr_inference --ngpu 0 "${inference_opts[@]}" \
            --data_path_and_name_and_type "${data}/${t}/wav.scp,speech,sound" \
            --key_file "${data}/${t}/wav.scp" \
            --asr_train_config "${asr_exp}/config.yaml" \
            --asr_model_file "${asr_exp}/${decode_model}" \
            --output_dir "${out}" ${inference_args} > "${out}.log" 2>&1 \
            || { log "decoding failed: see ${out}.log"; exit 1; }
    done
fi

if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    log "stage 5: scoring"
    results="${asr_exp}/RESULTS.md"
    {
        echo "# ${strategy} results"
        echo
        echo "- model: \`${asr_exp}/${decode_model}\`, config: \`${train_config}\`"
        echo "- command: \`$0 --strategy ${strategy} --train_config ${train_config} ${train_args:+--train_args \"${train_args}\"}\`"
        echo
        echo "| test set | utts | WER (%) | CER (%) |"
        echo "|---|---|---|---|"
    } > "${results}"
    for t in ${test_sets}; do
        out="${asr_exp}/decode_${t}"
        ${python} -m espnet_bljust.bin.score --ref "${data}/${t}/text" \
            --hyp "${out}/1best_recog/text" --name "${t}" --out "${out}/score"
        ${python} - "${out}/score/result.json" >> "${results}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"| {r['name']} | {r['utts']} | {r['wer']:.1f} | {r['cer']:.1f} |")
PY
    done
    cat "${results}"
fi
log "done"
