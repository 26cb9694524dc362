"""Merging parts of a comparison: runs trained alike go in one table (and a
WER-vs-labeled plot when the parts cover several sizes); runs trained
differently, or one run with two results, are refused by name."""

import json

import pytest

from espnet_bljust.bin import merge_comparisons
from espnet_bljust.bin.merge_comparisons import MergeError, merge_runs, training_setting


def _run(part, labeled, strategy, seed, wer, extra=()):
    exp = f"{part}/l{labeled}/{strategy}_seed{seed}"
    argv = ["--config", "conf/train.yaml", "--output_dir", exp,
            "--train_data_path_and_name_and_type", f"{part}/data/train/wav.scp,speech,sound",
            "--seed", str(seed), "--max_epoch", "2", "--num_iters_per_epoch", "5",
            "--strategy", strategy, *extra]  # fmt: skip
    epochs = {str(e): {"valid": {"cer_ctc": 0.3 / e, "wer_ctc": 0.5 / e},
                       "train": {"loss_sup": 2.0 / e}} for e in (1, 2)}  # fmt: skip
    return dict(labeled=labeled, unlabeled=100, strategy=strategy, seed=seed, ok=True,
                exp=exp, argv=argv, test_wer=wer, test_cer=wer / 2, epochs=epochs, ticks=10,
                lower_steps=0, upper_steps=10, train_loop_s=1.0, train_wall_s=2.0,
                train_peak_rss_mb=500.0)  # fmt: skip


def _part(tmp_path, name, runs):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(runs))
    return folder


def test_training_setting_sets_folders_and_seed_aside():
    a = _run("exp/a", 60, "supervised", 1, 40.0)["argv"]
    b = _run("exp/b", 120, "supervised", 3, 30.0)["argv"]
    assert training_setting(a) == training_setting(b)
    assert "--seed" not in training_setting(a) and "--max_epoch" in training_setting(a)


def test_parts_of_several_sizes_make_one_table(tmp_path):
    small = _part(tmp_path, "l60", [_run("l60", 60, s, seed, w) for s, seed, w in (
        ("supervised", 1, 50.0), ("supervised", 2, 40.0), ("bljust", 1, 30.0),
        ("bljust", 2, 34.0))])  # fmt: skip
    large = _part(tmp_path, "l120", [_run("l120", 120, s, 1, w)
                                     for s, w in (("supervised", 25.0), ("bljust", 20.0))])
    # the same part twice: its runs are counted once
    paths = merge_comparisons.main([str(small), str(large), str(small / "results.json"),
                                    "--out_dir", str(tmp_path / "merged")])  # fmt: skip
    table = paths["table"].read_text()
    assert "| 60 | supervised | 2 | 45.0 ± 7.1 |" in table
    assert "| 60 | bljust | 2 | 32.0 ± 2.8 |" in table
    assert "| 120 | bljust | 1 | 20.0 |" in table
    assert "- 60 labeled, best dev checkpoint, seeds 1, 2: BL-JUST WER / supervised WER = " \
        "32.0 / 45.0 = 0.71" in table
    assert len(json.loads(paths["json"].read_text())) == 6
    results = paths["results"].read_text()
    assert "python -m espnet_bljust.bin.merge_comparisons" in results and f"`{large}`" in results
    assert "supervised: --config conf/train.yaml --max_epoch 2" in results
    png = paths["wer_vs_labeled"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_runs_trained_differently_are_refused(tmp_path):
    one = _part(tmp_path, "one", [_run("one", 60, "bljust", 1, 30.0)])
    other = _part(tmp_path, "other",
                  [_run("other", 120, "bljust", 1, 20.0, extra=("--gamma_max", "1.0"))])
    with pytest.raises(MergeError, match=r"other/results.json: bljust seed 1 was trained with "
                       r"other options than the bljust runs of .*one/results.json"):  # fmt: skip
        merge_runs([one, other])
    with pytest.raises(SystemExit, match="(?s)merge_comparisons: error: .*--gamma_max 1.0"):
        merge_comparisons.main([str(one), str(other), "--out_dir", str(tmp_path / "m")])
    assert not (tmp_path / "m" / "results.md").exists()


def test_one_run_with_two_results_is_refused(tmp_path):
    a = _part(tmp_path, "a", [_run("a", 60, "supervised", 1, 40.0)])
    b = _part(tmp_path, "b", [_run("b", 60, "supervised", 1, 41.0)])
    with pytest.raises(MergeError, match=r"b/results.json and .*a/results.json both hold "
                       r"supervised seed 1 with 60 labeled, with test WER 41.00 and 40.00"):  # fmt: skip
        merge_runs([a, b])


def test_failed_runs_and_missing_parts(tmp_path):
    with pytest.raises(MergeError, match="nowhere: no results.json"):
        merge_runs([tmp_path / "nowhere"])
    failed = dict(_run("f", 60, "bljust", 1, 0.0), ok=False)
    part = _part(tmp_path, "f", [failed])
    with pytest.raises(MergeError, match="no finished run in"):
        merge_runs([part])
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(MergeError, match="bad.json: not JSON"):
        merge_runs([bad])
