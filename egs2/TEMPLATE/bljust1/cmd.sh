# shellcheck shell=bash
# Job backends (run.pl calling convention: <backend> [--gpu N] [JOB=1:N] <log> <command>):
#   cmd_backend=local  this machine (local/run_local.sh)
#   cmd_backend=slurm  sbatch jobs (local/slurm.pl, a link to local/run_slurm.sh; the
#                      name makes espnet2.bin.launch use srun for --num_nodes > 1).
#                      Partition, time, account: --partition/--time options below or
#                      BLJUST_SBATCH_ARGS="--account x" in the environment.
# Set it here or in the environment: cmd_backend=slurm ./run.sh
cmd_backend="${cmd_backend:-local}"
: "${BLJUST_ROOT:?source path.sh before cmd.sh}"

case "${cmd_backend}" in
    local)
        export train_cmd="${BLJUST_ROOT}/local/run_local.sh"
        export cuda_cmd="${BLJUST_ROOT}/local/run_local.sh"
        export decode_cmd="${BLJUST_ROOT}/local/run_local.sh"
        ;;
    slurm)
        export train_cmd="${BLJUST_ROOT}/local/slurm.pl --mem 4G --time 2:00:00"
        export cuda_cmd="${BLJUST_ROOT}/local/slurm.pl --mem 16G --time 24:00:00"
        export decode_cmd="${BLJUST_ROOT}/local/slurm.pl --mem 4G --time 4:00:00"
        ;;
    *)
        echo "cmd.sh: unknown cmd_backend=${cmd_backend} (local or slurm)" >&2
        return 1
        ;;
esac
