#!/usr/bin/env bash
# The BL-JUST recipe pipeline, shared by every egs2/<corpus>/bljust1/run.sh (each recipe
# links bljust.sh -> ../../TEMPLATE/bljust1/bljust.sh and runs it from its own directory).
# It keeps ESPnet's asr.sh contract: the same stage numbers and, where they mean the same,
# the same option names; BL-JUST adds the unlabeled set (--unlabeled_set) and the training
# strategy (--strategy). ./run.sh --help lists every option.
#
# Stages (those with stage <= N <= stop_stage run; logs under exp/):
#   1. data prep:      local/data.sh --python <python> <--local_data_opts> writes
#                      data/{train,unlabeled,valid,test sets}; the lists are validated
#                      (ids, transcripts, labeled/unlabeled overlap)   [--skip_data_prep]
#   2. speed perturb:  data/<train_set>_sp (and <unlabeled_set>_sp with
#                      --speed_perturb_unlabeled true), one copy per factor of
#                      --speed_perturb_factors (sox "speed": tempo and pitch)
#   3. format wav:     audio to PCM16 mono wav at --fs: the training and valid sets in
#                      dump/raw/org/<set>/, the test sets in dump/raw/<set>/
#   4. remove long/short: dump/raw/org/<set> -> dump/raw/<set> without the utterances
#                      outside --min_wav_duration/--max_wav_duration (or without text);
#                      the dumped audio of every set is validated
#   5. token list:     char or bpe (sentencepiece, --nbpe, --bpemode) from the labeled
#                      text only, with espnet2.bin.tokenize_text, in data/token_list/<tag>/;
#                      text shapes; the labeled text is validated against the list
#   6. LM prep:        the LM's text: the labeled transcripts (the unlabeled set has none)
#   7. LM training:    espnet2's LM task (espnet_bljust.recipe.text_lm)   [--use_lm]
#   8. LM perplexity:  espnet2.bin.lm_calc_perplexity on the first test set's text
#   9. n-gram LM:      does nothing, and says why                 (6-9: [--skip_train])
#  10. collect stats:  global_mvn statistics over both streams (only where the training
#                      normalizes with global_mvn; otherwise it says so)
#  11. training:       espnet_bljust.bin.bljust_train --resume true under ${cuda_cmd};
#                      --ngpu > 1 or --num_nodes > 1 through espnet2.bin.launch; one
#                      console line per epoch                           [--skip_train]
#  12. decoding:       espnet2.bin.asr_inference, --inference_nj jobs per test set, once
#                      per --inference_config; the LM fused where lm_weight > 0
#  13. scoring:        WER/CER per decoding and test set into <asr_exp>/RESULTS.md
#                                                                (12-13: [--skip_eval])
#  14. packing:        model card and espnet2.bin.pack zip, loaded back and one test
#                      utterance transcribed                          [--skip_packing]
#  15. upload:         to the Hugging Face hub (--hf_repo)      [--skip_upload_hf true]
# A restart (--stage N) reuses what earlier stages wrote; stage 3 skips sets already
# formatted with the same settings.
#
# Recipe interface: egs2/<corpus>/bljust1/ holds run.sh (calls ./bljust.sh with its
# options and "$@", through utils/recipe.sh's run_bljust), bljust.sh, path.sh and cmd.sh (links to the template's), utils (a
# link to the repository's local/: Kaldi's run.pl, slurm.pl, parse_options.sh), db.sh
# (corpus locations), local/data.sh (Kaldi dirs data/<set>/: wav.scp, utt2spk, spk2utt,
# and text for every set but the unlabeled one; idempotent; takes --python), conf/.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (bljust.sh) $*"; }
die() { log "ERROR: $*" >&2; exit 1; }
# unique_words <words...>: each word once, in first-seen order (a set named twice is one set)
unique_words() { echo "$@" | tr ' ' '\n' | awk 'NF && !seen[$0]++' | xargs; }

full_command="$0$(printf ' %q' "$@")"
min_stage=1
max_stage=15

# <options> (name=default  # meaning; ./run.sh --help prints them)
stage=1                    # first stage to run (1-15)
stop_stage=15              # last stage to run (1-15; larger, e.g. asr.sh's 10000: to the end)
skip_data_prep=false       # skip stages 1-5
skip_train=false           # skip stages 6-11
skip_eval=false            # skip stages 12-13
skip_packing=false         # skip stage 14
skip_upload_hf=true        # skip stage 15
ngpu=0                     # GPUs per node for training (0: CPU)
num_nodes=1                # nodes for training (more than 1 needs cmd_backend=slurm)
nj=2                       # parallel jobs of stages 3-5
inference_nj=2             # decoding jobs per test set
gpu_inference=false        # decode on a GPU
python=python3             # the Python that runs espnet2 and espnet_bljust
local_data_opts=           # options of local/data.sh
train_set=train_labeled    # the labeled training set
unlabeled_set=train_unlabeled  # the unlabeled training set (no text)
valid_set=dev              # the validation set
test_sets=test             # the test sets (space separated)
speed_perturb_factors=     # speed perturbation factors, e.g. "0.9 1.0 1.1" (empty: none)
speed_perturb_unlabeled=false  # perturb the unlabeled set too
fs=16k                     # sampling rate of the dumped audio (16000 or 16k)
feats_type=raw             # asr.sh's; raw only: the dumped audio is the model's input
audio_format=wav           # asr.sh's; wav only: the dump is PCM16 wav
min_wav_duration=0.1       # shorter training utterances are removed (seconds)
max_wav_duration=20        # longer training utterances are removed (seconds)
token_type=char            # char or bpe
nbpe=30                    # bpe: sentencepiece vocabulary size
bpemode=unigram            # bpe: unigram or bpe
strategy=                  # bljust, just, pt_ft or supervised (empty: the config's)
asr_config=                # the training config (required)
asr_args=                  # more options of espnet_bljust.bin.bljust_train
asr_tag=                   # experiment tag (empty: from asr_config, strategy and asr_args)
asr_exp=                   # experiment dir (empty: <expdir>/asr_<asr_tag>)
use_lm=false               # train a token LM on the labeled text (stages 6-8), fuse it
lm_config=                 # the LM's training config (with --use_lm true)
lm_args=                   # more options of espnet2.bin.lm_train
lm_tag=                    # LM tag (empty: from lm_config and the token type)
inference_lm=valid.loss.best.pth  # the LM model file decoding fuses
inference_config=          # decoding configs (space separated; empty: espnet2 defaults)
inference_args=            # more options of espnet2.bin.asr_inference
inference_asr_model=       # model file to decode and pack (empty: the best there is)
inference_tag=             # decode dir name (empty: from the config, inference_args, the LM and the model)
expdir=exp                 # where experiments go
dumpdir=dump               # where dumped audio and lists go
corpus_name=               # corpus name of the model card (empty: the recipe's)
data_license="see the corpus documentation"  # data license of the model card
model_license=cc-by-4.0    # model license of the model card
lang=en                    # language of the model card
hf_repo=                   # Hugging Face repository <user>/<name> of stage 15
speech_fold_length=80000   # espnet2 --fold_length of the speech
text_fold_length=150       # espnet2 --fold_length of the text
# </options>

help_message="Usage: $0 [options]   (asr.sh's stages and option names; --a_b or --a-b)
Options (default):
$(sed -n '/^# <options>/,/^# <\/options>/p' "${BASH_SOURCE[0]}" | grep -E '^[a-z_]+=' \
    | sed -E 's/^([a-z_]+)=("[^"]*"|[^ ]*) *# (.*)$/\1\t\2\t\3/' \
    | awk -F '\t' '{ printf "  --%-24s %s (default: %s)\n", $1, $3, ($2 == "" ? "\"\"" : $2) }')"
help_message="${help_message//%/%%}"  # parse_options.sh prints it with printf

# shellcheck disable=SC1091
. utils/parse_options.sh
[ $# -eq 0 ] || die "unexpected argument $1 (options are --name value; see --help)"

[[ "${stage}" =~ ^[0-9]+$ ]] && [ "${stage}" -ge "${min_stage}" ] && [ "${stage}" -le "${max_stage}" ] \
    || die "--stage ${stage}: no such stage (stages are ${min_stage}-${max_stage}; see --help)"
# as asr.sh: a last stage beyond the end (its default is 10000) runs to the end
[[ "${stop_stage}" =~ ^[0-9]+$ ]] && [ "${stop_stage}" -ge "${min_stage}" ] \
    || die "--stop_stage ${stop_stage}: no such stage (stages are ${min_stage}-${max_stage}; see --help)"
[ "${stage}" -le "${stop_stage}" ] || die "--stage ${stage} is after --stop_stage ${stop_stage}"
for o in nj inference_nj num_nodes nbpe speech_fold_length text_fold_length; do
    [[ "${!o}" =~ ^[1-9][0-9]*$ ]] || die "--${o} ${!o}: not a positive integer"
done
[[ "${ngpu}" =~ ^[0-9]+$ ]] || die "--ngpu ${ngpu}: not a number of GPUs (0: CPU)"
for o in min_wav_duration max_wav_duration; do
    [[ "${!o}" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] || die "--${o} ${!o}: not a duration in seconds"
done
awk -v lo="${min_wav_duration}" -v hi="${max_wav_duration}" 'BEGIN { exit !(lo <= hi) }' \
    || die "--min_wav_duration ${min_wav_duration} is above --max_wav_duration ${max_wav_duration}"
for o in train_set unlabeled_set valid_set test_sets; do
    [ -n "${!o// /}" ] || die "--${o} is empty: name the set (see --help)"
done
test_sets=$(unique_words ${test_sets})
[ "${feats_type}" = raw ] || die "--feats_type ${feats_type}: only raw (the model reads the dumped audio)"
[ "${audio_format}" = wav ] || die "--audio_format ${audio_format}: only wav (the dump is PCM16 wav)"

# shellcheck disable=SC1091
[ -f ./path.sh ] && . ./path.sh
# shellcheck disable=SC1091
[ -f ./cmd.sh ] && . ./cmd.sh
: "${train_cmd:?cmd.sh must export train_cmd}"
: "${cuda_cmd:?cmd.sh must export cuda_cmd}"
: "${decode_cmd:?cmd.sh must export decode_cmd}"
for c in "${train_cmd}" "${cuda_cmd}" "${decode_cmd}"; do
    [ -x "${c%% *}" ] || command -v "${c%% *}" > /dev/null || die "job backend ${c%% *} not found (cmd.sh)"
done
${python} -c "import espnet_bljust" 2> /dev/null \
    || die "--python ${python} cannot import espnet_bljust: source path.sh (make install builds .venv)"

[ -n "${asr_config}" ] || die "--asr_config is required"
[ -f "${asr_config}" ] || die "--asr_config ${asr_config}: no such file"
for cfg in ${inference_config}; do
    [ -f "${cfg}" ] || die "--inference_config ${cfg}: no such file"
done
n_configs=$(echo ${inference_config} | wc -w)
[ -z "${inference_tag}" ] || [ "${n_configs}" -le 1 ] \
    || die "--inference_tag ${inference_tag} with ${n_configs} --inference_config: they would share one decode dir"
case "${token_type}" in char|bpe) ;; *) die "--token_type ${token_type}: must be char or bpe" ;; esac
case "${bpemode}" in unigram|bpe) ;; *) die "--bpemode ${bpemode}: must be unigram or bpe" ;; esac
case "${strategy}" in ""|bljust|just|pt_ft|supervised) ;; *) die "--strategy ${strategy}: not one of bljust, just, pt_ft, supervised" ;; esac
if [ "${use_lm}" = true ]; then
    [ -n "${lm_config}" ] || die "--use_lm true needs --lm_config"
    [ -f "${lm_config}" ] || die "--lm_config ${lm_config}: no such file"
fi
for f in ${speed_perturb_factors}; do
    [[ "${f}" =~ ^[0-9]*\.?[0-9]+$ ]] || die "--speed_perturb_factors: ${f} is not a factor (e.g. \"0.9 1.0 1.1\")"
done
fs_hz="${fs}"
[[ "${fs}" =~ ^[1-9][0-9]*k$ ]] && fs_hz=$(( ${fs%k} * 1000 ))
[[ "${fs_hz}" =~ ^[1-9][0-9]*$ ]] || die "--fs ${fs}: not a sampling rate (16000 or 16k)"
if [ "${num_nodes}" -gt 1 ] && [[ "${cuda_cmd}" != *slurm.pl* ]]; then
    die "--num_nodes ${num_nodes} needs a cluster backend (cmd_backend=slurm in cmd.sh)"
fi

data=data
raw="${dumpdir}/raw"
# Speed perturbation makes new training sets; every later stage uses them (as asr.sh).
org_train_set="${train_set}"
org_unlabeled_set="${unlabeled_set}"
if [ -n "${speed_perturb_factors}" ]; then
    train_set="${train_set}_sp"
    [ "${speed_perturb_unlabeled}" = true ] && unlabeled_set="${unlabeled_set}_sp"
fi
if [ "${token_type}" = bpe ]; then
    token_tag="bpe_${bpemode}${nbpe}"
else
    token_tag=char
fi
token_dir="${data}/token_list/${token_tag}"
token_list="${token_dir}/tokens.txt"
bpemodel="${token_dir}/bpe.model"
if [ -z "${asr_tag}" ]; then  # as asr.sh: the config's name, then what changes it
    asr_tag="$(basename "${asr_config}" .yaml)_${token_tag}"
    [ -n "${strategy}" ] && asr_tag+="_${strategy}"
    [ -n "${asr_args}" ] && asr_tag+="$(echo "${asr_args}" | sed -e 's/--/_/g' -e 's/[ |=/]//g')"
    [ -n "${speed_perturb_factors}" ] && asr_tag+="_sp"
fi
[ -n "${asr_exp}" ] || asr_exp="${expdir}/asr_${asr_tag}"
stats_dir="${expdir}/asr_stats_raw_${token_tag}"
[ -n "${speed_perturb_factors}" ] && stats_dir+="_sp"  # statistics of the perturbed sets
stats_file="${stats_dir}/train/feats_stats.npz"
[ -n "${lm_tag}" ] || lm_tag="$(basename "${lm_config:-lm}" .yaml)_${token_tag}"
lm_exp="${expdir}/lm_${lm_tag}"
# The trained LM, as asr_inference and pack take it (stages 12 and 14).
lm_model_opts=(--lm_train_config "${lm_exp}/config.yaml" --lm_file "${lm_exp}/${inference_lm}")
strategy_opts=()
[ -n "${strategy}" ] && strategy_opts=(--strategy "${strategy}")
[ -n "${corpus_name}" ] || corpus_name=$(basename "$(dirname "${PWD}")")
labeled_sets=$(unique_words ${train_set} ${valid_set} ${test_sets})

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
    if ! "${backend[@]}" "${logfile}" "$@" 2> /dev/null; then
        show_log_tail "${logfile/JOB/1}"
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

effective_normalize() {
    # The normalize layer of the training: --normalize in --asr_args, else the config's.
    local args i value=
    read -r -a args <<< "${asr_args}"
    for (( i = 0; i < ${#args[@]}; i++ )); do
        if [ "${args[${i}]}" = --normalize ] && [ $(( i + 1 )) -lt ${#args[@]} ]; then
            value="${args[$(( i + 1 ))]}"
        fi
    done
    if [ -z "${value}" ]; then
        value=$(${python} -c 'import sys, yaml
c = yaml.safe_load(open(sys.argv[1])) or {}
print(c.get("normalize", "utterance_mvn"))' "${asr_config}")
    fi
    echo "${value}"
}

validate_sets() {
    # validate_sets <logdir> <set dir>:<options> ...: run validate_data on every set,
    # then stop with every problem printed if any set failed.
    local logdir="$1" item dir opts name n failed=()
    shift
    mkdir -p "${logdir}"
    for item in "$@"; do
        dir="${item%%:*}"
        opts="${item#*:}"
        name=$(basename "${dir}")
        # shellcheck disable=SC2086
        if ! ${train_cmd} "${logdir}/${name}.log" \
                ${python} -m espnet_bljust.bin.validate_data "${dir}" ${opts} 2> /dev/null; then
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
    if [ -n "${inference_asr_model}" ]; then
        [ -e "${asr_exp}/${inference_asr_model}" ] \
            || die "--inference_asr_model ${inference_asr_model}: not in ${asr_exp} (train first: stage 11)"
        echo "${inference_asr_model}"
        return
    fi
    for m in valid.cer_ctc.best.pth valid.cer_ctc.ave.pth valid.acc.ave.pth valid.acc.best.pth \
             valid.loss.best.pth latest.pth; do
        if [ -e "${asr_exp}/${m}" ]; then echo "${m}"; return; fi
    done
    die "no trained model in ${asr_exp} (run stage 11 first)"
}

decode_tag() {
    # decode_tag <config or empty> <model>: the decode dir name: --inference_tag, else (as
    # asr.sh) the config's name, the --inference_args, the LM where it is fused, the model.
    local tag=default
    if [ -n "${inference_tag}" ]; then echo "${inference_tag}"; return; fi
    [ -n "$1" ] && tag=$(basename "$1" .yaml)
    [ -n "${inference_args}" ] && tag+="$(echo "${inference_args}" | sed -e 's/--/_/g' -e 's/[ |=/]//g')"
    if [ "${use_lm}" = true ] && fuses_lm "$1"; then
        tag+="_$(basename "${lm_exp}")_$(basename "${inference_lm}" .pth)"
    fi
    echo "${tag}_$(basename "$2" .pth)"
}

require_lm() {
    # require_lm <stage>: die naming the stage where stage 7 has not trained the LM.
    [ -e "${lm_exp}/${inference_lm}" ] \
        || die "stage $1: ${lm_exp}/${inference_lm} missing (run stage 7 with --use_lm true)"
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

spk2utt_of() {
    # spk2utt_of <data dir>: write its spk2utt from its utt2spk.
    awk '{ u[$2] = u[$2] " " $1 } END { for (s in u) print s u[s] }' "$1/utt2spk" \
        | LC_ALL=C sort -k1,1 > "$1/spk2utt"
}

perturb_speed() {
    # perturb_speed <src dir> <dst dir>: one copy of the set per --speed_perturb_factors
    # factor, ids prefixed sp<factor>- (factor 1 keeps them), audio through sox "speed".
    local src="$1" dst="$2" f prefix f_list
    rm -rf "${dst}"
    mkdir -p "${dst}"
    for f in ${speed_perturb_factors}; do
        if awk -v f="${f}" 'BEGIN { exit !(f == 1) }'; then prefix=""; else prefix="sp${f}-"; fi
        f_list="wav.scp utt2spk"
        [ -f "${src}/text" ] && f_list+=" text"
        awk -v p="${prefix}" -v f="${f}" '{
            id = $1; $1 = ""; v = substr($0, 2)
            if (p == "") { print id " " v; next }
            if (v ~ /\|[ \t]*$/) print p id " " v " sox -t wav - -t wav - speed " f " |"
            else print p id " sox " v " -t wav - speed " f " |" }' "${src}/wav.scp" >> "${dst}/wav.scp"
        awk -v p="${prefix}" '{ print p $1 " " p $2 }' "${src}/utt2spk" >> "${dst}/utt2spk"
        if [ -f "${src}/text" ]; then
            awk -v p="${prefix}" '{ id = $1; $1 = ""; print p id $0 }' "${src}/text" >> "${dst}/text"
        fi
    done
    for f in ${f_list}; do
        LC_ALL=C sort -k1,1 -o "${dst}/${f}" "${dst}/${f}"
    done
    spk2utt_of "${dst}"
}

filter_set() {
    # filter_set <src dir> <dst dir> <utterance list>: dst keeps src's lines of those ids.
    local src="$1" dst="$2" keep="$3" f
    rm -rf "${dst}"
    mkdir -p "${dst}"
    for f in wav.scp text utt2spk utt2dur utt2num_samples speech_shape; do
        [ -f "${src}/${f}" ] || continue
        awk 'NR == FNR { k[$1] = 1; next } ($1 in k)' "${keep}" "${src}/${f}" > "${dst}/${f}"
    done
    spk2utt_of "${dst}"
}

text_shape() {
    # text_shape <text> <out>: "<id> <tokens>,<vocabulary size>" per line, tokenized by
    # espnet2.bin.tokenize_text as the training tokenizes.
    local opts=(--token_type "${token_type}")
    [ "${token_type}" = bpe ] && opts+=(--bpemodel "${bpemodel}")
    paste -d ' ' <(cut -d ' ' -f 1 "$1") \
        <(${python} -m espnet2.bin.tokenize_text "${opts[@]}" --input "$1" --output - --field 2- \
                2>> "${tok_log}" | awk -v n="$(wc -l < "${token_list}")" '{ print NF "," n }') > "$2"
}

mkdir -p "${expdir}"
log "$(hostname): ${full_command}"

# ------------------------------------------------------------------ 1. data prep
if run_stage 1 "${skip_data_prep}"; then
    log "stage 1: data preparation (local/data.sh) -> ${data}/"
    [ -x local/data.sh ] || die "stage 1: local/data.sh not found or not executable in ${PWD}"
    # shellcheck disable=SC2086
    if ! local/data.sh --python "${python}" ${local_data_opts} > "${expdir}/data_prep.log" 2>&1; then
        show_log_tail "${expdir}/data_prep.log"
        die "stage 1 (data preparation) failed: see ${expdir}/data_prep.log"
    fi
    grep -v '^#' "${expdir}/data_prep.log" | tail -n 8 || true
    # The lists only (--skip_audio): the audio may be at any rate here; stage 3 reads
    # every file and stage 4 checks the formatted audio.
    items=("${data}/${org_train_set}:--skip_audio --overlap_with ${data}/${org_unlabeled_set}"
           "${data}/${org_unlabeled_set}:--skip_audio --unlabeled")
    for s in ${valid_set} ${test_sets}; do items+=("${data}/${s}:--skip_audio"); done
    validate_sets "${expdir}/validate" "${items[@]}"
fi

# ------------------------------------------------------------------ 2. speed perturbation
if run_stage 2 "${skip_data_prep}"; then
    if [ -z "${speed_perturb_factors}" ]; then
        log "stage 2: no speed perturbation (--speed_perturb_factors is empty)"
    else
        sp_sets="${org_train_set}"
        [ "${speed_perturb_unlabeled}" = true ] && sp_sets+=" ${org_unlabeled_set}"
        command -v sox > /dev/null || die "stage 2: speed perturbation needs sox (apt-get install sox)"
        items=()
        for s in ${sp_sets}; do
            [ -f "${data}/${s}/wav.scp" ] || die "stage 2: ${data}/${s}/wav.scp missing (run stage 1)"
            log "stage 2: speed perturbation (${speed_perturb_factors}) ${data}/${s} -> ${data}/${s}_sp"
            perturb_speed "${data}/${s}" "${data}/${s}_sp"
            opts="--skip_audio"
            [ "${s}" = "${org_unlabeled_set}" ] && opts+=" --unlabeled"
            items+=("${data}/${s}_sp:${opts}")
        done
        validate_sets "${expdir}/validate" "${items[@]}"
    fi
fi

# ------------------------------------------------------------------ 3. format wav
if run_stage 3 "${skip_data_prep}"; then
    # as asr.sh: the training and valid sets into org/ (stage 4 filters them into
    # dump/raw/), the other test sets straight into dump/raw/; each set once
    for s in $(unique_words ${train_set} ${unlabeled_set} ${valid_set} ${test_sets}); do
        [ -f "${data}/${s}/wav.scp" ] || die "stage 3: ${data}/${s}/wav.scp missing (run stages 1-2)"
        out="${raw}/org/${s}"
        case " ${train_set} ${unlabeled_set} ${valid_set} " in
            *" ${s} "*) ;;
            *) out="${raw}/${s}" ;;
        esac
        stamp="${out}/.done"  # the settings it was made with
        if newer_than "${stamp}" "${data}/${s}/wav.scp" "${data}/${s}/text" "${data}/${s}/utt2spk" \
                && [ "$(cat "${stamp}")" = "--fs ${fs_hz}" ]; then
            log "stage 3: ${out} is up to date"
            continue
        fi
        log "stage 3: formatting ${data}/${s} -> ${out} (--fs ${fs_hz})"
        rm -f "${stamp}"
        # shellcheck disable=SC2086
        run_logged "stage 3 (format ${s})" "${expdir}/format/${s}.log" \
            ${train_cmd} --num_threads "${nj}" -- \
            ${python} -m espnet_bljust.data.format_wav --fs "${fs_hz}" --nj "${nj}" "${data}/${s}" "${out}"
        grep -h "utterances at" "${expdir}/format/${s}.log" || true
        echo "--fs ${fs_hz}" > "${stamp}"
    done
fi

# ------------------------------------------------------------------ 4. remove long/short
if run_stage 4 "${skip_data_prep}"; then
    for s in ${train_set} ${unlabeled_set} ${valid_set}; do
        org="${raw}/org/${s}"
        [ -f "${org}/utt2dur" ] || die "stage 4: ${org}/utt2dur missing (run stage 3)"
        keep="${org}/keep"
        awk -v lo="${min_wav_duration}" -v hi="${max_wav_duration}" \
            '$2 >= lo && $2 <= hi { print $1 }' "${org}/utt2dur" > "${keep}"
        if [ -f "${org}/text" ]; then  # and no utterance without a transcript
            awk 'NR == FNR { if (NF > 1) t[$1] = 1; next } ($1 in t)' "${org}/text" "${keep}" \
                > "${keep}.tmp" && mv "${keep}.tmp" "${keep}"
        fi
        filter_set "${org}" "${raw}/${s}" "${keep}"
        log "stage 4: ${raw}/${s}: $(wc -l < "${keep}") of $(wc -l < "${org}/utt2dur") utterances" \
            "within ${min_wav_duration}-${max_wav_duration} s (with text where labeled)"
        [ -s "${keep}" ] || die "stage 4: no utterance of ${s} is left (--min_wav_duration/--max_wav_duration)"
    done
    audio_opts="--fs ${fs_hz} --nj ${nj} --loader sound"  # as training reads them: no pipes
    dur_opts="--min_duration ${min_wav_duration} --max_duration ${max_wav_duration}"
    items=("${raw}/${train_set}:${audio_opts} ${dur_opts}"
           "${raw}/${unlabeled_set}:--unlabeled ${audio_opts} ${dur_opts}")
    for s in $(unique_words ${valid_set} ${test_sets}); do
        [ "${s}" = "${train_set}" ] || [ "${s}" = "${unlabeled_set}" ] || items+=("${raw}/${s}:${audio_opts}")
    done
    validate_sets "${expdir}/validate_dump" "${items[@]}"
fi

# ------------------------------------------------------------------ 5. token list
if run_stage 5 "${skip_data_prep}"; then
    labeled_text="${raw}/${train_set}/text"
    [ -f "${labeled_text}" ] || die "stage 5: ${labeled_text} missing (run stage 4)"
    log "stage 5: ${token_type} token list from ${labeled_text} -> ${token_list}"
    mkdir -p "${token_dir}"
    tok_log="${expdir}/token_list/${token_tag}.log"
    mkdir -p "$(dirname "${tok_log}")"
    : > "${tok_log}"
    if [ "${token_type}" = bpe ]; then
        cut -d ' ' -f 2- "${labeled_text}" > "${token_dir}/train.txt"
        # sentencepiece's trainer (espnet2 has none of its own), with asr.sh's settings
        if ! ${python} -c 'import sys, sentencepiece
sentencepiece.SentencePieceTrainer.train(" ".join(sys.argv[1:]))' \
                --input="${token_dir}/train.txt" --vocab_size="${nbpe}" --model_type="${bpemode}" \
                --model_prefix="${bpemodel%.model}" --character_coverage=1.0 \
                --input_sentence_size=100000000 >> "${tok_log}" 2>&1; then
            show_log_tail "${tok_log}"
            die "stage 5: sentencepiece training failed (--nbpe ${nbpe} too large for the labeled text?): see ${tok_log}"
        fi
        tok_opts=(--token_type bpe --bpemodel "${bpemodel}")
    else
        tok_opts=(--token_type char)
    fi
    run_logged "stage 5 (token list)" "${tok_log}" ${train_cmd} -- \
        ${python} -m espnet2.bin.tokenize_text "${tok_opts[@]}" --input "${labeled_text}" \
            --output "${token_list}" --field 2- --write_vocabulary true \
            --add_symbol "'<blank>:0'" --add_symbol "'<unk>:1'" --add_symbol "'<sos/eos>:-1'"  # run.pl evals
    log "stage 5: $(wc -l < "${token_list}") tokens"
    for s in ${labeled_sets}; do
        text_shape "${raw}/${s}/text" "${raw}/${s}/text_shape.${token_tag}"
    done
    # The labeled training text against the list (dev and test transcripts may hold
    # units it lacks: they become <unk>, which scoring counts as errors).
    check_opts="--skip_audio --token_list ${token_list} --token_type ${token_type}"
    [ "${token_type}" = bpe ] && check_opts+=" --bpemodel ${bpemodel}"
    validate_sets "${expdir}/validate_${token_tag}" "${raw}/${train_set}:${check_opts}"
fi

# ------------------------------------------------------------------ 6-9. LM
lm_dir="${lm_exp}/data"
if run_stage 6 "${skip_train}"; then
    if [ "${use_lm}" = false ]; then
        log "stage 6: no LM (--use_lm false): no LM text to prepare"
    else
        # The LM's text: the labeled transcripts only (BL-JUST's unlabeled set has none,
        # and the test transcripts stay unseen); text_lm writes its shapes in stage 7.
        for s in ${train_set} ${valid_set}; do
            [ -f "${raw}/${s}/text" ] || die "stage 6: ${raw}/${s}/text missing (run stage 4)"
        done
        mkdir -p "${lm_dir}"
        cp "${raw}/${train_set}/text" "${lm_dir}/train.txt"
        cp "${raw}/${valid_set}/text" "${lm_dir}/valid.txt"
        log "stage 6: LM text: $(wc -l < "${lm_dir}/train.txt") ${train_set} transcripts," \
            "$(wc -l < "${lm_dir}/valid.txt") ${valid_set} transcripts -> ${lm_dir}"
    fi
fi

if run_stage 7 "${skip_train}" && [ "${use_lm}" = false ]; then
    log "stage 7: no LM (--use_lm false): no LM to train"
elif run_stage 7 "${skip_train}"; then
    [ -f "${token_list}" ] || die "stage 7: ${token_list} missing (run stage 5)"
    [ -f "${lm_dir}/train.txt" ] || die "stage 7: ${lm_dir}/train.txt missing (run stage 6)"
    lm_opts=(--token_type "${token_type}")
    [ "${token_type}" = bpe ] && lm_opts+=(--bpemodel "${bpemodel}")
    log "stage 7: LM training (${lm_config}) -> ${lm_exp} (log: ${lm_exp}/train.log)"
    rotate_log "${lm_exp}/train.log"
    # shellcheck disable=SC2086
    run_logged "stage 7 (LM training)" "${lm_exp}/train.log" ${train_cmd} -- \
        ${python} -m espnet_bljust.recipe.text_lm --config "${lm_config}" \
            --train_text "${lm_dir}/train.txt" --valid_text "${lm_dir}/valid.txt" \
            --token_list "${token_list}" "${lm_opts[@]}" --out_dir "${lm_exp}" ${lm_args}
    log "stage 7: $(grep '^LM: ' "${lm_exp}/train.log" | tail -n 1)"
fi

if run_stage 8 "${skip_train}" && [ "${use_lm}" = false ]; then
    log "stage 8: no LM (--use_lm false): no perplexity to compute"
elif run_stage 8 "${skip_train}"; then
    require_lm 8
    lm_test="${test_sets%% *}"
    ppl_dir="${lm_exp}/perplexity_${lm_test}"
    log "stage 8: LM perplexity on ${raw}/${lm_test}/text -> ${ppl_dir}"
    run_logged "stage 8 (LM perplexity)" "${ppl_dir}/ppl.log" ${train_cmd} -- \
        ${python} -m espnet2.bin.lm_calc_perplexity --ngpu 0 \
            --data_path_and_name_and_type "${raw}/${lm_test}/text,text,text" \
            --train_config "${lm_exp}/config.yaml" --model_file "${lm_exp}/${inference_lm}" \
            --output_dir "${ppl_dir}"
    log "stage 8: perplexity on ${lm_test}: $(cat "${ppl_dir}/ppl")"
fi

if run_stage 9 "${skip_train}"; then
    log "stage 9: no n-gram LM: kenlm is not a dependency, and the token LM of stages 6-8" \
        "covers the labeled transcripts (the only text BL-JUST may use)"
fi

# Data options shared by statistics and training.
data_opts=(
    --token_list "${token_list}" --token_type "${token_type}"
    --frontend_conf "fs=${fs_hz}"
    --train_data_path_and_name_and_type "${raw}/${train_set}/wav.scp,speech,sound"
    --train_data_path_and_name_and_type "${raw}/${train_set}/text,text,text"
    --train_shape_file "${raw}/${train_set}/speech_shape"
    --train_shape_file "${raw}/${train_set}/text_shape.${token_tag}"
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

# ------------------------------------------------------------------ 10. collect stats
if run_stage 10 "${skip_train}"; then
    if [ "${normalize}" != global_mvn ]; then
        log "stage 10: no statistics to collect: the training normalizes with ${normalize}, not global_mvn"
    elif newer_than "${stats_file}" "${asr_config}" "${token_list}" \
            "${raw}/${train_set}/speech_shape" "${raw}/${unlabeled_set}/speech_shape" \
            "${raw}/${valid_set}/speech_shape"; then
        log "stage 10: ${stats_file} is up to date"
    else
        log "stage 10: global_mvn statistics over both streams -> ${stats_dir}"
        # shellcheck disable=SC2086
        run_logged "stage 10 (statistics)" "${stats_dir}/logdir/stats.log" ${train_cmd} -- \
            ${python} -m espnet_bljust.bin.bljust_train --collect_stats true --ngpu 0 \
                --config "${asr_config}" "${strategy_opts[@]}" --output_dir "${stats_dir}" \
                "${data_opts[@]}" ${asr_args} --normalize none
        [ -f "${stats_file}" ] || die "stage 10: no ${stats_file} written: see ${stats_dir}/logdir/stats.log"
    fi
fi

# ------------------------------------------------------------------ 11. training
has_module() {
    ${python} -c 'import importlib.util, sys
sys.exit(importlib.util.find_spec(sys.argv[1]) is None)' "$1" 2> /dev/null
}

if run_stage 11 "${skip_train}"; then
    for f in "${token_list}" "${raw}/${train_set}/text_shape.${token_tag}" \
             "${raw}/${unlabeled_set}/speech_shape"; do
        [ -f "${f}" ] || die "stage 11: ${f} missing (run stages 1-5)"
    done
    train_opts=(--config "${asr_config}" "${strategy_opts[@]}"
                --output_dir "${asr_exp}" --resume true "${data_opts[@]}")
    if [ "${normalize}" = global_mvn ]; then
        [ -f "${stats_file}" ] || die "stage 11: ${stats_file} missing (run stage 10)"
        train_opts+=(--normalize global_mvn --normalize_conf "stats_file=${stats_file}")
    fi
    mkdir -p "${asr_exp}"
    train_log="${asr_exp}/train.log"
    rotate_log "${train_log}"
    if [ "${ngpu}" -le 1 ] && [ "${num_nodes}" -le 1 ]; then
        log "stage 11: training -> ${asr_exp} (log: ${train_log})"
        # shellcheck disable=SC2086
        ${cuda_cmd} --gpu "${ngpu}" "${train_log}" \
            ${python} -m espnet_bljust.bin.bljust_train --ngpu "${ngpu}" \
            "${train_opts[@]}" ${asr_args} > /dev/null 2>&1 &
    else
        rm -f "${asr_exp}/launch.log"  # this launch's only
        log "stage 11: training on ${num_nodes} node(s) x ${ngpu} GPU(s) through" \
            "espnet2.bin.launch -> ${asr_exp} (log: ${train_log})"
        # shellcheck disable=SC2086
        ${python} -m espnet2.bin.launch --cmd "${cuda_cmd}" \
            --log "${train_log}" --ngpu "${ngpu}" --num_nodes "${num_nodes}" \
            --init_file_prefix "${asr_exp}/.dist_init_" --multiprocessing_distributed true -- \
            ${python} -m espnet_bljust.bin.bljust_train "${train_opts[@]}" ${asr_args} \
            > "${asr_exp}/launch.log" 2>&1 &
    fi
    train_pid=$!
    # One console line per epoch while it trains.
    if has_module espnet_bljust.recipe.progress; then
        ${python} -m espnet_bljust.recipe.progress --log "${train_log}" --pid "${train_pid}" || true
    else
        tail --pid="${train_pid}" -n +1 -F "${train_log}" 2> /dev/null \
            | grep --line-buffered -E "epoch results:|Traceback" || true
    fi
    status=0
    wait "${train_pid}" || status=$?
    if [ "${status}" -ne 0 ]; then
        # the launcher's own failures (before any training process) are in launch.log
        failed_log="${train_log}"
        [ -s "${train_log}" ] || [ ! -s "${asr_exp}/launch.log" ] || failed_log="${asr_exp}/launch.log"
        show_log_tail "${failed_log}"
        die "stage 11 (training) failed: see ${failed_log}"
    fi
    log "stage 11: trained; model $(resolve_model) in ${asr_exp}"
fi
# ------------------------------------------------------------------ 12. decoding
configs=("${inference_config}")
[ -n "${inference_config}" ] && read -r -a configs <<< "${inference_config}"

if run_stage 12 "${skip_eval}"; then
    model=$(resolve_model)
    if [ "${gpu_inference}" = true ]; then _cmd="${cuda_cmd}"; _ngpu=1; else _cmd="${decode_cmd}"; _ngpu=0; fi
    for cfg in "${configs[@]}"; do
        tag=$(decode_tag "${cfg}" "${model}")
        cfg_opts=()
        [ -n "${cfg}" ] && cfg_opts=(--config "${cfg}")
        if [ "${use_lm}" = true ] && fuses_lm "${cfg}"; then
            require_lm 12
            cfg_opts+=("${lm_model_opts[@]}")
            log "stage 12: ${cfg:-espnet2 defaults} fuses the LM ${lm_exp}/${inference_lm}"
        fi
        for t in ${test_sets}; do
            dir="${asr_exp}/${tag}/${t}"
            logdir="${dir}/logdir"
            keys="${raw}/${t}/wav.scp"
            [ -f "${keys}" ] || die "stage 12: ${keys} missing (run stage 3)"
            n=$(wc -l < "${keys}")
            _nj=$(( inference_nj < n ? inference_nj : n ))
            log "stage 12: decoding ${t} with ${cfg:-espnet2 defaults} and ${model}, ${_nj} job(s) -> ${dir}"
            rm -rf "${logdir}" "${dir}/1best_recog"
            mkdir -p "${logdir}" "${dir}/1best_recog"
            awk -v n="${n}" -v nj="${_nj}" -v out="${logdir}/keys" \
                '{ print > (out "." int((NR - 1) * nj / n) + 1 ".scp") }' "${keys}"
            threads=""
            [ "${_nj}" -gt 1 ] && threads="OMP_NUM_THREADS=1"
            # shellcheck disable=SC2086
            run_logged "stage 12 (decoding ${t})" "${logdir}/asr_inference.JOB.log" \
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
            log "stage 12: $(wc -l < "${dir}/1best_recog/text") hypotheses in ${dir}/1best_recog/text"
        done
    done
fi

# ------------------------------------------------------------------ 13. scoring
results="${asr_exp}/RESULTS.md"
if run_stage 13 "${skip_eval}"; then
    model=$(resolve_model)
    log "stage 13: scoring -> ${results}"
    {
        echo "# ${corpus_name}: $(${python} -c 'import sys, yaml
print((yaml.safe_load(open(sys.argv[1])) or {}).get("strategy", "bljust"))' "${asr_exp}/config.yaml") results"
        echo
        echo "- date: $(date '+%Y-%m-%d %H:%M')"
        echo "- model: \`${asr_exp}/${model}\`$( [ -L "${asr_exp}/${model}" ] && echo " (-> $(readlink "${asr_exp}/${model}"))")"
        echo "- train config: \`${asr_config}\`, saved config: \`${asr_exp}/config.yaml\`"
        echo "- tokens: ${token_tag} (\`${token_list}\`), fs ${fs_hz} Hz, normalize ${normalize}"
        [ "${use_lm}" = true ] && echo "- LM: \`${lm_exp}/${inference_lm}\` (\`${lm_config}\`;" \
            "${train_set} transcripts), fused where the decoding config's lm_weight > 0"
        echo "- command: \`${full_command}\`"
        echo
        echo "| decoding | test set | utts | WER (%) | CER (%) |"
        echo "|---|---|---|---|---|"
    } > "${results}.tmp"
    for cfg in "${configs[@]}"; do
        tag=$(decode_tag "${cfg}" "${model}")
        for t in ${test_sets}; do
            dir="${asr_exp}/${tag}/${t}"
            [ -f "${dir}/1best_recog/text" ] || die "stage 13: ${dir}/1best_recog/text missing (run stage 12)"
            # shellcheck disable=SC2086
            run_logged "stage 13 (scoring ${t})" "${dir}/score/score.log" ${train_cmd} -- \
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

# ------------------------------------------------------------------ 14. packing
if run_stage 14 "${skip_packing}"; then
    model=$(resolve_model)
    packed_name="${asr_exp##*/}_$(basename "${model}" .pth)"
    packed="${asr_exp}/${packed_name}.zip"
    pack_log="${asr_exp}/pack.log"
    log "stage 14: model card and packing -> ${packed} (log: ${pack_log})"
    card_opts=(--labeled "${raw}/${train_set}" --unlabeled "${raw}/${unlabeled_set}"
               --valid "${raw}/${valid_set}")
    for t in ${test_sets}; do card_opts+=(--test "${raw}/${t}"); done
    [ -f "${results}" ] && card_opts+=(--results "${results}")
    [ -n "${hf_repo}" ] && card_opts+=(--hf_repo "${hf_repo}")
    [ "${use_lm}" = true ] && card_opts+=(--lm_config "${lm_config}")
    : > "${pack_log}"
    if ! ${python} -m espnet_bljust.recipe.model_card write --out "${asr_exp}/README.md" \
            --asr_config "${asr_exp}/config.yaml" --corpus "${corpus_name}" \
            --data_license "${data_license}" --model_license "${model_license}" --lang "${lang}" \
            --train_config "${asr_config}" --command "${full_command}" "${card_opts[@]}" \
            >> "${pack_log}" 2>&1; then
        show_log_tail "${pack_log}"
        die "stage 14 (model card) failed: see ${pack_log}"
    fi
    pack_opts=(--option "${asr_exp}/README.md")
    if [ -f "${results}" ]; then
        pack_opts+=(--option "${results}")
    else
        log "stage 14: WARNING: no ${results} (stage 13 not run): packing without results"
    fi
    [ "${token_type}" = bpe ] && pack_opts+=(--option "${bpemodel}")
    [ "${normalize}" = global_mvn ] && pack_opts+=(--option "${stats_file}")
    if [ "${use_lm}" = true ]; then
        require_lm 14
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
        die "stage 14 (packing) failed: see ${pack_log}"
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
        die "stage 14: the packed model does not load or decode: see ${pack_log}"
    fi
    rm -rf "${check_dir}"
    grep "packed model check" "${pack_log}" || true
    log "stage 14: packed ${packed} ($(du -h "${packed}" | cut -f1))"
fi

# ------------------------------------------------------------------ 15. upload
if run_stage 15 "${skip_upload_hf}"; then
    [ -n "${hf_repo}" ] || die "stage 15: --hf_repo <user>/<name> is required to upload"
    model=$(resolve_model)
    packed_name="${asr_exp##*/}_$(basename "${model}" .pth)"
    packed="${asr_exp}/${packed_name}.zip"
    [ -f "${packed}" ] || die "stage 15: ${packed} missing (run stage 14)"
    hf_dir="${expdir}/hf_${packed_name}"
    hf_log="${expdir}/hf_${packed_name}.log"
    log "stage 15: preparing ${hf_dir} and uploading to https://huggingface.co/${hf_repo}"
    rm -rf "${hf_dir}"
    mkdir -p "${hf_dir}"
    ${python} -m zipfile -e "${packed}" "${hf_dir}" > "${hf_log}" 2>&1 \
        || die "stage 15: could not unpack ${packed}: see ${hf_log}"
    cp "${asr_exp}/README.md" "${hf_dir}/README.md"
    push_status=0
    ${python} -m espnet_bljust.recipe.model_card push --folder "${hf_dir}" \
        --hf_repo "${hf_repo}" >> "${hf_log}" 2>&1 || push_status=$?
    if [ "${push_status}" -ne 0 ]; then  # no token, no network, refused: one line
        die "stage 15: $(tail -n 1 "${hf_log}" | sed 's/^model_card push: //')" \
            "(the repo folder is ready in ${hf_dir}; log: ${hf_log})"
    fi
    tail -n 1 "${hf_log}"
fi

log "done"
