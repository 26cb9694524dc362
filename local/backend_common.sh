# Shared part of the job backends local/run_local.sh and local/run_slurm.sh:
# sourced by them, not run. Parses the run.pl calling convention
#
#   <backend> [options] [JOB=a:b] <logfile> <command...>
#
# and sets: opt_gpu, opt_mem, opt_num_threads, opt_num_nodes, opt_name, opt_time,
# opt_partition, opt_sbatch_args, max_jobs_run, var (the job variable name, empty
# without a range), first, last, logfile, template (the command as one bash
# string: words without white space as they are, so '|', '>' and '&&' keep their
# meaning; other words quoted). job_log <i> and job_command <i> substitute the
# index for the variable. Any name works as the variable (JOB, N, ...): as in
# run.pl, every occurrence of it in the log name and the command is replaced.
# shellcheck shell=bash disable=SC2034

prog=$(basename "$0")
opt_gpu=0
opt_mem=
opt_num_threads=1
opt_num_nodes=1
opt_name=
opt_time=
opt_partition=
opt_sbatch_args=
max_jobs_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --gpu|--mem|--num_threads|--num_nodes|--name|--time|--partition|--sbatch_args|--max_jobs_run)
            [ $# -ge 2 ] || { echo "${prog}: option $1 needs a value" >&2; exit 1; }
            case "$1" in
                --max_jobs_run) max_jobs_run="$2" ;;
                *) printf -v "opt_${1#--}" '%s' "$2" ;;
            esac
            shift 2 ;;
        --config) shift 2 ;;  # Kaldi's backend config files: not used here
        --*) echo "${prog}: unknown option $1" >&2; exit 1 ;;
        *) break ;;
    esac
done

var=
first=1
last=1
if [[ $# -gt 0 && "$1" =~ ^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+):([0-9]+)$ ]]; then
    var="${BASH_REMATCH[1]}"
    first="${BASH_REMATCH[2]}"
    last="${BASH_REMATCH[3]}"
    shift
    if [ "${first}" -gt "${last}" ]; then
        echo "${prog}: empty job range ${var}=${first}:${last}" >&2; exit 1
    fi
fi
if [ $# -lt 2 ]; then
    echo "usage: ${prog} [options] [JOB=1:N] <logfile> <command...>" >&2
    exit 1
fi
logfile="$1"
shift
if [ -n "${var}" ] && [ "${first}" != "${last}" ] && [[ "${logfile}" != *"${var}"* ]]; then
    echo "${prog}: the log file name ${logfile} must contain ${var} to tell jobs apart" >&2
    exit 1
fi

template=
for word in "$@"; do
    if [[ "${word}" =~ [[:space:]] || -z "${word}" ]]; then
        template+="$(printf '%q' "${word}") "
    else
        template+="${word} "
    fi
done

job_log() {
    # job_log <index>: the log file of one job.
    if [ -n "${var}" ]; then echo "${logfile//${var}/$1}"; else echo "${logfile}"; fi
}

job_command() {
    # job_command <index>: the command of one job.
    if [ -n "${var}" ]; then echo "${template//${var}/$1}"; else echo "${template}"; fi
}

report_failures() {
    # report_failures <dir with one file per index holding its exit status>:
    # name every failed job and its log; return 1 if any failed.
    local i status failed=0
    for (( i = first; i <= last; i++ )); do
        status=$(cat "$1/${i}" 2>/dev/null || echo "unknown")
        if [ "${status}" != 0 ]; then
            failed=$(( failed + 1 ))
            if [ -n "${var}" ]; then
                echo "${prog}: job ${var}=${i} failed (exit ${status}), log is in $(job_log "${i}")" >&2
            else
                echo "${prog}: command failed (exit ${status}), log is in $(job_log "${i}")" >&2
            fi
        fi
    done
    if [ "${failed}" -gt 0 ]; then
        [ -n "${var}" ] && echo "${prog}: ${failed} / $(( last - first + 1 )) jobs failed" >&2
        return 1
    fi
    return 0
}

throttle() {
    # throttle: wait while --max_jobs_run jobs of this backend are running.
    if [ "${max_jobs_run}" -gt 0 ]; then
        while [ "$(jobs -rp | wc -l)" -ge "${max_jobs_run}" ]; do
            wait -n || true
        done
    fi
}
