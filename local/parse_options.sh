# shellcheck shell=bash
# Option parsing for the recipes' local/data.sh (sourced; BLJUST_ROOT from path.sh):
#
#   . "${BLJUST_ROOT}/local/parse_options.sh"
#   parse_options "name1 name2 ..." "$@"
#
# Each "--name value" sets the shell variable name (its default is set before
# the call). A name not in the list, an option without a value or an argument
# that is not an option ends the script with one line on stderr naming it.

parse_options() {
    local allowed=" $1 " option
    shift
    while [ $# -gt 0 ]; do
        case "$1" in
            --*)
                option="${1#--}"
                [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
                [[ "${allowed}" == *" ${option} "* ]] \
                    || { echo "$0: unknown option $1" >&2; exit 1; }
                printf -v "${option}" '%s' "$2"
                shift 2 ;;
            *) echo "$0: unexpected argument $1" >&2; exit 1 ;;
        esac
    done
}
