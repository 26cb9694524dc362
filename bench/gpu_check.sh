#!/usr/bin/env bash
# The GPU path end to end: on a CUDA machine, train the FSDD recipe's model
# (egs2/fsdd/bljust1/conf/train.yaml) for a few epochs with --ngpu 1
# --use_amp true, once supervised and once BL-JUST (joint phase throughout:
# K lower steps + one upper step with g on a fresh unlabeled batch), decode the
# FSDD test split with espnet2's asr_inference on the GPU, and print per
# strategy the step time, the peak GPU memory and the test WER, then the
# BL-JUST / supervised ratios; then, at the same batch sizes (the unlabeled
# stream reading the labeled audio), the memory ratio and the step-cost ratio
# bljust tick / (K+1 unsupervised steps + 1 supervised step), timed alone (the
# denominator holds one lower optimizer step more than the tick's inherent
# passes: K lower steps + 1 supervised step + 1 unsupervised forward/backward).
# The last line: "RATIO step_time <x> memory <y> memory_same_batches <z> step_cost <c>".
#
# Without CUDA it prints one line and exits 2, before touching any data.
#
# Usage: bench/gpu_check.sh [--fsdd DIR] [--work_dir DIR] [--epochs N] [--iters N]
#                           [--test_takes N] [--train_args ARGS] [--amp_dtype D] [--cpu]
#   --fsdd        FSDD root (default: $BLJUST_SHARED_DATA/fsdd or ../shared/data/fsdd)
#   --work_dir    split, runs and decodings (default: /tmp/bljust_gpu_check)
#   --epochs      training epochs per strategy (default: 3)
#   --iters       ticks per epoch (default: 40)
#   --test_takes  takes per speaker and digit in the test split (default: 5)
#   --train_args  more bljust_train options for every run, one string
#                 (e.g. '--lower_optim sgd --lower_optim_conf lr=0.001')
#   --amp_dtype   auto (default: the dtype espnet2 picks, bfloat16 where the GPU
#                 has it) or float16 (the path of GPUs without bfloat16: autocast
#                 to float16 with espnet2's GradScaler; on a GPU with bfloat16 the
#                 runs are told it has none, before espnet2 is imported)
#   --cpu         the same steps on the CPU (--ngpu 0, no AMP; memory is peak
#                 RSS): checks the script's plumbing, its figures are no GPU figures
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fsdd=${BLJUST_SHARED_DATA:-${repo}/../shared/data}/fsdd
work_dir=/tmp/bljust_gpu_check
epochs=3
iters=40
test_takes=5
cpu=false
train_args=""
amp_dtype=auto
while [ $# -gt 0 ]; do
    case "$1" in
        --fsdd|--work_dir|--epochs|--iters|--test_takes|--train_args|--amp_dtype)
            [ $# -ge 2 ] || { echo "gpu_check.sh: option $1 needs a value" >&2; exit 1; } ;;
    esac
    case "$1" in
        --fsdd) fsdd=$2; shift 2 ;;
        --work_dir) work_dir=$2; shift 2 ;;
        --epochs) epochs=$2; shift 2 ;;
        --iters) iters=$2; shift 2 ;;
        --test_takes) test_takes=$2; shift 2 ;;
        --train_args) train_args=$2; shift 2 ;;
        --amp_dtype) amp_dtype=$2; shift 2 ;;
        --cpu) cpu=true; shift ;;
        *) echo "gpu_check.sh: unknown option $1 (see the header of $0)" >&2; exit 1 ;;
    esac
done
case "${amp_dtype}" in
    auto|float16) ;;
    *) echo "gpu_check.sh: --amp_dtype ${amp_dtype}: auto or float16" >&2; exit 1 ;;
esac
python=${PYTHON:-${repo}/.venv/bin/python}
[ -x "${python}" ] || python=python3

if [ "${cpu}" = true ]; then
    if [ "${amp_dtype}" != auto ]; then
        echo "gpu_check.sh: --amp_dtype ${amp_dtype} needs the GPU (--cpu runs without AMP)" >&2
        exit 1
    fi
    ngpu=0 amp=false
elif ! "${python}" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu_check.sh: no CUDA device (torch.cuda.is_available() is False); nothing was run" >&2
    exit 2
else
    ngpu=1 amp=true
fi

config=${repo}/egs2/fsdd/bljust1/conf/train.yaml
decode_config=${repo}/egs2/fsdd/bljust1/conf/decode.yaml
data=${work_dir}/data
mkdir -p "${work_dir}"
cd "${repo}"

echo "== FSDD split in ${data}"
"${python}" - "${fsdd}" "${data}" "${test_takes}" <<'EOF'
import sys
from espnet_bljust.experiments.splits import prepare_fsdd
prepare_fsdd(sys.argv[1], sys.argv[2], labeled_takes=2, unlabeled_takes=-1,
             dev_takes=1, test_takes=int(sys.argv[3]))
EOF

# train STRATEGY EXP UNLABELED [EXPLORATION]: one run in its own process (so
# that the CUDA allocator's peak belongs to it alone), its figures in
# EXP/gpu_check.json. EXPLORATION: ticks of unsupervised steps first (default 0).
train() {
    local strategy=$1 exp=$2 unlabeled=$3 exploration=${4:-0}
    rm -rf "${exp}"
    echo "== training ${strategy} (unlabeled stream: ${unlabeled}, exploration ${exploration} ticks): ${epochs} epochs x ${iters} ticks, --ngpu ${ngpu} --use_amp ${amp} (${amp_dtype})"
    "${python}" - "${data}" "${exp}" "${config}" "${strategy}" "${epochs}" "${iters}" "${ngpu}" "${amp}" "${unlabeled}" "${exploration}" "${train_args}" "${amp_dtype}" <<'EOF'
import json, resource, shlex, sys, time
from pathlib import Path
import torch
if sys.argv[12] == "float16":  # a GPU without bfloat16, as espnet2 and the trainer see it
    torch.cuda.is_bf16_supported = lambda *args, **kwargs: False
from espnet_bljust.bin.bljust_train import main
from espnet_bljust.experiments.rundata import bilevel_counters
from espnet_bljust.train.step_runner import amp_dtype
from espnet_bljust.experiments.argv import train_argv
from espnet_bljust.experiments.rundata import epoch_stats

data, exp, config, strategy, epochs, iters, ngpu, amp, unlabeled, exploration, more = sys.argv[1:12]
argv = train_argv(Path(data), Path(exp), Path(config),
                  "--ngpu", ngpu, "--use_amp", amp,
                  "--strategy", strategy, "--max_epoch", epochs,
                  "--num_iters_per_epoch", iters, "--phase_unit", "tick",
                  "--exploration_len", exploration, "--joint_len", "-1", "--finetune_len", "0",
                  *shlex.split(more), unlabeled=unlabeled)
start = time.perf_counter()
try:
    main(argv)
except SystemExit as e:
    if e.code not in (0, None):
        raise
wall = time.perf_counter() - start
states = torch.load(Path(exp) / "checkpoint.pth", map_location="cpu", weights_only=False)
train = [s["train"] for _, s in sorted(epoch_stats(states).items())]
# The first epoch carries CUDA/cuDNN warm-up: the step time is the later epochs' mean.
later = train[1:] or train
counters = bilevel_counters(states)
out = dict(strategy=strategy, wall_s=wall, skipped_steps=counters["skipped_steps"],
           steps=counters["lower_steps"] + counters["upper_steps"],
           amp_dtype=str(amp_dtype("cuda")).replace("torch.", "") if amp == "true" else "none",
           final_scale=float(states["scaler"]["scale"]) if states.get("scaler") else None,
           step_ms=1e3 * sum(t["iter_time"] + t["train_time"] for t in later) / len(later),
           wait_share=sum(t["iter_time"] for t in later)
           / sum(t["iter_time"] + t["train_time"] for t in later))
if ngpu == "0":  # --cpu: peak resident memory stands in for the allocator's peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    out.update(peak_alloc_mib=peak, peak_reserved_mib=peak, device="cpu")
else:
    out.update(peak_alloc_mib=torch.cuda.max_memory_allocated() / 2**20,
               peak_reserved_mib=torch.cuda.max_memory_reserved() / 2**20,
               device=torch.cuda.get_device_name(0))
(Path(exp) / "gpu_check.json").write_text(json.dumps(out))
print(json.dumps(out))
EOF
}

for strategy in supervised bljust; do
    exp=${work_dir}/exp_${strategy}
    train "${strategy}" "${exp}" train_unlabeled
    model=${exp}/valid.cer_ctc.best.pth
    [ -f "${model}" ] || model=${exp}/latest.pth
    echo "== decoding the test split with asr_inference (${model##*/})"
    "${python}" -m espnet2.bin.asr_inference --ngpu "${ngpu}" \
        --config "${decode_config}" \
        --data_path_and_name_and_type "${data}/test/wav.scp,speech,sound" \
        --asr_train_config "${exp}/config.yaml" --asr_model_file "${model}" \
        --output_dir "${exp}/decode_test" > "${exp}/decode_test.log" 2>&1 \
        || { echo "gpu_check.sh: decoding failed, see ${exp}/decode_test.log" >&2; exit 1; }
done
# At the same batch sizes (the unlabeled stream reads the labeled audio, so
# the runs differ only in what the steps compute): memory of supervised and
# bljust, and the unsupervised step alone (pt_ft pre-training throughout), for
# the step-cost ratio bljust tick / (K+1 unsupervised steps + 1 supervised step).
for strategy in supervised bljust; do
    train "${strategy}" "${work_dir}/same_${strategy}" train_labeled
done
train pt_ft "${work_dir}/same_unsup" train_labeled $((epochs * iters))

echo "== results"
"${python}" - "${work_dir}" "${data}" <<'EOF'
import json, sys
from pathlib import Path
import yaml
from espnet_bljust.bin.score import read_text, score

work, data = Path(sys.argv[1]), Path(sys.argv[2])
# K as the same-batch bljust run used it (its saved config)
K = int(yaml.safe_load((work / "same_bljust" / "config.yaml").read_text())["lower_steps_per_upper"])
def run(name):
    return json.loads((work / name / "gpu_check.json").read_text())

runs = {}
for s in ("supervised", "bljust"):
    runs[s] = run(f"exp_{s}")
    hyp = read_text(work / f"exp_{s}" / "decode_test" / "1best_recog" / "text")
    runs[s].update(score(read_text(data / "test" / "text"), hyp))
same = {s: run(f"same_{s}") for s in ("supervised", "bljust", "unsup")}
print(f"device: {runs['bljust']['device']}")
print("| strategy | streams | tick (ms) | waiting share | peak allocated (MiB) | peak reserved (MiB) | test WER (%) |")
print("|---|---|---|---|---|---|---|")
for s, r in runs.items():
    print(f"| {s} | real streams | {r['step_ms']:.1f} | {100 * r['wait_share']:.1f}% "
          f"| {r['peak_alloc_mib']:.0f} | {r['peak_reserved_mib']:.0f} | {r['wer']:.1f} |")
for s, r in same.items():
    name = "unsupervised steps" if s == "unsup" else s
    print(f"| {name} | same batches | {r['step_ms']:.1f} | {100 * r['wait_share']:.1f}% "
          f"| {r['peak_alloc_mib']:.0f} | {r['peak_reserved_mib']:.0f} | - |")
for name, r in [*((f"{s} (real streams)", r) for s, r in runs.items()),
                *((f"{s} (same batches)", r) for s, r in same.items())]:
    scale = "-" if r["final_scale"] is None else f"{r['final_scale']:g}"
    print(f"{name}: autocast {r['amp_dtype']}, {r['skipped_steps']} of "
          f"{r['steps'] + r['skipped_steps']} steps skipped, final loss scale {scale}")
b, s = runs["bljust"], runs["supervised"]
inherent = (K + 1) * same["unsup"]["step_ms"] + same["supervised"]["step_ms"]
print(f"K = {K}: bljust tick / ({K + 1} unsupervised steps + 1 supervised step), same batches: "
      f"{same['bljust']['step_ms']:.1f} / {inherent:.1f} ms (the denominator holds one lower "
      "optimizer step more than the tick's inherent passes)")
print(f"RATIO step_time {b['step_ms'] / s['step_ms']:.3f} memory {b['peak_alloc_mib'] / s['peak_alloc_mib']:.3f}"
      f" memory_same_batches {same['bljust']['peak_alloc_mib'] / same['supervised']['peak_alloc_mib']:.3f}"
      f" step_cost {same['bljust']['step_ms'] / inherent:.3f}")
EOF
