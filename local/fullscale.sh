# shellcheck shell=bash
# The options the full-scale recipes (librispeech_100, tedlium2, swbd) share, sourced by their
# run.sh after utils/recipe.sh: one GPU on this machine, 16 jobs, 16 kHz, training utterances
# from 0.1 s, sentencepiece unigram units, and the model that --variant picks
# (utils/parse_variant.sh: asr_config, inference_config, inference_asr_model).
lang=en ngpu=1 nj=16 inference_nj=16
fs=16000 min_wav_duration=0.1
token_type=bpe bpemode=unigram
# shellcheck source=parse_variant.sh
. utils/parse_variant.sh
