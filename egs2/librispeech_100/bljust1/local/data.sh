#!/usr/bin/env bash
# LibriSpeech -> data/{train_clean_100,train_860,dev,dev_clean,dev_other,test_clean,test_other}
# for BL-JUST (espnet_bljust.corpora.librispeech):
#   train_clean_100  labeled: train-clean-100 (28,539 utts, 100.6 h)
#   train_860        unlabeled: train-clean-360 + train-other-500 (~252k utts, 860 h),
#                    transcripts withheld (no text file)
#   dev              valid: dev-clean + dev-other together (as ESPnet's librispeech_100)
#   dev_clean, dev_other, test_clean, test_other  the four evaluation sets
# wav.scp lists the flac files themselves; text is the corpus's upper-case transcript;
# speakers are <spk>-<chapter> (--speaker reader: <spk>).
#
# The corpus: $LIBRISPEECH from db.sh. A part that is not there is downloaded from
# --mirror (OpenSLR 12) into $LIBRISPEECH and unpacked (--download false: stop instead).
set -euo pipefail

labeled="train-clean-100"
labeled_name=train_clean_100
unlabeled="train-clean-360 train-other-500"
unlabeled_name=train_860
download=true
mirror=https://www.openslr.org/resources/12
speaker=chapter

# shellcheck source=../../../../local/data_prep.sh
. utils/data_prep.sh
case "${download}" in true|false) ;; *) die "--download must be true or false" ;; esac

# shellcheck source=db.sh
. ./db.sh

sets="${labeled_name} ${unlabeled_name} dev dev_clean dev_other test_clean test_other"
done_all=true
for s in ${sets}; do
    [ -s "data/${s}/wav.scp" ] || done_all=false
done
if "${done_all}" && [ -f data/.librispeech_done ] \
        && [ "$(cat data/.librispeech_done)" = "${labeled}|${labeled_name}|${unlabeled}|${unlabeled_name}|${speaker}" ]; then
    log "data/ is already prepared (remove data/.librispeech_done to redo it)"
    exit 0
fi

have_part() {
    [ -d "${LIBRISPEECH}/LibriSpeech/$1" ] || [ -d "${LIBRISPEECH}/$1" ]
}

# shellcheck source=../../../../local/fetch_archive.sh
. utils/fetch_archive.sh

parts="${labeled} ${unlabeled} dev-clean dev-other test-clean test-other"
for part in ${parts}; do
    have_part "${part}" && continue
    "${download}" || die "LibriSpeech ${part} not found under ${LIBRISPEECH} (looked for" \
        "LibriSpeech/${part} and ${part}); set LIBRISPEECH in db.sh or use --download true"
    mkdir -p "${LIBRISPEECH}"
    archive="${LIBRISPEECH}/${part}.tar.gz"
    fetch_archive "${mirror}/${part}.tar.gz" "${archive}" \
        "downloading ${mirror}/${part}.tar.gz -> ${archive}" \
        || die "could not download ${mirror}/${part}.tar.gz (no network? another" \
               "--mirror?); or unpack the corpus yourself and set LIBRISPEECH in db.sh"
    log "unpacking ${archive}"
    tar -xzf "${archive}" -C "${LIBRISPEECH}" || die "${archive}: not a valid archive (remove it" \
        "and ${archive}.complete to download it again)"
    have_part "${part}" || die "${archive} did not unpack to LibriSpeech/${part}"
done

log "LibriSpeech in ${LIBRISPEECH}: labeled ${labeled}; unlabeled ${unlabeled}"
rm -f data/.librispeech_done
# shellcheck disable=SC2086
"${python}" -m espnet_bljust.corpora.librispeech --librispeech "${LIBRISPEECH}" --out data \
    --labeled ${labeled} --labeled_name "${labeled_name}" \
    --unlabeled ${unlabeled} --unlabeled_name "${unlabeled_name}" \
    --dev dev-clean dev-other --valid_name dev --test test-clean test-other \
    --speaker "${speaker}"
echo "${labeled}|${labeled_name}|${unlabeled}|${unlabeled_name}|${speaker}" > data/.librispeech_done
