#!/usr/bin/env bash
# CMU AN4 -> data/{train_labeled,train_unlabeled,dev,test}, read in AN4's own layout
# (etc/an4_{train,test}.{fileids,transcription}, wav/an4_clstk/<spk>/*.sph, wav/an4test_clstk/...)
# by espnet_bljust.corpora.an4. wav.scp lists the .sph files: AN4's sphere files are plain
# 16 kHz PCM, which soundfile (and so bljust.sh's format stage) reads directly.
#
# dev = the first --num_dev train utterances by id (ESPnet's an4 holds out 100 the same way);
# train_labeled = --num_labeled of the remaining train utterances, drawn with --seed;
# train_unlabeled = the rest (--num_unlabeled caps it), without text; test = the AN4 test set.
#
# The corpus: $AN4 from db.sh; when no AN4 tree is there, the CMU archive is downloaded
# into downloads/ and unpacked.
set -euo pipefail

num_dev=100                  # first train utterances held out as dev
num_labeled=400              # labeled utterances drawn from the rest of train
num_unlabeled=-1             # unlabeled utterances; -1: all the rest
seed=0                       # seed of the labeled draw
include_untranscribed=false  # add train .sph files that no fileids line names to unlabeled

# shellcheck source=../../../../local/data_prep.sh
. utils/data_prep.sh

. ./db.sh

# has_an4 <dir>: an AN4 tree is <dir>, <dir>/an4 or <dir>/*/an4 (as an4_prep looks for it).
has_an4() {
    local c
    for c in "$1" "$1/an4" "$1"/*/an4; do
        [ -f "${c}/etc/an4_train.transcription" ] && return 0
    done
    return 1
}

if ! has_an4 "${AN4}" && has_an4 downloads; then
    log "using the AN4 tree unpacked earlier under downloads/ (remove it to unpack ${AN4} again)"
    AN4=downloads
elif ! has_an4 "${AN4}"; then
    archive="${AN4}"
    if [ ! -f "${archive}" ]; then
        archive=downloads/an4_sphere.tar.gz
        mkdir -p downloads
        if [ ! -f "${archive}" ]; then
            for url in http://www.speech.cs.cmu.edu/databases/an4/an4_sphere.tar.gz \
                       https://huggingface.co/datasets/espnet/an4/resolve/main/an4_sphere.tar.gz; do
                log "AN4 not found at ${AN4}; downloading ${url}"
                if command -v wget >/dev/null; then
                    wget -q -O "${archive}.part" "${url}" && break
                else
                    curl -fsSL -o "${archive}.part" "${url}" && break
                fi
                rm -f "${archive}.part"
            done
            [ -f "${archive}.part" ] || {
                echo "$0: could not download AN4; set AN4 in db.sh (or the environment)" \
                     "to an an4/ tree or to an4_sphere.tar.gz" >&2
                exit 1
            }
            mv "${archive}.part" "${archive}"
        fi
    fi
    log "unpacking ${archive} into downloads/"
    mkdir -p downloads
    tar -xzf "${archive}" -C downloads
    AN4=downloads
fi

log "AN4 tree in ${AN4}"
"${python}" -m espnet_bljust.corpora.an4 --an4 "${AN4}" --out data \
    --num_dev "${num_dev}" --num_labeled "${num_labeled}" --num_unlabeled "${num_unlabeled}" \
    --seed "${seed}" --include_untranscribed "${include_untranscribed}"
