"""The comparison harness at its smallest: two strategies, one seed, one tiny
epoch on a 2-speaker FSDD split; the table, the RESULTS fragment and the PNGs
exist and hold numbers."""

import json
import os
import re

import pytest

from espnet_bljust.bin import compare_strategies, merge_comparisons
from espnet_bljust.bin.score import score
from espnet_bljust.experiments.argv import REPO
from espnet_bljust.experiments.decoding import read_text
from espnet_bljust.experiments.report import best_dev_cer
from espnet_bljust.experiments.splits import SPLIT_SETS

SMALL_MODEL = ("--encoder_conf num_blocks=1 --encoder_conf output_size=64 "
               "--encoder_conf linear_units=128 --encoder_conf attention_heads=2 "
               "--batch_size 8 --scheduler_conf warmup_steps=5 "
               "--lower_scheduler_conf warmup_steps=5")  # fmt: skip


def test_harness_end_to_end(fsdd_root, tmp_path):
    out = tmp_path / "cmp"
    paths = compare_strategies.main([
        "--fsdd", str(fsdd_root), "--out_dir", str(out),
        "--strategies", "supervised bljust", "--seeds", "1",
        "--labeled_takes", "1", "--unlabeled_takes", "1", "--dev_takes", "1",
        "--test_takes", "1", "--speakers", "george theo",
        "--max_epoch", "1", "--num_iters_per_epoch", "4",
        "--train_args", SMALL_MODEL, "--timeout", "150",
    ])  # fmt: skip
    table = paths["table"].read_text()
    rows = [line for line in table.splitlines() if re.match(r"\| 20 \| (supervised|bljust) \|", line)]
    assert len(rows) == 2, table
    runs = {r["strategy"]: r for r in json.loads(paths["json"].read_text())}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        run = runs[cells[1]]
        # the table's cells are the run's scored test WER/CER and best dev CER
        assert [float(c) for c in cells[3:5]] == [round(run["test_wer"], 1),
                                                 round(run["test_cer"], 1)]  # fmt: skip
        assert float(cells[5]) == round(best_dev_cer(run["epochs"]), 1)
        assert cells[6] == "4"  # ticks: the same budget for both
    assert runs["supervised"]["lower_steps"] == 0 and runs["supervised"]["upper_steps"] == 4
    # bljust: 1 exploration tick (0.2 x 4, rounded), 3 joint ticks (K=1), fine-tune 0
    assert runs["bljust"]["lower_steps"] == 4 and runs["bljust"]["upper_steps"] == 3
    results = paths["results"].read_text()
    assert "python -m espnet_bljust.bin.compare_strategies" in results
    assert "espnet_bljust 0." in results and "| test WER (%) |" in results
    assert all("wer_ctc" in e["valid"] for e in runs["bljust"]["epochs"].values())
    for name in ("dev_cer", "dev_wer", "bljust_losses"):
        png = paths[name]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert "wer_vs_labeled" not in paths  # one labeled size only

    # a real part merges into the same table
    merged = merge_comparisons.main([str(out), "--out_dir", str(tmp_path / "merged"), "--no_plots"])
    assert all(row in merged["table"].read_text() for row in rows)

    # a second call reuses the finished runs
    again = compare_strategies.main([
        "--fsdd", str(fsdd_root), "--out_dir", str(out),
        "--strategies", "supervised", "--seeds", "1",
        "--labeled_takes", "1", "--unlabeled_takes", "1", "--dev_takes", "1",
        "--test_takes", "1", "--speakers", "george theo",
        "--max_epoch", "1", "--num_iters_per_epoch", "4",
        "--train_args", SMALL_MODEL, "--no_plots",
    ])  # fmt: skip
    assert rows[0] in again["table"].read_text()


def test_harness_on_a_prepared_split(fsdd_root, tmp_path):
    """--data_dir: a recipe-style split (relative wav.scp paths) instead of FSDD takes."""
    from espnet_bljust.corpora.fsdd import make_fsdd_split

    src = tmp_path / "data"
    make_fsdd_split(fsdd_root, src, 1, 1, 1, 1, speakers=["george"])
    for name in SPLIT_SETS:  # relative to the set's folder, as in ../shared
        scp = src / name / "wav.scp"
        scp.write_text("".join(
            f"{uid} {os.path.relpath(path, src / name)}\n"
            for uid, path in (line.split() for line in scp.read_text().splitlines())))  # fmt: skip
    paths = compare_strategies.main([
        "--data_dir", str(src), "--out_dir", str(tmp_path / "cmp"),
        "--strategies", "pt_ft", "--seeds", "1", "--max_epoch", "2",
        "--num_iters_per_epoch", "3", "--train_args", SMALL_MODEL, "--timeout", "150",
        "--no_plots", "--average_nbest", "2",
    ])  # fmt: skip
    (run,) = json.loads(paths["json"].read_text())
    assert run["ok"] and run["labeled"] == 10 and run["unlabeled"] == 10 and run["ticks"] == 6
    assert run["test_utts"] == 10
    # the average of the 2 best dev checkpoints was decoded too
    assert run["checkpoint_ave"] == "valid.cer_ctc.ave_2best.pth"
    assert "--keep_nbest_models" in run["argv"]
    hyps = (tmp_path / "cmp" / "l10" / "pt_ft_seed1" / "decode_test_valid.cer_ctc.ave_2best" / "text")
    assert len(hyps.read_text().splitlines()) == 10
    ref = read_text(tmp_path / "cmp" / "data" / "test" / "text")
    assert run["test_wer_ave"] == pytest.approx(score(ref, read_text(hyps))["wer"])
    assert f"Strategy comparison on {src}" in paths["results"].read_text()

    # --lm_config on the finished run and a new one: an LM on the 10 labeled transcripts
    # (trained beside the new run, --jobs 2); the finished run reused and decoded again with
    # CTC + LM, the new one trained and then decoded both ways; the weight picked on dev
    lm_config = REPO / "egs2" / "fsdd" / "bljust1" / "conf" / "train_lm.yaml"
    again = [
        "--data_dir", str(src), "--out_dir", str(tmp_path / "cmp"),
        "--strategies", "supervised pt_ft", "--seeds", "1", "--max_epoch", "2",
        "--num_iters_per_epoch", "3", "--train_args", SMALL_MODEL, "--timeout", "300",
        "--no_plots", "--average_nbest", "2", "--jobs", "2",
        "--lm_config", str(lm_config), "--lm_weights", "0.5 1", "--lm_beam_size", "4",
        "--lm_weight_max", "2",
    ]  # fmt: skip
    paths = compare_strategies.main(again)
    new_run, lm_run = json.loads(paths["json"].read_text())
    assert (new_run["strategy"], lm_run["strategy"]) == ("supervised", "pt_ft")
    assert lm_run["test_wer"] == run["test_wer"]  # reused, not retrained
    for one in (new_run, lm_run):
        # 2 is tried on dev only where 1 beat 0.5 (the grid's edge won; --lm_weight_max 2)
        scored = one["dev_wer_lm"]
        grown = scored["1"] < scored["0.5"]
        assert set(scored) == ({"0.5", "1", "2"} if grown else {"0.5", "1"})
        assert one["lm_weight"] == min(map(float, scored), key=lambda w: (scored[f"{w:g}"], w))
        exp = tmp_path / "cmp" / "l10" / f"{one['strategy']}_seed1"
        ref = read_text(tmp_path / "cmp" / "data" / "test" / "text")
        for sub, key in (("decode_test_lm", "test_wer_lm"), ("decode_test_ave_lm", "test_wer_lm_ave")):
            assert one[key] == pytest.approx(score(ref, read_text(exp / sub / "text"))["wer"]), key
        dev_dirs = [f"decode_dev_lm{w}" for w in scored]
        for sub in ["decode_test_lm", "decode_test_ave_lm"] + dev_dirs:
            assert len((exp / sub / "text").read_text().splitlines()) == 10, sub
    table = paths["table"].read_text()
    assert "| test WER, LM (%) | test CER, LM (%) | test WER, LM, n-best average (%) " \
        "| LM weight (dev) |" in table
    header, rule = table.splitlines()[:2]
    assert header.count("|") == rule.count("|")
    # the same call again: nothing to decode
    stamp = (exp / "decode_test_lm" / "text").stat().st_mtime_ns
    compare_strategies.main(again)
    assert (exp / "decode_test_lm" / "text").stat().st_mtime_ns == stamp
    # only --lm_weight_max raised (2 -> 8): the dev WERs decoded before are kept, not decoded
    # again; test is decoded again only where the chosen weight changed
    assert again[-2:] == ["--lm_weight_max", "2"]
    dev_stamps = {w: (exp / f"decode_dev_lm{w}" / "text").stat().st_mtime_ns
                  for w in lm_run["dev_wer_lm"]}  # fmt: skip
    raised = json.loads(compare_strategies.main(again[:-1] + ["8"])["json"].read_text())[1]
    for w, t in dev_stamps.items():
        assert (exp / f"decode_dev_lm{w}" / "text").stat().st_mtime_ns == t, w
        assert raised["dev_wer_lm"][w] == lm_run["dev_wer_lm"][w]
    scored = raised["dev_wer_lm"]
    assert raised["lm_weight"] == min(map(float, scored), key=lambda w: (scored[f"{w:g}"], w))
    new_weights = [float(w) for w in scored if w not in lm_run["dev_wer_lm"]]
    if raised["lm_weight"] == lm_run["lm_weight"]:
        assert (exp / "decode_test_lm" / "text").stat().st_mtime_ns == stamp
        assert raised["test_wer_lm"] == lm_run["test_wer_lm"]
        assert raised["lm_decodes"] == [["dev", w] for w in new_weights]
    else:
        assert raised["lm_decodes"] == [["dev", w] for w in new_weights] + [
            ["test", raised["lm_weight"]], ["test_ave", raised["lm_weight"]]]


def test_sigterm_stops_the_running_children(fsdd_root, tmp_path):
    """kill (SIGTERM) on the harness stops its running children too (a run and the LM
    training beside it): no orphan trains on."""
    import signal
    import subprocess
    import sys
    import time

    cmd = [
        sys.executable, "-m", "espnet_bljust.bin.compare_strategies", "--fsdd", str(fsdd_root),
        "--out_dir", str(tmp_path / "cmp"), "--strategies", "bljust", "--seeds", "1",
        "--labeled_takes", "1", "--unlabeled_takes", "1", "--dev_takes", "1", "--test_takes", "1",
        "--speakers", "george", "--max_epoch", "200", "--num_iters_per_epoch", "4",
        "--train_args", SMALL_MODEL, "--no_plots", "--jobs", "2", "--lm_config",
        str(REPO / "egs2" / "fsdd" / "bljust1" / "conf" / "train_lm.yaml"),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lm_pid = pid = None
    for line in proc.stdout:
        match = re.search(r"^\[(start|lm)\] .* pid (\d+)\)", line)
        if match and match.group(1) == "lm":
            lm_pid = int(match.group(2))  # the LM trains beside the run
        elif match:
            pid = int(match.group(2))
            break
    assert lm_pid is not None and pid is not None, "no [lm] and [start] lines"
    time.sleep(3)  # the children are training now (the LM takes ~1 min)
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert f"[stopped] bljust seed 1 (train, pid {pid}): continued by the next call" in rest
    assert f"(lm_train, pid {lm_pid})" in rest

    deadline = time.monotonic() + 10
    while (_running(pid) or _running(lm_pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(pid) and not _running(lm_pid)


def test_sigterm_stops_the_protocol_runs(fsdd_root, tmp_path):
    """--protocol: kill (SIGTERM) stops the running tuning runs too; nothing is
    left training."""
    import signal
    import subprocess
    import sys
    import time

    import yaml

    from espnet_bljust.corpora.fsdd import make_fsdd_split

    make_fsdd_split(fsdd_root, tmp_path / "data", 1, 1, 1, 1, speakers=["george"])
    protocol = dict(
        corpus=dict(split="prepared", data_dir=str(tmp_path / "data")),
        config="espnet_bljust/conf/train_bljust_conformer_tiny.yaml", train_args=SMALL_MODEL,
        upper_unsup_source="unlabeled", threads=1, budget=dict(passes=100000, epochs=2),
        seeds=[1], tuning=dict(seed=1, trials=1, grid=dict(just=[{}], bljust=[{}])),
        checkpoint=dict(rules=["best"]), decode=dict(beam_size=1), lm=None,
    )  # fmt: skip
    (tmp_path / "protocol.yaml").write_text(yaml.safe_dump(protocol))
    cmd = [sys.executable, "-m", "espnet_bljust.bin.compare_strategies", "--protocol",
           str(tmp_path / "protocol.yaml"), "--out_dir", str(tmp_path / "out"), "--jobs", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids = []
    for line in proc.stdout:
        match = re.search(r"^\[start\] .* pid (\d+)\)", line)
        if match:
            pids.append(int(match.group(1)))
            if len(pids) == 2:
                break
    assert len(pids) == 2, "no two [start] lines"
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert all(f"(pid {pid}): continued by the next call" in rest for pid in pids), rest

    deadline = time.monotonic() + 10
    while any(map(_running, pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(map(_running, pids))
    assert not (tmp_path / "out" / "choices.json").exists()


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line for line in f)
    except FileNotFoundError:
        return False
