#!/usr/bin/env bash
# Free Spoken Digit Dataset -> data/{train_labeled,train_unlabeled,dev,test}.
#
# FSDD (CC BY-SA 4.0): 6 speakers x 10 digits x 50 takes, recordings/<digit>_<speaker>_<take>.wav,
# 8 kHz. Takes 0-4 are the official test set; here dev = takes 5-9, train = takes 10-49 (the
# same split as the lists of the shared copy). train_labeled = takes 10 .. 10+L-1
# (--labeled_takes L: 1, 2, 5 -> 60, 120, 300 utts), train_unlabeled = the following
# --unlabeled_takes takes (-1: the rest of train), without text.
#
# The corpus: $FSDD from db.sh (the release's root, the shared copy's root, or an archive);
# when it is absent the tagged release is downloaded into downloads/.
set -euo pipefail

labeled_takes=2     # labeled takes per speaker and digit
unlabeled_takes=-1  # unlabeled takes after them; -1: every remaining train take
dev_takes=5         # dev takes (from take 5), at most 5
test_takes=5        # test takes (from take 0), at most 5
speakers=""         # a subset, e.g. george,theo (small runs); empty: all six
audio=original      # original: the 8 kHz wav (bljust.sh formats to --fs); 16k: the shared
                    # copy's 16 kHz flac; auto: the flac where present
fsdd_tag=v1.0.10    # the release downloaded when $FSDD is absent

# shellcheck source=../../../../local/data_prep.sh
. utils/data_prep.sh

. ./db.sh

# A folder given as $FSDD must be an FSDD root: a wrong path is named, not downloaded over
# (a folder under downloads/ is this script's own unpacking, redone below when incomplete).
if [ -d "${FSDD}" ] && [ ! -d "${FSDD}/recordings" ] && [ ! -d "${FSDD}/recordings_16k" ] \
        && [[ "${FSDD}" != downloads/* ]]; then
    echo "$0: FSDD=${FSDD} holds neither recordings/ nor recordings_16k/ (set FSDD in db.sh or" \
         "the environment to the root of an FSDD copy)" >&2
    exit 1
fi
# An archive given as $FSDD, or nothing there at all: unpack (downloading first) into downloads/.
if [ ! -d "${FSDD}/recordings" ] && [ ! -d "${FSDD}/recordings_16k" ]; then
    archive="${FSDD}"
    if [ ! -f "${archive}" ]; then
        url="https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/${fsdd_tag}.tar.gz"
        archive="downloads/free-spoken-digit-dataset-${fsdd_tag}.tar.gz"
        mkdir -p downloads
        if [ ! -f "${archive}" ]; then
            log "FSDD not found at ${FSDD}; downloading ${url}"
            if command -v wget >/dev/null; then
                wget -q -O "${archive}.part" "${url}"
            else
                curl -fsSL -o "${archive}.part" "${url}"
            fi || {
                rm -f "${archive}.part"
                echo "$0: could not download ${url}; set FSDD in db.sh (or the environment)" \
                     "to an FSDD copy" >&2
                exit 1
            }
            mv "${archive}.part" "${archive}"
        fi
    fi
    log "unpacking ${archive} into downloads/"
    mkdir -p downloads
    tar -xzf "${archive}" -C downloads
    FSDD="$(find downloads -mindepth 2 -maxdepth 2 -type d -name recordings | head -n 1)"
    FSDD="${FSDD%/recordings}"
    [ -n "${FSDD}" ] || { echo "$0: no recordings/ in ${archive}" >&2; exit 1; }
fi

num_wav=$(find "${FSDD}/recordings" -maxdepth 1 -name '*.wav' 2>/dev/null | wc -l)
log "FSDD at ${FSDD}: ${num_wav} original recordings"

opts=()
if [ -n "${speakers}" ]; then
    read -r -a spk <<<"${speakers//,/ }"
    opts+=(--speakers "${spk[@]}")
fi
"${python}" -m espnet_bljust.corpora.fsdd --fsdd "${FSDD}" --out data \
    --labeled_takes "${labeled_takes}" --unlabeled_takes "${unlabeled_takes}" \
    --dev_takes "${dev_takes}" --test_takes "${test_takes}" --audio "${audio}" "${opts[@]}"
