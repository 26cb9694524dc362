"""--collect_stats true over both streams: the unlabeled sums land in the train stats."""

import numpy as np
import pytest

from conftest import train_args
from espnet_bljust.bin import bljust_train
from espnet_bljust.main_funcs.collect_unlabeled_stats import add_stats


def test_add_stats_sums_fields_and_checks_dims():
    a = {"count": 3, "sum": np.ones(2), "sum_square": np.full(2, 2.0)}
    b = {"count": 1, "sum": np.full(2, 4.0), "sum_square": np.full(2, 16.0)}
    total = add_stats(a, b)
    assert int(total["count"]) == 4
    np.testing.assert_allclose(total["sum"], [5.0, 5.0])
    np.testing.assert_allclose(total["sum_square"], [18.0, 18.0])
    with pytest.raises(ValueError, match="feature dimensions differ"):
        add_stats(a, {"count": 1, "sum": np.ones(3), "sum_square": np.ones(3)})


def test_collect_stats_includes_unlabeled_stream(fsdd_small, tmp_path):
    out = tmp_path / "stats"
    bljust_train.main(
        train_args(fsdd_small, out, "--collect_stats", "true", "--batch_size", "20")
    )
    train, unlabeled = out / "train", out / "unlabeled"
    # espnet2's shapes for the labeled lists, ours for the unlabeled stream.
    n_lab = len((fsdd_small / "train_labeled" / "wav.scp").read_text().splitlines())
    n_unl = len((fsdd_small / "train_unlabeled" / "wav.scp").read_text().splitlines())
    assert len((train / "speech_shape").read_text().splitlines()) == n_lab
    assert len((unlabeled / "speech_shape").read_text().splitlines()) == n_unl
    assert not (out / "unlabeled.collecting").exists()

    labeled = dict(np.load(train / "feats_stats.labeled.npz"))
    unl = dict(np.load(unlabeled / "feats_stats.npz"))
    merged = dict(np.load(train / "feats_stats.npz"))
    assert int(unl["count"]) > int(labeled["count"]) > 0  # 120 vs 60 utterances
    assert int(merged["count"]) == int(labeled["count"]) + int(unl["count"])
    np.testing.assert_allclose(merged["sum"], labeled["sum"] + unl["sum"], rtol=1e-6)
    np.testing.assert_allclose(
        merged["sum_square"], labeled["sum_square"] + unl["sum_square"], rtol=1e-6
    )
    # Every unlabeled frame is counted once: hop 160, centered STFT frames.
    lengths = [int(line.split()[1]) for line in (unlabeled / "speech_shape").open()]
    assert int(unl["count"]) == sum(n // 160 + 1 for n in lengths)
    assert merged["sum"].shape == (80,)  # n_mels
