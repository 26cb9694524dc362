# shellcheck shell=bash
# The --variant option of the full-scale recipes (librispeech_100, tedlium2, swbd), sourced
# through utils/fullscale.sh by their run.sh: --variant <name> picks the training config
# conf/train_bljust_<name>.yaml and the decoding config and model file that go with it:
#   *_ctc_att (CTC/attention)  conf/decode_ctc_att.yaml, valid.acc.ave.pth
#   *_ctc     (CTC only)       conf/decode_ctc.yaml,     valid.cer_ctc.ave.pth
# It sets asr_config, inference_config, inference_asr_model and leaves every other
# argument in "$@" for bljust.sh (where a later --asr_config etc. overrides these).
variant="${variant:-conformer_ctc_att}"
_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --variant)
            [ $# -ge 2 ] || { echo "$0: --variant needs a value" >&2; exit 1; }
            variant="$2"
            shift 2 ;;
        *) _args+=("$1"); shift ;;
    esac
done
set -- ${_args[@]+"${_args[@]}"}  # empty-array safe under set -u on bash < 4.4
asr_config="conf/train_bljust_${variant}.yaml"
if [ ! -f "${asr_config}" ]; then
    echo "$0: --variant ${variant}: no ${asr_config} (variants: $(find conf -name 'train_bljust_*.yaml' \
        | sed 's|conf/train_bljust_||; s|\.yaml||' | sort | xargs))" >&2
    exit 1
fi
case "${variant}" in
    *_ctc_att) inference_config=conf/decode_ctc_att.yaml; inference_asr_model=valid.acc.ave.pth ;;
    *) inference_config=conf/decode_ctc.yaml; inference_asr_model=valid.cer_ctc.ave.pth ;;
esac
