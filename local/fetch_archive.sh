# shellcheck shell=bash
# fetch_archive <url> <file> [<message>]: download <url> to <file> once, resumably (wget -c,
# else curl -C -), and mark it complete with <file>.complete; a later call with the mark does
# nothing. <message>, when given, is passed to the caller's log() before a download starts.
# A failed download returns non-zero and leaves the partial file for the next call to resume.
# Sourced by the recipes' local/data.sh (". utils/fetch_archive.sh").
fetch_archive() {
    local url="$1" file="$2" message="${3:-}"
    [ ! -f "${file}.complete" ] || return 0
    [ -z "${message}" ] || log "${message}"
    if command -v wget > /dev/null; then
        wget -c -q -O "${file}" "${url}"
    else
        curl -fsSL -C - -o "${file}" "${url}"
    fi || return 1
    touch "${file}.complete"
}
