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


def _compute_run(strategy, seed, slope, offset=0.0, xs=range(100, 1001, 100), floor=0.0):
    """A run whose dev CER falls linearly from 0.6 with ``slope`` per unit of compute."""
    curve = [(float(x), max(floor, 0.6 - slope * x) + offset) for x in xs]
    return dict(strategy=strategy, seed=seed, labeled=120, dev_curve=curve)


# pt_ft: best mean 0.28 at 800 (two seeds +-0.02 around it, flat at 0.28 after);
# bljust reaches 0.28 at 400; just between 500 (0.30) and 600 (0.24); supervised never
COMPUTE_RUNS = [
    _compute_run("pt_ft", 1, 0.0004, +0.02, floor=0.28),
    _compute_run("pt_ft", 2, 0.0004, -0.02, floor=0.28),
    _compute_run("bljust", 1, 0.0008, +0.01), _compute_run("bljust", 2, 0.0008, -0.01),
    _compute_run("just", 1, 0.0006),
    _compute_run("supervised", 1, 0.0001),
]  # fmt: skip


def test_compute_to_reach_and_shorter_training_read_known_curves():
    found = plots.shorter_training(COMPUTE_RUNS)
    assert found["target"] == pytest.approx(0.28)
    assert found["compute"] == {"supervised": None, "pt_ft": 800.0, "just": 600.0,
                                "bljust": 400.0}  # fmt: skip
    assert found["ratio"] == pytest.approx(0.5)
    # each seed on its own: pt_ft's better seed is <= 0.28 from x = 750 (first validation
    # 800), its worse one never (floor 0.30); bljust's from 412.5 and 387.5
    assert found["per_seed"]["pt_ft"] == {1: None, 2: 800.0}
    assert found["per_seed"]["bljust"] == {1: 500.0, 2: 400.0}
    assert found["per_seed"]["supervised"] == {1: None}
    between = plots.compute_to_reach(COMPUTE_RUNS, 0.28, interpolate=True)
    assert between["just"] == pytest.approx(500 + 100 * 0.02 / 0.06)
    assert between["bljust"] == pytest.approx(400.0) and between["supervised"] is None
    assert plots.shorter_training(COMPUTE_RUNS, strategy="supervised")["ratio"] is None
    with pytest.raises(ValueError, match="no dev curve of the reference strategy 'pt_ft'"):
        plots.shorter_training([r for r in COMPUTE_RUNS if r["strategy"] != "pt_ft"])


def test_mean_dev_curve_over_seeds_on_different_grids():
    runs = [
        dict(strategy="bljust", seed=1, dev_curve=[(0, 0.9), (100, 0.7), (200, 0.5)]),
        dict(strategy="bljust", seed=2, dev_curve=[(250, 0.2), (50, 0.6), (150, 0.4)]),
        dict(strategy="bljust", seed=3, dev_curve=[(0, 0.1)], ok=False),  # failed: left out
    ]
    xs, mean, low, high = plots.mean_dev_curve(runs, "bljust")
    # seed 1 at 50 and 150 interpolated (0.8, 0.6), seed 2 at 100 and 200 (0.5, 0.3)
    assert xs.tolist() == [50, 100, 150, 200]
    assert mean == pytest.approx([0.7, 0.6, 0.5, 0.4])
    assert low == pytest.approx([0.6, 0.5, 0.4, 0.3])
    assert high == pytest.approx([0.8, 0.7, 0.6, 0.5])
    assert plots.mean_dev_curve(runs, "pt_ft") is None


def test_dev_curve_from_epochs():
    epochs = {1: {"valid": {"cer_ctc": 0.9}}, 3: {"valid": {"cer_ctc": 0.5}},
              2: {"valid": {"cer_ctc": 0.7}}, 4: {"train": {}}}  # fmt: skip
    curve = plots.dev_curve_from_epochs(epochs, {"1": 75, "2": 150, "3": 225, "4": 300})
    assert curve == [(75.0, 0.9), (150.0, 0.7), (225.0, 0.5)]


def test_dev_cer_vs_compute_writes_a_png(tmp_path):
    path = plots.dev_cer_vs_compute(COMPUTE_RUNS, tmp_path / "dev_cer_vs_compute.png",
                                    compute_label="train-loop seconds")  # fmt: skip
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5000


def test_dev_curve_leaves_out_non_finite_validations():
    epochs = {1: {"valid": {"cer_ctc": float("nan")}}, 2: {"valid": {"cer_ctc": 0.3}},
              3: {"valid": {"cer_ctc": float("inf")}}, 4: {"train": {}}}  # fmt: skip
    assert plots.dev_curve_from_epochs(epochs, {1: 100, 2: 200, 3: 300, 4: 400}) == [(200.0, 0.3)]
