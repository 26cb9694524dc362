"""Prepared splits for the harness."""

import pytest

from espnet_bljust.experiments.splits import prepare_split_dir


def test_prepared_split_dir_needs_every_set(tmp_path):
    (tmp_path / "src" / "train_labeled").mkdir(parents=True)
    (tmp_path / "src" / "train_labeled" / "wav.scp").write_text("a x.wav\n")
    with pytest.raises(SystemExit, match="lacks train_unlabeled, dev, test, train_labeled/text"):
        prepare_split_dir(tmp_path / "src", tmp_path / "out")
