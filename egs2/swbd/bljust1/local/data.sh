#!/usr/bin/env bash
# Switchboard-1 (300 h) + Hub5'00 -> data/{train_labeled,train_unlabeled,train_dev,
# eval2000,eval2000_sw,eval2000_ch} for BL-JUST (espnet_bljust.corpora.swbd):
#   train_dev        the first whole conversations (by id) up to --num_dev_utts (4000)
#   train_labeled    whole conversations drawn with --seed until --labeled_hours (100 h),
#                    at most --max_dup_text utterances per identical transcript
#   train_unlabeled  every other train segment (~185 h), no text file
#   eval2000         Hub5'00 (scored segments), split into eval2000_sw (Switchboard,
#                    sw_ files) and eval2000_ch (CallHome, en_ files)
# One utterance per ms98 segment: wav.scp holds a pipe cutting it out of its channel
# of the 2-channel 8 kHz sphere file and upsampling it to 16 kHz (sox, or sph2pipe into
# sox: --decoder auto picks sph2pipe when it is installed); text normalized as the
# module's doc says (noise tags, hesitations, fragments, acronyms).
#
# The corpora: SWBD, SWBD_MS98, EVAL2000 from db.sh (LDC: no download). The ms98
# transcripts are downloaded from OpenSLR 5 when SWBD_MS98 is empty and none is found.
set -euo pipefail

labeled_hours=100
num_dev_utts=4000
max_dup_text=300
seed=0
decoder=auto
hesitations=drop
partial_words=keep
download_ms98=true
ms98_url=https://www.openslr.org/resources/5/switchboard_word_alignments.tar.gz

# shellcheck source=../../../../local/data_prep.sh
. utils/data_prep.sh

# shellcheck source=db.sh
. ./db.sh

[ -n "${SWBD}" ] || die "SWBD is not set: put the Switchboard-1 Release 2 (LDC97S62) dir" \
    "in db.sh (or SWBD=/path ./run.sh); LDC corpora are not downloaded"
[ -d "${SWBD}" ] || die "SWBD=${SWBD}: no such directory (Switchboard-1, LDC97S62)"
[ -n "${EVAL2000}" ] || die "EVAL2000 is not set: put the Hub5'00 dirs (LDC2002S09 speech," \
    "LDC2002T43 transcripts) in db.sh"
read -r -a eval_dirs <<< "${EVAL2000}"
for d in "${eval_dirs[@]}"; do
    [ -d "${d}" ] || die "EVAL2000: ${d}: no such directory (Hub5'00: LDC2002S09, LDC2002T43)"
done
command -v sox > /dev/null || die "sox is needed (wav.scp entries are sox pipes): apt-get install sox"
case "${decoder}" in
    auto) if command -v sph2pipe > /dev/null; then decoder=sph2pipe; else decoder=sox; fi ;;
    sox) ;;
    sph2pipe) command -v sph2pipe > /dev/null || die "--decoder sph2pipe: sph2pipe not found" ;;
    *) die "--decoder must be auto, sox or sph2pipe" ;;
esac

settings="${SWBD}|${EVAL2000}|${labeled_hours}|${num_dev_utts}|${max_dup_text}|${seed}|${decoder}|${hesitations}|${partial_words}"
if [ -f data/.swbd_done ] && [ "$(cat data/.swbd_done)" = "${settings}" ]; then
    log "data/ is already prepared (remove data/.swbd_done to redo it)"
    exit 0
fi

has_ms98() {
    [ -n "$(find "$1" -maxdepth 4 -name '*-ms98-a-trans.text' -print -quit 2> /dev/null)" ]
}

if [ -z "${SWBD_MS98}" ]; then
    for cand in "${SWBD}/swb_ms98_transcriptions" "${SWBD}" downloads/swb_ms98_transcriptions; do
        if [ -d "${cand}" ] && has_ms98 "${cand}"; then SWBD_MS98="${cand}"; break; fi
    done
fi
if [ -z "${SWBD_MS98}" ]; then
    [ "${download_ms98}" = true ] || die "no ms98 transcripts found: set SWBD_MS98 in db.sh"
    mkdir -p downloads
    archive=downloads/switchboard_word_alignments.tar.gz
    # shellcheck source=../../../../local/fetch_archive.sh
    . utils/fetch_archive.sh
    fetch_archive "${ms98_url}" "${archive}" \
        "downloading the ms98 transcripts ${ms98_url}" \
        || die "could not download ${ms98_url}; set SWBD_MS98 in db.sh to an unpacked copy"
    tar -xzf "${archive}" -C downloads || die "${archive}: not a valid archive"
    SWBD_MS98=downloads/swb_ms98_transcriptions
    has_ms98 "${SWBD_MS98}" || die "${archive} did not unpack to ${SWBD_MS98}"
fi

log "Switchboard ${SWBD}, transcripts ${SWBD_MS98}, Hub5'00 ${EVAL2000}; decoder ${decoder}"
rm -f data/.swbd_done
"${python}" -m espnet_bljust.corpora.swbd --swbd "${SWBD}" --ms98 "${SWBD_MS98}" \
    --eval2000 "${eval_dirs[@]}" --out data \
    --labeled_hours "${labeled_hours}" --num_dev_utts "${num_dev_utts}" \
    --max_dup_text "${max_dup_text}" --seed "${seed}" --decoder "${decoder}" \
    --hesitations "${hesitations}" --partial_words "${partial_words}"
echo "${settings}" > data/.swbd_done
