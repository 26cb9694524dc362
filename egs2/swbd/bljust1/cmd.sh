# shellcheck shell=bash
# Job backends (run.pl calling convention: <backend> [--gpu N] [JOB=1:N] <log> <command>):
#   cmd_backend=local  this machine (local/run_local.sh): a workstation with GPUs
#   cmd_backend=slurm  sbatch jobs (local/slurm.pl, a link to local/run_slurm.sh; the
#                      name makes espnet2.bin.launch use srun for --num_nodes > 1).
#                      Partition, account, constraints: BLJUST_SBATCH_ARGS in the
#                      environment, e.g. BLJUST_SBATCH_ARGS="--partition gpu --account x".
# Set it here or in the environment: cmd_backend=slurm ./run.sh --ngpu 8
# Resources below are for the full-scale run (training takes days on one GPU:
# see the train config's header); raise --time where the queue allows.
cmd_backend="${cmd_backend:-local}"
: "${BLJUST_ROOT:?source path.sh before cmd.sh}"

case "${cmd_backend}" in
    local)
        export train_cmd="${BLJUST_ROOT}/local/run_local.sh"
        export cuda_cmd="${BLJUST_ROOT}/local/run_local.sh"
        export decode_cmd="${BLJUST_ROOT}/local/run_local.sh"
        ;;
    slurm)
        # train_cmd: validation, audio formatting (--num_threads = --nj), token list,
        # statistics, scoring; cuda_cmd: training (--gpu = --ngpu per node);
        # decode_cmd: one decoding job of --inference_nj.
        export train_cmd="${BLJUST_ROOT}/local/slurm.pl --mem 32G --time 24:00:00"
        export cuda_cmd="${BLJUST_ROOT}/local/slurm.pl --mem 96G --time 120:00:00"
        export decode_cmd="${BLJUST_ROOT}/local/slurm.pl --mem 8G --time 12:00:00"
        ;;
    *)
        echo "cmd.sh: unknown cmd_backend=${cmd_backend} (local or slurm)" >&2
        return 1
        ;;
esac
