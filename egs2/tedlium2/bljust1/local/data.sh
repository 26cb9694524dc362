#!/usr/bin/env bash
# TED-LIUM release 2 -> data/{train_labeled,train_unlabeled,dev,test} for BL-JUST
# (espnet_bljust.corpora.tedlium):
#   train_labeled    whole train talks drawn with --seed until --labeled_hours (50 h of
#                    the 207 h; one speaker per talk: speaker-disjoint from unlabeled)
#   train_unlabeled  the other talks, plus segments of labeled talks whose transcript
#                    has <unk> (--train_unk skip); no text file
#   dev, test        the official sets (8 and 11 talks)
# One utterance per .stm segment: wav.scp holds a sox pipe cutting it out of the talk's
# sphere file ("sox -V1 <sph> -t wav -r 16000 -b 16 -c 1 - trim <start> =<end> |");
# train segments padded by 0.15 s / 0.1 s; text normalized (noise tags, <sil> and
# pronunciation variants removed, "it 's" -> "it's"; see the module's doc).
#
# The corpus: $TEDLIUM2 from db.sh; absent, downloaded from --mirror (OpenSLR 19)
# into it and unpacked (--download false: stop instead).
set -euo pipefail

labeled_hours=50
seed=0
train_unk=skip
pad_start=0.15
pad_end=0.1
download=true
mirror=https://www.openslr.org/resources/19

# shellcheck source=../../../../local/data_prep.sh
. utils/data_prep.sh
case "${download}" in true|false) ;; *) die "--download must be true or false" ;; esac

# shellcheck source=db.sh
. ./db.sh

command -v sox > /dev/null || die "sox is needed (wav.scp entries are sox pipes): apt-get install sox"

settings="${labeled_hours}|${seed}|${train_unk}|${pad_start}|${pad_end}"
if [ -f data/.tedlium_done ] && [ "$(cat data/.tedlium_done)" = "${settings}" ]; then
    log "data/ is already prepared (remove data/.tedlium_done to redo it)"
    exit 0
fi

have_corpus() {
    [ -d "${TEDLIUM2}/TEDLIUM_release2/train/stm" ] || [ -d "${TEDLIUM2}/train/stm" ]
}

if ! have_corpus; then
    "${download}" || die "no TED-LIUM 2 under ${TEDLIUM2} (looked for TEDLIUM_release2/train/stm" \
        "and train/stm); set TEDLIUM2 in db.sh or use --download true"
    mkdir -p "${TEDLIUM2}"
    archive="${TEDLIUM2}/TEDLIUM_release2.tar.gz"
    # shellcheck source=../../../../local/fetch_archive.sh
    . utils/fetch_archive.sh
    fetch_archive "${mirror}/TEDLIUM_release2.tar.gz" "${archive}" \
        "downloading ${mirror}/TEDLIUM_release2.tar.gz -> ${archive} (~35 GB)" \
        || die "could not download ${mirror}/TEDLIUM_release2.tar.gz; unpack the corpus" \
               "yourself and set TEDLIUM2 in db.sh"
    log "unpacking ${archive}"
    tar -xzf "${archive}" -C "${TEDLIUM2}" || die "${archive}: not a valid archive"
    have_corpus || die "${archive} did not unpack to TEDLIUM_release2/"
fi

log "TED-LIUM 2 in ${TEDLIUM2}: ${labeled_hours} h labeled (seed ${seed}), <unk> segments: ${train_unk}"
rm -f data/.tedlium_done
"${python}" -m espnet_bljust.corpora.tedlium --tedlium "${TEDLIUM2}" --out data \
    --labeled_hours "${labeled_hours}" --seed "${seed}" --train_unk "${train_unk}" \
    --pad_start "${pad_start}" --pad_end "${pad_end}"
echo "${settings}" > data/.tedlium_done
