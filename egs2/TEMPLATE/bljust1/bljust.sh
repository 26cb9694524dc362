#!/usr/bin/env bash
# The BL-JUST recipe pipeline, shared by every egs2/<corpus>/bljust1/run.sh
# (each recipe links bljust.sh -> ../../TEMPLATE/bljust1/bljust.sh and runs it
# from its own directory).
#
# Stages (those with stage <= N <= stop_stage run; logs under exp/):
#   1. data prep:   local/data.sh writes data/{<labeled>,<unlabeled>,<valid>,<tests>}
#                   (exp/data_prep.log)                               [--skip_data_prep]
#   2. validation:  espnet_bljust.bin.validate_data --skip_audio on every list in data/
#                   (ids, transcripts, labeled/unlabeled overlap) before anything else uses
#                   them; problems stop the pipeline, printed (exp/validate/)
#                                                                     [--skip_data_prep]
#   3. format:      audio to PCM16 mono wav at --fs in dump/raw/<set>/ (wav.scp, text,
#                   utt2spk, utt2dur, speech_shape); --min/max_wav_duration drop
#                   utterances of the two training sets only (exp/format/)
#                                                                     [--skip_data_prep]
#   4. token list:  char, or sentencepiece (bpe, --nbpe, --bpemode) trained on the
#                   labeled text only, in data/token_list/<char|bpe_<mode><n>>/; text
#                   shapes dump/raw/<set>/text_shape.<that tag>; then validate_data checks
#                   every dumped set (audio at --fs; training sets within the duration
#                   limits; the labeled text against the token list) (exp/token_list/)
#                                                                     [--skip_data_prep]
#   5. statistics:  only when the train config (or --train_args) uses normalize:
#                   global_mvn: --collect_stats over both streams into
#                   exp/asr_stats_raw_<tag>/train/feats_stats.npz; otherwise skipped
#                   (said in the log)                                 [--skip_train]
#   6. training:    with --use_lm true first a token LM on the labeled transcripts only
#                   (espnet_bljust.recipe.text_lm: espnet2's LM task, --lm_config, the
#                   ASR token list; reused when trained with the same options) into
#                   exp/lm_<lm_tag>/ (train.log); then espnet_bljust.bin.bljust_train
#                   (--resume true) under ${cuda_cmd}; --ngpu > 1 or --num_nodes > 1
#                   through espnet2.bin.launch (exp/asr_<tag>/train.log) [--skip_train]
#   7. decoding:    espnet2.bin.asr_inference, --inference_nj jobs per test set under
#                   ${decode_cmd}, once per --inference_config, outputs merged into
#                   exp/asr_<tag>/<config>_<model>/<test>/1best_recog/; with --use_lm
#                   true the LM is fused in every config whose lm_weight is > 0
#                   (espnet2's default is 1.0)                        [--skip_eval]
#   8. scoring:     WER/CER per decoding and test set (sclite trn files) into
#                   exp/asr_<tag>/RESULTS.md, printed                 [--skip_eval]
#   9. packing:     model card README.md (espnet_bljust.recipe.model_card) and
#                   espnet2.bin.pack zip (model, config, bpe model, stats, LM with
#                   --use_lm true, RESULTS.md, card); then loaded back with
#                   espnet_model_zoo + Speech2Text and one test utterance transcribed
#                   (exp/asr_<tag>/pack.log)                          [--skip_packing]
#  10. upload:      the unpacked zip + card in exp/hf_<name>/, pushed to --hf_repo with
#                   huggingface_hub (exp/hf_<name>.log)   [--skip_upload_hf, default true];
#                   offline (HF_HUB_OFFLINE, no connection) the push is skipped with a note
# A restart (--stage N) reuses what earlier stages wrote; stages 3-5 skip sets and files
# that are already up to date.
#
# Recipe interface: a recipe directory egs2/<corpus>/bljust1/ provides
#   run.sh         calls ./bljust.sh with its options (and passes "$@" through);
#   bljust.sh      symlink to ../../TEMPLATE/bljust1/bljust.sh;
#   path.sh        sourced here: puts the python with espnet_bljust on PATH and exports
#                  BLJUST_ROOT (the repository root, where local/ holds the backends);
#   cmd.sh         sourced here: exports train_cmd, cuda_cmd, decode_cmd (run.pl-style
#                  backends, $BLJUST_ROOT/local/run_local.sh or .../slurm.pl, chosen by
#                  cmd_backend=local|slurm);
#   db.sh          corpus locations, sourced by local/data.sh;
#   local/data.sh  writes Kaldi dirs data/<set>/ for the labeled and unlabeled training
#                  sets, the valid set and every test set: wav.scp (paths or "cmd |"),
#                  utt2spk, spk2utt, and text for every set but the unlabeled one;
#                  idempotent (exits 0 when the data is there);
#   conf/          the train config (--train_config) and decoding configs.
#
# Options (asr.sh's names where they mean the same):
#   --stage, --stop_stage (1, 10)  --skip_data_prep, --skip_train, --skip_eval,
#   --skip_packing (false), --skip_upload_hf (true)
#   --ngpu (0), --num_nodes (1), --nj (2: format jobs), --inference_nj (2),
#   --gpu_inference (false)
#   --fs (16000; 16k works), --min_wav_duration (0.1), --max_wav_duration (20)
#   --token_type (char|bpe), --nbpe (30), --bpemode (unigram|bpe)
#   --train_config, --train_args, --inference_config (one or more files, space
#   separated), --inference_args, --inference_model (default: valid.cer_ctc.best.pth,
#   else the first of valid.cer_ctc.ave.pth, valid.acc.best.pth, valid.loss.best.pth,
#   latest.pth that exists), --local_data_opts
#   --use_lm (false), --lm_config, --lm_args (to espnet2.bin.lm_train), --lm_tag
#   (default: the config's name and the token tag), --inference_lm (valid.loss.best.pth)
#   --labeled_set, --unlabeled_set, --valid_set, --test_sets, --strategy
#   (bljust|just|pt_ft|supervised), --asr_tag (default: the strategy), --expdir (exp),
#   --dumpdir (dump), --python (python3)
#   --corpus_name (default: the recipe's corpus dir name), --data_license, --model_license
#   (cc-by-4.0), --lang (en), --hf_repo; --speech_fold_length (80000), --text_fold_length (150)
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (bljust.sh) $*"; }
die() { log "ERROR: $*" >&2; exit 1; }

full_command="$0$(printf ' %q' "$@")"

# The options: every variable set below, from stage= to text_fold_length=.
stage=1
stop_stage=10
skip_data_prep=false
skip_train=false
skip_eval=false
skip_packing=false
skip_upload_hf=true
ngpu=0
num_nodes=1
nj=2
inference_nj=2
gpu_inference=false
fs=16000
min_wav_duration=0.1
max_wav_duration=20
token_type=char
nbpe=30
bpemode=unigram
strategy=bljust
asr_tag=
train_config=
train_args=
inference_config=
inference_args=
inference_model=
use_lm=false
lm_config=
lm_args=
lm_tag=
inference_lm=valid.loss.best.pth
local_data_opts=
labeled_set=train_labeled
unlabeled_set=train_unlabeled
valid_set=dev
test_sets="test"
expdir=exp
dumpdir=dump
python=python3
corpus_name=
data_license="see the corpus documentation"
model_license=cc-by-4.0
lang=en
hf_repo=
speech_fold_length=80000
text_fold_length=150
option_names=" $(sed -n '/^stage=1$/,/^text_fold_length=/s/^\([a-z_]*\)=.*/\1/p' \
    "${BASH_SOURCE[0]}" | xargs) "

while [ $# -gt 0 ]; do
    case "$1" in
        --*)
            name="${1#--}"
            [ $# -ge 2 ] || die "option $1 needs a value"
            [[ "${option_names}" == *" ${name} "* ]] \
                || die "unknown option $1 (see the head of $0)"
            printf -v "${name}" '%s' "$2"
            shift 2 ;;
        *) die "unexpected argument $1" ;;
    esac
done

# shellcheck disable=SC1091
[ -f ./path.sh ] && . ./path.sh
# shellcheck disable=SC1091
[ -f ./cmd.sh ] && . ./cmd.sh
: "${train_cmd:?cmd.sh must export train_cmd}"
: "${cuda_cmd:?cmd.sh must export cuda_cmd}"
: "${decode_cmd:?cmd.sh must export decode_cmd}"
for c in "${train_cmd}" "${cuda_cmd}" "${decode_cmd}"; do
    command -v "${c%% *}" > /dev/null || die "job backend ${c%% *} not found (cmd.sh; BLJUST_ROOT=${BLJUST_ROOT:-unset})"
done
${python} -c "import espnet_bljust" 2> /dev/null \
    || die "${python} cannot import espnet_bljust: source path.sh (make install builds .venv)"

[ -n "${train_config}" ] || die "--train_config is required"
[ -f "${train_config}" ] || die "--train_config ${train_config}: no such file"
for cfg in ${inference_config}; do
    [ -f "${cfg}" ] || die "--inference_config ${cfg}: no such file"
done
case "${token_type}" in char|bpe) ;; *) die "--token_type must be char or bpe" ;; esac
case "${bpemode}" in unigram|bpe) ;; *) die "--bpemode must be unigram or bpe" ;; esac
case "${strategy}" in bljust|just|pt_ft|supervised) ;; *) die "unknown --strategy ${strategy}" ;; esac
if [ "${use_lm}" = true ]; then
    [ -n "${lm_config}" ] || die "--use_lm true needs --lm_config"
    [ -f "${lm_config}" ] || die "--lm_config ${lm_config}: no such file"
fi
for flag in skip_data_prep skip_train skip_eval skip_packing skip_upload_hf gpu_inference use_lm; do
    case "${!flag}" in true|false) ;; *) die "--${flag} must be true or false" ;; esac
done
fs_hz="${fs}"
[[ "${fs}" =~ ^[1-9][0-9]*k$ ]] && fs_hz=$(( ${fs%k} * 1000 ))
[[ "${fs_hz}" =~ ^[1-9][0-9]*$ ]] || die "--fs ${fs}: not a sampling rate (16000 or 16k)"
if [ "${num_nodes}" -gt 1 ] && [[ "${cuda_cmd}" != *slurm* ]]; then
    die "--num_nodes ${num_nodes} needs a cluster backend (cmd_backend=slurm in cmd.sh)"
fi

data=data
raw="${dumpdir}/raw"
[ -n "${asr_tag}" ] || asr_tag="${strategy}"
asr_exp="${expdir}/asr_${asr_tag}"
if [ "${token_type}" = bpe ]; then
    token_tag="bpe_${bpemode}${nbpe}"
else
    token_tag=char
fi
token_dir="${data}/token_list/${token_tag}"
token_list="${token_dir}/tokens.txt"
bpemodel="${token_dir}/bpe.model"
stats_dir="${expdir}/asr_stats_raw_${token_tag}"
[ -n "${lm_tag}" ] || lm_tag="$(basename "${lm_config:-lm}" .yaml)_${token_tag}"
lm_exp="${expdir}/lm_${lm_tag}"
# The trained LM, as asr_inference and pack take it (stages 7 and 9).
lm_model_opts=(--lm_train_config "${lm_exp}/config.yaml" --lm_file "${lm_exp}/${inference_lm}")
stats_file="${stats_dir}/train/feats_stats.npz"
[ -n "${corpus_name}" ] || corpus_name=$(basename "$(dirname "${PWD}")")
labeled_sets="${labeled_set} ${valid_set} ${test_sets}"
all_sets="${labeled_set} ${unlabeled_set} ${valid_set} ${test_sets}"

run_stage() {
    # run_stage <N> <skip flag value>: whether stage N is to run.
    [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ] && [ "$2" = false ]
}

show_log_tail() {
    # show_log_tail <log>: the last lines of a failed step's log, on stderr.
    if [ -f "$1" ]; then
        echo "---- last lines of $1 ----" >&2
        grep -v '^# ' "$1" | tail -n 25 >&2 || true
        echo "----" >&2
    fi
}

run_logged() {
    # run_logged <stage name> <log> <backend command...> -- <command...>: run a step
    # through a backend; on failure name the stage and the log, show its tail, exit 1.
    local what="$1" logfile="$2"
    shift 2
    local backend=()
    while [ "$1" != "--" ]; do backend+=("$1"); shift; done
    shift
    if ! "${backend[@]}" "${logfile}" "$@"; then
        show_log_tail "${logfile}"
        die "${what} failed: see ${logfile}"
    fi
}

newer_than() {
    # newer_than <target> <source...>: target exists and no source is newer.
    local target="$1" src
    shift
    [ -e "${target}" ] || return 1
    for src in "$@"; do
        [ ! -e "${src}" ] || [ ! "${src}" -nt "${target}" ] || return 1
    done
}

shapes_up_to_date() {
    # shapes_up_to_date <text shape file...>: each newer than the token list and its text.
    local f
    for f in "$@"; do
        newer_than "${f}" "${token_list}" "${f%/*}/text" || return 1
    done
}

effective_normalize() {
    # The normalize layer of the training: --normalize in --train_args, else the config's.
    local args
    read -r -a args <<< "${train_args}"
    local i value=
    for (( i = 0; i < ${#args[@]}; i++ )); do
        if [ "${args[${i}]}" = --normalize ] && [ $(( i + 1 )) -lt ${#args[@]} ]; then
            value="${args[$(( i + 1 ))]}"
        elif [[ "${args[${i}]}" == --normalize=* ]]; then
            value="${args[${i}]#--normalize=}"
        fi
    done
    if [ -z "${value}" ]; then
        value=$(${python} -c 'import sys, yaml
c = yaml.safe_load(open(sys.argv[1])) or {}
print(c.get("normalize", "utterance_mvn"))' "${train_config}")
    fi
    echo "${value}"
}

has_validator() {
    ${python} -c 'import importlib.util, sys
sys.exit(importlib.util.find_spec("espnet_bljust.bin.validate_data") is None)' 2> /dev/null
}

validate_sets() {
    # validate_sets <logdir> <set dir>:<options> ...: run validate_data on every set,
    # then stop with every problem printed if any set failed.
    local logdir="$1" item dir opts name failed=()
    shift
    mkdir -p "${logdir}"
    for item in "$@"; do
        dir="${item%%:*}"
        opts="${item#*:}"
        name=$(basename "${dir}")
        # shellcheck disable=SC2086
        if ! ${train_cmd} "${logdir}/${name}.log" \
                ${python} -m espnet_bljust.bin.validate_data "${dir}" ${opts}; then
            failed+=("${name}")
        fi
    done
    if [ ${#failed[@]} -gt 0 ]; then
        for name in "${failed[@]}"; do
            echo "---- ${logdir}/${name}.log ----" >&2
            grep -v '^# ' "${logdir}/${name}.log" >&2 || true
        done
        die "validation of ${failed[*]} failed (logs in ${logdir}/): fix the lists, then rerun"
    fi
    log "validated: $(for item in "$@"; do basename "${item%%:*}"; done | xargs)"
    for item in "$@"; do  # warnings (e.g. labeled/unlabeled overlap) do not stop it
        name=$(basename "${item%%:*}")
        n=$(grep -c '^WARNING' "${logdir}/${name}.log" || true)
        if [ "${n}" -gt 0 ]; then
            log "${name}: ${n} warning(s) (${logdir}/${name}.log), first ones:"
            grep '^WARNING' "${logdir}/${name}.log" | head -n 5
        fi
    done
}

resolve_model() {
    # The model file to decode and pack, relative to ${asr_exp}.
    local m
    if [ -n "${inference_model}" ]; then
        [ -e "${asr_exp}/${inference_model}" ] \
            || die "--inference_model ${inference_model}: not in ${asr_exp} (train first: stage 6)"
        echo "${inference_model}"
        return
    fi
    for m in valid.cer_ctc.best.pth valid.cer_ctc.ave.pth valid.acc.best.pth \
             valid.loss.best.pth latest.pth; do
        if [ -e "${asr_exp}/${m}" ]; then echo "${m}"; return; fi
    done
    die "no trained model in ${asr_exp} (run stage 6 first)"
}

inference_tag() {
    # inference_tag <config or empty> <model>: the decode dir name.
    local cfg=default
    [ -n "$1" ] && cfg=$(basename "$1" .yaml)
    echo "${cfg}_$(basename "$2" .pth)"
}

require_lm() {
    # require_lm <stage>: die naming the stage where stage 6 has not trained the LM.
    [ -e "${lm_exp}/${inference_lm}" ] \
        || die "stage $1: ${lm_exp}/${inference_lm} missing (run stage 6 with --use_lm true)"
}

fuses_lm() {
    # fuses_lm <config or empty>: whether the decoding config's lm_weight is > 0
    # (absent: espnet2's default, 1.0; --inference_args are not read).
    ${python} -c 'import sys, yaml
c = (yaml.safe_load(open(sys.argv[1])) if sys.argv[1] else None) or {}
sys.exit(0 if float(c.get("lm_weight", 1.0)) > 0 else 1)' "$1"
}

rotate_log() {
    # rotate_log <file.log>: keep earlier logs as file.1.log, file.2.log, ...
    local f="$1" stem i
    stem="${f%.log}"
    [ -e "${f}" ] || return 0
    for (( i = 8; i >= 1; i-- )); do
        [ -e "${stem}.${i}.log" ] && mv "${stem}.${i}.log" "${stem}.$(( i + 1 )).log"
    done
    mv "${f}" "${stem}.1.log"
}

mkdir -p "${expdir}"
log "$(hostname): ${full_command}"

# ------------------------------------------------------------------ 1. data prep
if run_stage 1 "${skip_data_prep}"; then
    log "stage 1: data preparation (local/data.sh) -> ${data}/"
    [ -x local/data.sh ] || die "local/data.sh not found or not executable in ${PWD}"
    # shellcheck disable=SC2086
    if ! local/data.sh ${local_data_opts} > "${expdir}/data_prep.log" 2>&1; then
        show_log_tail "${expdir}/data_prep.log"
        die "stage 1 (data preparation) failed: see ${expdir}/data_prep.log"
    fi
    grep -v '^#' "${expdir}/data_prep.log" | tail -n 8 || true
fi

# ------------------------------------------------------------------ 2. validation
if run_stage 2 "${skip_data_prep}"; then
    log "stage 2: validating the lists in ${data}/ (logs in ${expdir}/validate/)"
    if has_validator; then
        # The lists only (--skip_audio): the audio may be at any rate here; stage 3
        # reads every file and stage 4 checks the formatted audio.
        items=("${data}/${labeled_set}:--skip_audio --overlap_with ${data}/${unlabeled_set}"
               "${data}/${unlabeled_set}:--skip_audio --unlabeled")
        for s in ${valid_set} ${test_sets}; do items+=("${data}/${s}:--skip_audio"); done
        validate_sets "${expdir}/validate" "${items[@]}"
    else
        log "stage 2: WARNING: espnet_bljust.bin.validate_data is not installed: lists not validated"
    fi
fi

# ------------------------------------------------------------------ 3. format
if run_stage 3 "${skip_data_prep}"; then
    for s in ${all_sets}; do
        [ -f "${data}/${s}/wav.scp" ] || die "stage 3: ${data}/${s}/wav.scp missing (run stage 1)"
        opts=(--fs "${fs_hz}")
        if [ "${s}" = "${labeled_set}" ] || [ "${s}" = "${unlabeled_set}" ]; then
            opts+=(--min_duration "${min_wav_duration}" --max_duration "${max_wav_duration}")
        fi
        stamp="${raw}/${s}/.done"  # the settings it was made with
        if newer_than "${stamp}" "${data}/${s}/wav.scp" "${data}/${s}/text" "${data}/${s}/utt2spk" \
                && [ "$(cat "${stamp}")" = "${opts[*]}" ]; then
            log "stage 3: ${raw}/${s} is up to date"
            continue
        fi
        log "stage 3: formatting ${data}/${s} -> ${raw}/${s} (${opts[*]})"
        rm -f "${stamp}"
        # shellcheck disable=SC2086
        run_logged "stage 3 (format ${s})" "${expdir}/format/${s}.log" \
            ${train_cmd} --num_threads "${nj}" -- \
            ${python} -m espnet_bljust.data.format_wav "${opts[@]}" --nj "${nj}" \
                "${data}/${s}" "${raw}/${s}"
        grep -h "utterances at" "${expdir}/format/${s}.log" || true
        echo "${opts[*]}" > "${stamp}"
    done
fi

# ------------------------------------------------------------------ 4. token list
if run_stage 4 "${skip_data_prep}"; then
    labeled_text="${raw}/${labeled_set}/text"
    [ -f "${labeled_text}" ] || die "stage 4: ${labeled_text} missing (run stage 3)"
    shape_dirs=()
    shape_files=()
    for s in ${labeled_sets}; do
        shape_dirs+=("${raw}/${s}")
        shape_files+=("${raw}/${s}/text_shape.${token_tag}")
    done
    if newer_than "${token_list}" "${labeled_text}" && shapes_up_to_date "${shape_files[@]}"; then
        log "stage 4: ${token_list} and text shapes are up to date"
    else
        log "stage 4: ${token_type} token list from ${labeled_text} -> ${token_list}"
        opts=(--token_type "${token_type}")
        [ "${token_type}" = bpe ] && opts+=(--bpemodel "${bpemodel}" --nbpe "${nbpe}" --bpemode "${bpemode}")
        mkdir -p "${token_dir}"
        # shellcheck disable=SC2086
        run_logged "stage 4 (token list)" "${expdir}/token_list/${token_tag}.log" \
            ${train_cmd} -- \
            ${python} -m espnet_bljust.data.kaldi_lists --labeled_text "${labeled_text}" \
                --token_list "${token_list}" "${opts[@]}" --skip_speech_shape \
                --text_shape_name "text_shape.${token_tag}" "${shape_dirs[@]}"
    fi
    log "stage 4: $(wc -l < "${token_list}") tokens"
    if has_validator; then
        # The formatted audio (rate, durations) of every set; the token list covers
        # the labeled training text (dev and test transcripts may hold units it lacks:
        # they become <unk>, which scoring counts as errors).
        tok_opts="--token_list ${token_list} --token_type ${token_type}"
        [ "${token_type}" = bpe ] && tok_opts+=" --bpemodel ${bpemodel}"
        audio_opts="--fs ${fs_hz} --nj ${nj}"
        dur_opts="--min_duration ${min_wav_duration} --max_duration ${max_wav_duration}"
        items=("${raw}/${labeled_set}:${audio_opts} ${dur_opts} ${tok_opts}"
               "${raw}/${unlabeled_set}:--unlabeled ${audio_opts} ${dur_opts}")
        for s in ${valid_set} ${test_sets}; do items+=("${raw}/${s}:${audio_opts}"); done
        validate_sets "${expdir}/token_list/validate_${token_tag}" "${items[@]}"
    fi
fi

# Data options shared by statistics and training.
data_opts=(
    --token_list "${token_list}" --token_type "${token_type}"
    --frontend_conf "fs=${fs_hz}"
    --train_data_path_and_name_and_type "${raw}/${labeled_set}/wav.scp,speech,sound"
    --train_data_path_and_name_and_type "${raw}/${labeled_set}/text,text,text"
    --train_shape_file "${raw}/${labeled_set}/speech_shape"
    --train_shape_file "${raw}/${labeled_set}/text_shape.${token_tag}"
    --valid_data_path_and_name_and_type "${raw}/${valid_set}/wav.scp,speech,sound"
    --valid_data_path_and_name_and_type "${raw}/${valid_set}/text,text,text"
    --valid_shape_file "${raw}/${valid_set}/speech_shape"
    --valid_shape_file "${raw}/${valid_set}/text_shape.${token_tag}"
    --unlabeled_data_path_and_name_and_type "${raw}/${unlabeled_set}/wav.scp,speech,sound"
    --unlabeled_shape_file "${raw}/${unlabeled_set}/speech_shape"
    --fold_length "${speech_fold_length}" --fold_length "${text_fold_length}"
)
[ "${token_type}" = bpe ] && data_opts+=(--bpemodel "${bpemodel}")
normalize=$(effective_normalize)

# ------------------------------------------------------------------ 5. statistics
if run_stage 5 "${skip_train}"; then
    if [ "${normalize}" != global_mvn ]; then
        log "stage 5: skipped: ${train_config} uses normalize: ${normalize}, not global_mvn"
    elif newer_than "${stats_file}" "${train_config}" "${token_list}" \
            "${raw}/${labeled_set}/speech_shape" "${raw}/${unlabeled_set}/speech_shape" \
            "${raw}/${valid_set}/speech_shape"; then
        log "stage 5: ${stats_file} is up to date"
    else
        log "stage 5: global_mvn statistics over both streams -> ${stats_dir}"
        # shellcheck disable=SC2086
        run_logged "stage 5 (statistics)" "${stats_dir}/logdir/stats.log" ${train_cmd} -- \
            ${python} -m espnet_bljust.bin.bljust_train --collect_stats true --ngpu 0 \
                --config "${train_config}" --strategy "${strategy}" --output_dir "${stats_dir}" \
                "${data_opts[@]}" ${train_args} --normalize none
        [ -f "${stats_file}" ] || die "stage 5: no ${stats_file} written: see ${stats_dir}/logdir/stats.log"
    fi
fi

# ------------------------------------------------------------------ 6. training
if run_stage 6 "${skip_train}" && [ "${use_lm}" = true ]; then
    # The LM first: minutes at most, and a bad config fails here, not after the ASR run.
    [ -f "${token_list}" ] || die "stage 6: ${token_list} missing (run stage 4)"
    lm_opts=(--token_type "${token_type}")
    [ "${token_type}" = bpe ] && lm_opts+=(--bpemodel "${bpemodel}")
    log "stage 6: LM (${lm_config}) on the ${labeled_set} transcripts -> ${lm_exp}" \
        "(log: ${lm_exp}/train.log)"
    mkdir -p "${lm_exp}"
    rotate_log "${lm_exp}/train.log"
    # shellcheck disable=SC2086
    run_logged "stage 6 (LM training)" "${lm_exp}/train.log" ${train_cmd} -- \
        ${python} -m espnet_bljust.recipe.text_lm --config "${lm_config}" \
            --train_text "${raw}/${labeled_set}/text" --valid_text "${raw}/${valid_set}/text" \
            --token_list "${token_list}" "${lm_opts[@]}" --out_dir "${lm_exp}" ${lm_args}
    log "stage 6: $(grep '^LM: ' "${lm_exp}/train.log" | tail -n 1)"
fi
if run_stage 6 "${skip_train}"; then
    train_opts=(--config "${train_config}" --strategy "${strategy}"
                --output_dir "${asr_exp}" --resume true "${data_opts[@]}")
    if [ "${normalize}" = global_mvn ]; then
        [ -f "${stats_file}" ] || die "stage 6: ${stats_file} missing (run stage 5)"
        train_opts+=(--normalize global_mvn --normalize_conf "stats_file=${stats_file}")
    fi
    mkdir -p "${asr_exp}"
    train_log="${asr_exp}/train.log"
    if [ "${ngpu}" -le 1 ] && [ "${num_nodes}" -le 1 ]; then
        log "stage 6: training (${strategy}) -> ${asr_exp} (log: ${train_log})"
        rotate_log "${train_log}"
        # shellcheck disable=SC2086
        ${cuda_cmd} --gpu "${ngpu}" "${train_log}" \
            ${python} -m espnet_bljust.bin.bljust_train --ngpu "${ngpu}" \
            "${train_opts[@]}" ${train_args} > /dev/null 2>&1 &
    else
        log "stage 6: training (${strategy}) on ${num_nodes} node(s) x ${ngpu} GPU(s)" \
            "through espnet2.bin.launch -> ${asr_exp} (log: ${train_log})"
        # shellcheck disable=SC2086
        ${python} -m espnet2.bin.launch --cmd "${cuda_cmd} --name bljust_train" \
            --log "${train_log}" --ngpu "${ngpu}" --num_nodes "${num_nodes}" \
            --init_file_prefix "${asr_exp}/.dist_init_" --multiprocessing_distributed true -- \
            ${python} -m espnet_bljust.bin.bljust_train "${train_opts[@]}" ${train_args} \
            > "${asr_exp}/launch.log" 2>&1 &
    fi
    train_pid=$!
    # Follow the epoch summaries while it trains.
    tail --pid="${train_pid}" -n +1 -F "${train_log}" 2> /dev/null \
        | grep --line-buffered -E "epoch results:|Traceback" &
    follow_pid=$!
    status=0
    wait "${train_pid}" || status=$?
    wait "${follow_pid}" 2> /dev/null || true
    if [ "${status}" -ne 0 ]; then
        show_log_tail "${train_log}"
        die "stage 6 (training) failed: see ${train_log}"
    fi
    log "stage 6: trained; model $(resolve_model) in ${asr_exp}"
fi

# ------------------------------------------------------------------ 7. decoding
configs=("${inference_config}")
[ -n "${inference_config}" ] && read -r -a configs <<< "${inference_config}"

if run_stage 7 "${skip_eval}"; then
    model=$(resolve_model)
    if [ "${gpu_inference}" = true ]; then _cmd="${cuda_cmd}"; _ngpu=1; else _cmd="${decode_cmd}"; _ngpu=0; fi
    for cfg in "${configs[@]}"; do
        tag=$(inference_tag "${cfg}" "${model}")
        cfg_opts=()
        [ -n "${cfg}" ] && cfg_opts=(--config "${cfg}")
        if [ "${use_lm}" = true ] && fuses_lm "${cfg}"; then
            require_lm 7
            cfg_opts+=("${lm_model_opts[@]}")
            log "stage 7: ${cfg:-espnet2 defaults} fuses the LM ${lm_exp}/${inference_lm}"
        fi
        for t in ${test_sets}; do
            dir="${asr_exp}/${tag}/${t}"
            logdir="${dir}/logdir"
            keys="${raw}/${t}/wav.scp"
            [ -f "${keys}" ] || die "stage 7: ${keys} missing (run stage 3)"
            n=$(wc -l < "${keys}")
            _nj=$(( inference_nj < n ? inference_nj : n ))
            log "stage 7: decoding ${t} with ${cfg:-espnet2 defaults} and ${model}, ${_nj} job(s) -> ${dir}"
            rm -rf "${logdir}" "${dir}/1best_recog"
            mkdir -p "${logdir}" "${dir}/1best_recog"
            awk -v n="${n}" -v nj="${_nj}" -v out="${logdir}/keys" \
                '{ print > (out "." int((NR - 1) * nj / n) + 1 ".scp") }' "${keys}"
            threads=""
            [ "${_nj}" -gt 1 ] && threads="OMP_NUM_THREADS=1"
            # shellcheck disable=SC2086
            run_logged "stage 7 (decoding ${t})" "${logdir}/asr_inference.JOB.log" \
                ${_cmd} --gpu "${_ngpu}" JOB=1:"${_nj}" -- \
                ${threads} ${python} -m espnet2.bin.asr_inference --batch_size 1 --ngpu "${_ngpu}" \
                    --data_path_and_name_and_type "${keys},speech,sound" \
                    --key_file "${logdir}/keys.JOB.scp" \
                    --asr_train_config "${asr_exp}/config.yaml" \
                    --asr_model_file "${asr_exp}/${model}" \
                    --output_dir "${logdir}/output.JOB" "${cfg_opts[@]}" ${inference_args}
            for f in token token_int score text; do
                for (( j = 1; j <= _nj; j++ )); do
                    part="${logdir}/output.${j}/1best_recog/${f}"
                    [ -f "${part}" ] && cat "${part}"
                done | LC_ALL=C sort -k1,1 > "${dir}/1best_recog/${f}"
            done
            log "stage 7: $(wc -l < "${dir}/1best_recog/text") hypotheses in ${dir}/1best_recog/text"
        done
    done
fi

# ------------------------------------------------------------------ 8. scoring
results="${asr_exp}/RESULTS.md"
if run_stage 8 "${skip_eval}"; then
    model=$(resolve_model)
    log "stage 8: scoring -> ${results}"
    {
        echo "# ${corpus_name}: ${strategy} results"
        echo
        echo "- date: $(date '+%Y-%m-%d %H:%M')"
        echo "- model: \`${asr_exp}/${model}\`$( [ -L "${asr_exp}/${model}" ] && echo " (-> $(readlink "${asr_exp}/${model}"))")"
        echo "- train config: \`${train_config}\`, saved config: \`${asr_exp}/config.yaml\`"
        echo "- tokens: ${token_tag} (\`${token_list}\`), fs ${fs_hz} Hz, normalize ${normalize}"
        [ "${use_lm}" = true ] && echo "- LM: \`${lm_exp}/${inference_lm}\` (\`${lm_config}\`;" \
            "${labeled_set} transcripts), fused where the decoding config's lm_weight > 0"
        echo "- command: \`${full_command}\`"
        echo
        echo "| decoding | test set | utts | WER (%) | CER (%) |"
        echo "|---|---|---|---|---|"
    } > "${results}.tmp"
    for cfg in "${configs[@]}"; do
        tag=$(inference_tag "${cfg}" "${model}")
        for t in ${test_sets}; do
            dir="${asr_exp}/${tag}/${t}"
            [ -f "${dir}/1best_recog/text" ] || die "stage 8: ${dir}/1best_recog/text missing (run stage 7)"
            # shellcheck disable=SC2086
            run_logged "stage 8 (scoring ${t})" "${dir}/score/score.log" ${train_cmd} -- \
                ${python} -m espnet_bljust.bin.score --ref "${raw}/${t}/text" \
                    --hyp "${dir}/1best_recog/text" --name "${t}" --out "${dir}/score"
            ${python} - "${dir}/score/result.json" "${cfg:-default}" >> "${results}.tmp" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
name = os.path.basename(sys.argv[2]).rsplit(".yaml", 1)[0]
print(f"| {name} | {r['name']} | {r['utts']} | {r['wer']:.1f} | {r['cer']:.1f} |")
PY
        done
    done
    mv "${results}.tmp" "${results}"
    cat "${results}"
fi

# ------------------------------------------------------------------ 9. packing
if run_stage 9 "${skip_packing}"; then
    model=$(resolve_model)
    packed_name="${asr_exp##*/}_$(basename "${model}" .pth)"
    packed="${asr_exp}/${packed_name}.zip"
    pack_log="${asr_exp}/pack.log"
    log "stage 9: model card and packing -> ${packed} (log: ${pack_log})"
    card_opts=(--labeled "${raw}/${labeled_set}" --unlabeled "${raw}/${unlabeled_set}"
               --valid "${raw}/${valid_set}")
    for t in ${test_sets}; do card_opts+=(--test "${raw}/${t}"); done
    [ -f "${results}" ] && card_opts+=(--results "${results}")
    [ -n "${hf_repo}" ] && card_opts+=(--hf_repo "${hf_repo}")
    [ "${use_lm}" = true ] && card_opts+=(--lm_config "${lm_config}")
    : > "${pack_log}"
    if ! ${python} -m espnet_bljust.recipe.model_card write --out "${asr_exp}/README.md" \
            --asr_config "${asr_exp}/config.yaml" --corpus "${corpus_name}" \
            --data_license "${data_license}" --model_license "${model_license}" --lang "${lang}" \
            --train_config "${train_config}" --command "${full_command}" "${card_opts[@]}" \
            >> "${pack_log}" 2>&1; then
        show_log_tail "${pack_log}"
        die "stage 9 (model card) failed: see ${pack_log}"
    fi
    pack_opts=(--option "${asr_exp}/README.md")
    if [ -f "${results}" ]; then
        pack_opts+=(--option "${results}")
    else
        log "stage 9: WARNING: no ${results} (stage 8 not run): packing without results"
    fi
    [ "${token_type}" = bpe ] && pack_opts+=(--option "${bpemodel}")
    [ "${normalize}" = global_mvn ] && pack_opts+=(--option "${stats_file}")
    if [ "${use_lm}" = true ]; then
        require_lm 9
        pack_opts+=("${lm_model_opts[@]}")
    fi
    for cfg in "${configs[@]}"; do
        [ -n "${cfg}" ] && pack_opts+=(--option "${cfg}")
    done
    rm -f "${packed}"
    if ! ${python} -m espnet2.bin.pack asr --asr_train_config "${asr_exp}/config.yaml" \
            --asr_model_file "${asr_exp}/${model}" "${pack_opts[@]}" --outpath "${packed}" \
            >> "${pack_log}" 2>&1; then
        show_log_tail "${pack_log}"
        die "stage 9 (packing) failed: see ${pack_log}"
    fi
    # Load it back as a user would (espnet_model_zoo unpacks a local zip; a fresh cache
    # dir, as the zoo reuses an unpacked copy of the same path) and transcribe one
    # test utterance.
    first_test="${test_sets%% *}"
    check_dir="${asr_exp}/packed_check"
    rm -rf "${check_dir}"
    if ! ${python} - "${packed}" "${check_dir}" "${raw}/${first_test}/wav.scp" \
            >> "${pack_log}" 2>&1 <<'PY'
import sys
import soundfile
from espnet2.bin.asr_inference import Speech2Text
from espnet_model_zoo.downloader import ModelDownloader

packed, cache, scp = sys.argv[1:4]
files = ModelDownloader(cachedir=cache).download_and_unpack(packed)
speech2text = Speech2Text(**files, ctc_weight=1.0, lm_weight=0.0, beam_size=1, device="cpu")
uid, path = open(scp, encoding="utf-8").readline().split(maxsplit=1)
speech, _ = soundfile.read(path.strip())
text = speech2text(speech)[0][0]
print(f"packed model check: {uid} -> {text!r}")
PY
    then
        show_log_tail "${pack_log}"
        die "stage 9: the packed model does not load or decode: see ${pack_log}"
    fi
    rm -rf "${check_dir}"
    grep "packed model check" "${pack_log}" || true
    log "stage 9: packed ${packed} ($(du -h "${packed}" | cut -f1))"
fi

# ------------------------------------------------------------------ 10. upload
if run_stage 10 "${skip_upload_hf}"; then
    [ -n "${hf_repo}" ] || die "stage 10: --hf_repo <user>/<name> is required to upload"
    model=$(resolve_model)
    packed_name="${asr_exp##*/}_$(basename "${model}" .pth)"
    packed="${asr_exp}/${packed_name}.zip"
    [ -f "${packed}" ] || die "stage 10: ${packed} missing (run stage 9)"
    hf_dir="${expdir}/hf_${packed_name}"
    hf_log="${expdir}/hf_${packed_name}.log"
    log "stage 10: preparing ${hf_dir} and uploading to https://huggingface.co/${hf_repo}"
    rm -rf "${hf_dir}"
    mkdir -p "${hf_dir}"
    ${python} -m zipfile -e "${packed}" "${hf_dir}" > "${hf_log}" 2>&1 \
        || die "stage 10: could not unpack ${packed}: see ${hf_log}"
    cp "${asr_exp}/README.md" "${hf_dir}/README.md"
    push_status=0
    ${python} -m espnet_bljust.recipe.model_card push --folder "${hf_dir}" \
        --hf_repo "${hf_repo}" >> "${hf_log}" 2>&1 || push_status=$?
    if [ "${push_status}" -eq 3 ]; then  # the hub cannot be reached: skip, say how to push later
        log "stage 10: push skipped: $(tail -n 1 "${hf_log}")"
        log "stage 10: the repo folder is ready in ${hf_dir}; push it later with:" \
            "${python} -m espnet_bljust.recipe.model_card push --folder ${hf_dir} --hf_repo ${hf_repo}"
    elif [ "${push_status}" -ne 0 ]; then
        grep -v '^#' "${hf_log}" | tail -n 3 >&2 || true
        die "stage 10: upload failed (the folder is ready in ${hf_dir}; log: ${hf_log})"
    else
        tail -n 1 "${hf_log}"
    fi
fi

log "done"
