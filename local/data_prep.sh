# shellcheck shell=bash
# What the recipes' local/data.sh share, sourced after their option defaults (the name=value
# lines above ". utils/data_prep.sh"): log and die, and the options: --python (bljust.sh
# passes its own) and every default above, parsed by Kaldi's parse_options.sh; --help lists
# them; a leftover argument stops it.
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*"; }
die() { echo "$0: $*" >&2; exit 1; }

python=python3  # the Python that runs espnet_bljust (bljust.sh passes its --python)
help_message="Usage: $0 [--python <python>]$(awk '/^\. utils\/data_prep\.sh/ { exit }
    match($0, /^[a-z_][a-z0-9_]*=/) { n = substr($0, 1, RLENGTH - 1); printf " [--%s <%s>]", n, n }' "$0") (defaults above, in $0)"
# shellcheck source=parse_options.sh
. utils/parse_options.sh
[ $# -eq 0 ] || { echo "$0: unexpected argument $1" >&2; exit 1; }
