# shellcheck shell=bash
# Job backends, the same file in every recipe (a link to the template's), as in ESPnet:
# Kaldi's run.pl and slurm.pl (utils/ is a link to the repository's local/).
#   cmd_backend=local  this machine: utils/run.pl
#   cmd_backend=slurm  sbatch jobs: utils/slurm.pl with ${BLJUST_ROOT}/conf/slurm.conf
#                      (partition, account: edit that file); espnet2.bin.launch uses
#                      srun through it for --num_nodes > 1.
# Set it here or in the environment: cmd_backend=slurm ./run.sh --ngpu 4
# train_cmd: data formatting, validation, statistics, token lists, LM, scoring;
# cuda_cmd: training (--gpu = --ngpu per node); decode_cmd: one decoding job of --inference_nj.
cmd_backend="${cmd_backend:-local}"

case "${cmd_backend}" in
    local)
        export train_cmd="utils/run.pl"
        export cuda_cmd="utils/run.pl"
        export decode_cmd="utils/run.pl"
        ;;
    slurm)
        _conf="${BLJUST_ROOT:?source path.sh before cmd.sh}/conf/slurm.conf"
        export train_cmd="utils/slurm.pl --config ${_conf} --mem 32G --time 24:00:00"
        export cuda_cmd="utils/slurm.pl --config ${_conf} --mem 96G --time 120:00:00"
        export decode_cmd="utils/slurm.pl --config ${_conf} --mem 8G --time 12:00:00"
        ;;
    *)
        echo "cmd.sh: unknown cmd_backend=${cmd_backend} (local or slurm)" >&2
        return 1
        ;;
esac
