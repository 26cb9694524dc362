#!/usr/bin/env bash
# Job backend for this machine, with the calling convention of Kaldi's run.pl:
#
#   run_local.sh [options] [JOB=1:N] <logfile> <command...>
#
# Runs <command> with its stdout and stderr in <logfile> (a '# command' header,
# an '# Ended (code N)' footer). With JOB=a:b it runs one job per index, in
# parallel, JOB replaced by the index in <logfile> and in <command>.
# Options: --max_jobs_run N (jobs at once; default all); --gpu N, --mem M,
# --num_threads N, --num_nodes N, --name S, --time T, --partition P are accepted
# for scheduler backends and ignored here. See local/backend_common.sh.
# Exit status: 0 if every job succeeded, 1 otherwise (the failing logs are named).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=backend_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/backend_common.sh"

if [ "${opt_num_nodes}" -gt 1 ]; then
    echo "${prog}: --num_nodes ${opt_num_nodes}: this backend runs on one machine" >&2
    exit 1
fi

statusdir=$(mktemp -d)
trap 'rm -rf "${statusdir}"' EXIT

run_one() {
    # run_one <index>: one job; its exit status goes to ${statusdir}/<index>.
    local index="$1" log command start status=0
    log=$(job_log "${index}")
    command=$(job_command "${index}")
    mkdir -p "$(dirname "${log}")"
    start=$(date +%s)
    printf '# %s\n# Started at %s\n#\n' "${command}" "$(date)" > "${log}"
    bash -c "${command}" >> "${log}" 2>&1 < /dev/null || status=$?
    printf '# Accounting: time=%d threads=%s\n# Ended (code %d) at %s, elapsed time %d seconds\n' \
        "$(( $(date +%s) - start ))" "${opt_num_threads}" "${status}" "$(date)" \
        "$(( $(date +%s) - start ))" >> "${log}"
    echo "${status}" > "${statusdir}/${index}"
}

for (( i = first; i <= last; i++ )); do
    throttle
    run_one "${i}" &
done
wait
report_failures "${statusdir}"
