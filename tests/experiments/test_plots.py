"""The comparison plots from run dicts shaped like compare_strategies' results.json."""

import pytest

from espnet_bljust.experiments import plots

PNG = b"\x89PNG\r\n\x1a\n"


def _run(strategy, labeled, seed, wer, ok=True):
    epochs = {
        e: {"train": {"loss_sup": 10.0 / e, "loss_unsup_lower": 3.0 - 0.1 * e,
                      "loss_unsup_upper": 3.1 - 0.1 * e, "gamma": 0.1 * e},
            "valid": {"cer_ctc": 1.0 / (e + 1), "wer_ctc": 1.5 / (e + 1)}}
        for e in (1, 2, 3)
    }  # fmt: skip
    return dict(strategy=strategy, labeled=labeled, seed=seed, test_wer=wer, ok=ok,
                epochs=epochs)  # fmt: skip


RUNS = [
    _run("supervised", 60, 1, 50.0), _run("supervised", 60, 2, 40.0),
    _run("supervised", 120, 1, 30.0),
    _run("bljust", 60, 1, 45.0), _run("bljust", 120, 1, 25.0), _run("bljust", 120, 2, 99.0, ok=False),
    _run("bljust", 300, 1, 10.0),
]  # fmt: skip


def test_wer_by_labeled_means_and_stds_over_seeds():
    sizes, means, stds = plots.wer_by_labeled(RUNS, "supervised")
    assert sizes == [60, 120] and means == [45.0, 30.0]
    assert stds[0] == pytest.approx(7.0711, abs=1e-3) and stds[1] == 0.0
    # a failed run is left out
    assert plots.wer_by_labeled(RUNS, "bljust") == ([60, 120, 300], [45.0, 25.0, 10.0], [0.0] * 3)
    assert plots.wer_by_labeled(RUNS, "pt_ft") == ([], [], [])


def test_every_plot_writes_a_png(tmp_path):
    ok = [r for r in RUNS if r["ok"]]
    paths = [
        plots.plot_dev_curve(ok, tmp_path / "dev_cer.png", iters_per_epoch=25),
        plots.plot_dev_curve(ok, tmp_path / "dev_wer.png", iters_per_epoch=25, key="wer_ctc"),
        plots.plot_bljust_training(ok[3], tmp_path / "losses.png", iters_per_epoch=25),
        plots.plot_wer_vs_labeled(ok, tmp_path / "wer_vs_labeled.png"),
    ]
    for path in paths:
        data = path.read_bytes()
        assert data[:8] == PNG and len(data) > 5000, path


def test_curve_is_in_ticks_and_sorted():
    xs, ys = plots._curve({2: {"valid": {"cer_ctc": 0.2}}, 1: {"valid": {"cer_ctc": 0.5}},
                           3: {"train": {}}}, "valid", "cer_ctc", 25)  # fmt: skip
    assert xs == [25, 50] and ys == [0.5, 0.2]
