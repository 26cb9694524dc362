#!/usr/bin/env bash
# Job backend for a Slurm cluster, with the calling convention of Kaldi's run.pl:
#
#   run_slurm.sh [options] [JOB=1:N] <logfile> <command...>
#
# For every job index it writes a batch script (<logdir>/q/<log name>.sh) that
# runs <command> in this directory with this environment (JOB replaced by the
# index) and writes <logfile> in the run.pl layout; it submits the scripts with
# 'sbatch --wait' and waits for all of them. Scheduler messages go to
# <logdir>/q/<log name>.out.
# Options: --gpu N (--gres=gpu:N), --mem M (--mem), --num_threads N
# (--cpus-per-task), --num_nodes N (--nodes, one task per node: the command
# itself starts the per-node processes, e.g. with srun), --name S (--job-name),
# --time T, --partition P, --sbatch_args "..." (more sbatch options, also from
# $BLJUST_SBATCH_ARGS), --max_jobs_run N (submitted at once; default all).
# Called as local/slurm.pl (a link to this file), espnet2.bin.launch takes its
# Slurm branch for --num_nodes > 1 (it picks the branch by that file name).
# Exit status: 0 if every job succeeded, 1 otherwise (the failing logs are named).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=backend_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/backend_common.sh"

if ! command -v sbatch > /dev/null; then
    echo "${prog}: sbatch not found: this backend needs a Slurm cluster (cmd_backend=local runs here)" >&2
    exit 1
fi

sbatch_opts=(--wait --export=ALL --nodes="${opt_num_nodes}" --ntasks-per-node=1
             --cpus-per-task="${opt_num_threads}")
[ "${opt_gpu}" -gt 0 ] && sbatch_opts+=(--gres="gpu:${opt_gpu}")
[ -n "${opt_mem}" ] && sbatch_opts+=(--mem="${opt_mem}")
[ -n "${opt_time}" ] && sbatch_opts+=(--time="${opt_time}")
[ -n "${opt_partition}" ] && sbatch_opts+=(--partition="${opt_partition}")
read -r -a extra <<< "${opt_sbatch_args} ${BLJUST_SBATCH_ARGS:-}"
sbatch_opts+=("${extra[@]}")

statusdir=$(mktemp -d)
trap 'rm -rf "${statusdir}"' EXIT

submit_one() {
    # submit_one <index>: write the batch script of one job, submit it, wait;
    # its exit status goes to ${statusdir}/<index>.
    local index="$1" log qdir script name status=0
    log=$(job_log "${index}")
    qdir="$(dirname "${log}")/q"
    mkdir -p "${qdir}"
    name=$(basename "${log}" .log)
    script="${qdir}/${name}.sh"
    {
        echo "#!/usr/bin/env bash"
        echo "# Written by ${prog}; submitted with sbatch."
        echo "cd $(printf '%q' "${PWD}")"
        echo "log=$(printf '%q' "$(realpath -m "${log}")")"
        echo "command=$(printf '%q' "$(job_command "${index}")")"
        cat <<'BODY'
start=$(date +%s)
printf '# %s\n# Started at %s on %s\n#\n' "${command}" "$(date)" "$(hostname)" > "${log}"
status=0
bash -c "${command}" >> "${log}" 2>&1 < /dev/null || status=$?
elapsed=$(( $(date +%s) - start ))
printf '# Accounting: time=%d\n# Ended (code %d) at %s, elapsed time %d seconds\n' \
    "${elapsed}" "${status}" "$(date)" "${elapsed}" >> "${log}"
exit "${status}"
BODY
    } > "${script}"
    chmod +x "${script}"
    sbatch "${sbatch_opts[@]}" --job-name="${opt_name:-${name}}" \
        --output="${qdir}/${name}.out" "${script}" > "${qdir}/${name}.sbatch" 2>&1 \
        || status=$?
    echo "${status}" > "${statusdir}/${index}"
}

for (( i = first; i <= last; i++ )); do
    throttle
    submit_one "${i}" &
done
wait
report_failures "${statusdir}"
