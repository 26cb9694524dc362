"""The comparison harness at its smallest: two strategies, one seed, one tiny
epoch on a 2-speaker FSDD split; the table, the RESULTS fragment and the PNGs
exist and hold numbers."""

import json
import os
import re

import pytest

from espnet_bljust.bin import compare_strategies, merge_comparisons
from espnet_bljust.bin.compare_strategies import (
    averaged_checkpoint,
    goal_lines,
    mean_std,
    paired_difference,
    lm_key,
    pick_lm_weight,
    planned_steps,
    same_lm_decoding,
    results_table,
    strategy_argv,
)

SMALL_MODEL = ("--encoder_conf num_blocks=1 --encoder_conf output_size=64 "
               "--encoder_conf linear_units=128 --encoder_conf attention_heads=2 "
               "--batch_size 8 --scheduler_conf warmup_steps=5 "
               "--lower_scheduler_conf warmup_steps=5")  # fmt: skip


def test_strategy_phases_share_one_plan():
    assert strategy_argv("supervised", 100, 0.2, 0.1) == [
        "--strategy", "supervised", "--phase_unit", "step"]  # fmt: skip
    pt_ft = strategy_argv("pt_ft", 100, 0.2, 0.1)
    assert pt_ft[pt_ft.index("--exploration_len") + 1] == "20"
    bl = strategy_argv("bljust", 100, 0.2, 0.1, lower_steps_per_upper=2)
    assert bl[bl.index("--exploration_len") + 1] == "20"
    assert bl[bl.index("--finetune_len") + 1] == "10"
    assert bl[bl.index("--lower_steps_per_upper") + 1] == "2"


def test_costliest_run_of_a_seed_starts_first(fsdd_root, tmp_path):
    """bljust takes a lower step beside each joint upper step; the plan starts
    it first within each seed (seed-major still: a stopped comparison holds
    whole seeds), so that runs at --jobs 2 end close together."""
    from espnet_bljust.corpora.fsdd import make_fsdd_split

    assert planned_steps("supervised", 100, 0.2, 0.1) == 100
    assert planned_steps("just", 100, 0.2, 0.1) == 100
    assert planned_steps("bljust", 100, 0.2, 0.1) == 170
    assert planned_steps("bljust", 100, 0.2, 0.0, lower_steps_per_upper=2) == 260
    make_fsdd_split(fsdd_root, tmp_path / "src", 1, 1, 1, 1, speakers=["george"])
    args = compare_strategies.get_parser().parse_args([
        "--data_dir", str(tmp_path / "src"), "--out_dir", str(tmp_path / "cmp"),
        "--strategies", "supervised pt_ft just bljust", "--seeds", "1 2"])  # fmt: skip
    order = [(run["seed"], run["strategy"]) for run in compare_strategies.plan_runs(args)]
    assert order == [(1, "bljust"), (1, "supervised"), (1, "pt_ft"), (1, "just"),
                     (2, "bljust"), (2, "supervised"), (2, "pt_ft"), (2, "just")]


def test_lm_weight_grid_grows_on_dev_only_while_its_edge_wins():
    def dev_wer(weight):  # best at 16, flat beyond
        return {0.5: 30.0, 1: 20.0, 2: 12.0, 4: 10.0, 8: 9.0, 16: 8.0}.get(weight, 8.0)

    scored = []

    def counted(weight):
        scored.append(weight)
        return dev_wer(weight)

    assert pick_lm_weight(counted, [1, 2, 4, 8]) == (8, {"1": 20.0, "2": 12.0, "4": 10.0,
                                                         "8": 9.0})  # fmt: skip
    chosen, scores = pick_lm_weight(dev_wer, [1, 2, 4, 8], max_weight=64)
    assert chosen == 16 and list(scores) == ["1", "2", "4", "8", "16", "32"]  # 32 ties: smaller
    scored.clear()
    assert pick_lm_weight(counted, [1, 2, 4, 8], max_weight=12)[0] == 8  # 16 > the cap
    assert scored == [1, 2, 4, 8]
    # the best inside the grid: nothing more is scored
    assert pick_lm_weight(lambda w: abs(w - 2), [4, 1, 2], max_weight=64) == (
        2, {"1": 1.0, "2": 0.0, "4": 2.0})
    scored.clear()
    assert pick_lm_weight(counted, [0.5, 1, 2], max_weight=64)[0] == 16
    assert scored == [0.5, 1, 2, 4, 8, 16, 32]


def test_lm_decodings_differing_in_max_weight_only_are_the_same():
    lm = {"model_file": "lm.pth", "digest": "abc"}
    key = lm_key(lm, [1, 2], 10)
    assert same_lm_decoding(key, lm_key(lm, [1, 2], 10, max_weight=64))
    assert same_lm_decoding(lm_key(lm, [1, 2], 10, 8), lm_key(lm, [1, 2], 10, max_weight=64))
    assert not same_lm_decoding(key, lm_key(lm, [1, 2, 4], 10))
    assert not same_lm_decoding(key, lm_key(lm, [1, 2], 4))
    assert not same_lm_decoding(key, lm_key({**lm, "digest": "abd"}, [1, 2], 10))
    assert not same_lm_decoding(None, key)


def test_mean_std_over_seeds():
    assert mean_std([10.0]) == "10.0"
    assert mean_std([10.0, 20.0]) == "15.0 ± 7.1"
    assert mean_std([]) == "–"


def test_failed_runs_keep_their_row():
    table = results_table([dict(labeled=60, strategy="bljust", seed=1, ok=False)])
    assert "| 60 | bljust | 0/1 (failed) |" in table


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
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        wer, cer, dev = (float(c) for c in cells[3:6])
        assert wer >= 0 and cer >= 0 and 0 <= dev
        assert cells[6] == "4"  # ticks: the same budget for both
    runs = {r["strategy"]: r for r in json.loads(paths["json"].read_text())}
    assert runs["supervised"]["lower_steps"] == 0 and runs["supervised"]["upper_steps"] == 4
    # bljust: 1 exploration tick (0.2 x 4, rounded), 3 joint ticks (K=1), fine-tune 0
    assert runs["bljust"]["lower_steps"] == 4 and runs["bljust"]["upper_steps"] == 3
    assert runs["bljust"]["train_peak_rss_mb"] > 100
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


def _scored(strategy, seed, wer, wer_ave=None):
    run = dict(labeled=120, strategy=strategy, seed=seed, ok=True, test_wer=wer, test_cer=wer / 2,
               epochs={1: {"valid": {"cer_ctc": 0.1}}}, ticks=10, lower_steps=2,
               upper_steps=8, train_loop_s=1.0, train_wall_s=2.0, train_peak_rss_mb=500.0)  # fmt: skip
    if wer_ave is not None:
        run.update(test_wer_ave=wer_ave, test_cer_ave=wer_ave / 2)
    return run


def test_goal_lines_pair_the_seeds():
    runs = [_scored("pt_ft", 1, 30.0), _scored("pt_ft", 2, 20.0), _scored("pt_ft", 3, 25.0),
            _scored("bljust", 1, 20.0), _scored("bljust", 2, 18.0),
            _scored("supervised", 1, 40.0)]  # fmt: skip
    lines = goal_lines(runs).splitlines()
    # ratio of the means over every finished seed; the pairs only where both ran
    assert lines[0].startswith("- 120 labeled, best dev checkpoint: BL-JUST WER / pt_ft WER = "
                               "19.0 / 25.0 = 0.76 (goal ≤ 0.85: met)")  # fmt: skip
    assert "per seed BL-JUST - pt_ft = -6.0 ± 5.7 WER points (paired t = -1.50, p = 0.374)" in lines[0]
    assert lines[0].endswith("better on 2 of 2 seeds")
    assert "= 19.0 / 40.0 = 0.47 (goal ≤ 0.7: met); per seed BL-JUST - supervised = -20.0 " \
        "WER points, better on 1 of 1 seeds" in lines[1]
    assert len(lines) == 2  # no averaged decodes: no n-best lines


def test_paired_difference_without_spread():
    assert paired_difference([-2.0, -2.0]) == "-2.0 WER points"
    assert paired_difference([1.0, 3.0]).startswith("+2.0 ± 1.4 WER points (paired t = 2.00, p = 0.295)")


def test_table_and_goals_carry_the_nbest_average():
    runs = [_scored("pt_ft", 1, 30.0, 28.0), _scored("bljust", 1, 20.0, 14.0)]
    table = results_table(runs)
    assert "| test WER, n-best average (%) | test CER, n-best average (%) |" in table
    assert "| 120 | bljust | 1 | 20.0 | 10.0 | 14.0 | 7.0 | 10.0 |" in table
    header, rule = table.splitlines()[:2]
    assert header.count("|") == rule.count("|")
    failed = results_table(runs + [dict(labeled=120, strategy="just", seed=1, ok=False)])
    assert "| 120 | just | 0/1 (failed) |" + " – |" * 11 in failed
    lines = goal_lines(runs).splitlines()
    assert any(line.startswith("- 120 labeled, n-best average: BL-JUST WER / pt_ft WER = "
                               "14.0 / 28.0 = 0.50") for line in lines)  # fmt: skip


def test_table_and_goals_carry_the_lm_decoding():
    runs = [_scored("supervised", 1, 30.0), _scored("bljust", 1, 20.0)]
    runs[0].update(test_wer_lm=18.0, test_cer_lm=12.0, lm_weight=1.0)
    runs[1].update(test_wer_lm=9.0, test_cer_lm=8.0, lm_weight=2.0)
    table = results_table(runs)
    assert "| test WER, LM (%) | test CER, LM (%) | LM weight (dev) | best dev CER (%) |" in table
    assert "| 120 | bljust | 1 | 20.0 | 10.0 | 9.0 | 8.0 | 2 | 10.0 |" in table
    lines = goal_lines(runs).splitlines()
    assert any(line.startswith("- 120 labeled, best dev checkpoint + LM: BL-JUST WER / supervised "
                               "WER = 9.0 / 18.0 = 0.50 (goal ≤ 0.7: met)") for line in lines)  # fmt: skip


def test_averaged_checkpoint_prefers_the_asked_n(tmp_path):
    with pytest.raises(FileNotFoundError, match="--keep_nbest_models 5"):
        averaged_checkpoint(tmp_path, 5)
    for n in (1, 2, 10):
        (tmp_path / f"valid.cer_ctc.ave_{n}best.pth").write_bytes(b"")
    # as espnet2 leaves it: ave.pth links to the largest average it made
    (tmp_path / "valid.cer_ctc.ave.pth").symlink_to("valid.cer_ctc.ave_10best.pth")
    assert averaged_checkpoint(tmp_path, 2).name == "valid.cer_ctc.ave_2best.pth"
    # no ave_5best made: the largest average espnet2 made instead
    assert averaged_checkpoint(tmp_path, 5).name == "valid.cer_ctc.ave_10best.pth"


def test_prepared_split_dir_needs_every_set(tmp_path):
    (tmp_path / "src" / "train_labeled").mkdir(parents=True)
    (tmp_path / "src" / "train_labeled" / "wav.scp").write_text("a x.wav\n")
    with pytest.raises(SystemExit, match="lacks train_unlabeled, dev, test, train_labeled/text"):
        compare_strategies.prepare_split_dir(tmp_path / "src", tmp_path / "out")


def test_harness_on_a_prepared_split(fsdd_root, tmp_path):
    """--data_dir: a recipe-style split (relative wav.scp paths) instead of FSDD takes."""
    from espnet_bljust.corpora.fsdd import make_fsdd_split

    src = tmp_path / "data"
    make_fsdd_split(fsdd_root, src, 1, 1, 1, 1, speakers=["george"])
    for name in compare_strategies.SPLIT_SETS:  # relative to the set's folder, as in ../shared
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
    assert "--keep_nbest_models" in run["argv"] and run["test_wer_ave"] >= 0
    hyps = (tmp_path / "cmp" / "l10" / "pt_ft_seed1" / "decode_test_valid.cer_ctc.ave_2best" / "text")
    assert len(hyps.read_text().splitlines()) == 10
    assert f"Strategy comparison on {src}" in paths["results"].read_text()

    # --lm_config on the finished run and a new one: an LM on the 10 labeled transcripts
    # (trained beside the new run, --jobs 2); the finished run reused and decoded again with
    # CTC + LM, the new one trained and then decoded both ways; the weight picked on dev
    lm_config = compare_strategies.REPO / "egs2" / "fsdd" / "bljust1" / "conf" / "train_lm.yaml"
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
        assert 0 <= one["test_wer_lm"] <= 100 and 0 <= one["test_wer_lm_ave"] <= 100
        exp = tmp_path / "cmp" / "l10" / f"{one['strategy']}_seed1"
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
        str(compare_strategies.REPO / "egs2" / "fsdd" / "bljust1" / "conf" / "train_lm.yaml"),
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
    assert f"[stopped] bljust seed 1 (train, pid {pid})" in rest
    assert f"(lm_train, pid {lm_pid})" in rest

    def running(pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                return not any(line.startswith("State:") and "Z" in line for line in f)
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while (running(pid) or running(lm_pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running(pid) and not running(lm_pid)
