# shellcheck shell=bash
# Corpus locations; the environment overrides them (LIBRISPEECH=/data/LibriSpeech ./run.sh).
# LIBRISPEECH: a dir holding LibriSpeech/<part>/ (as the OpenSLR archives unpack) or the
# <part>/ dirs themselves. Parts missing there are downloaded from OpenSLR 12 into it
# (local/data.sh --download true, the default; ~60 GB for the seven parts).
LIBRISPEECH="${LIBRISPEECH:-downloads}"
