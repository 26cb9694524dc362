"""Prepared splits for the harness."""

import shutil

import pytest

from espnet_bljust.experiments.splits import prepare_espeak, prepare_split_dir


def test_prepared_split_dir_needs_every_set(tmp_path):
    (tmp_path / "src" / "train_labeled").mkdir(parents=True)
    (tmp_path / "src" / "train_labeled" / "wav.scp").write_text("a x.wav\n")
    with pytest.raises(SystemExit, match="lacks train_unlabeled, dev, test, train_labeled/text"):
        prepare_split_dir(tmp_path / "src", tmp_path / "out")


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                    reason="espeak-ng and sox are needed (apt-get install -y espeak-ng sox)")
def test_espeak_split_is_synthesized_with_held_out_dev_and_reused(tmp_path):
    out = prepare_espeak(tmp_path / "corpus", tmp_path / "data", 4, 3, 2, 2, seed=0)
    for name, n in (("train_labeled", 4), ("train_unlabeled", 3), ("dev", 2), ("test", 2)):
        lines = (out / name / "wav.scp").read_text().splitlines()
        assert len(lines) == n and all(line.split()[1].startswith("/") for line in lines)
    speakers = {name: {line.split()[1] for line in
                       (tmp_path / "corpus" / "data" / name / "utt2spk").read_text().splitlines()}
                for name in ("train_labeled", "train_unlabeled", "dev", "test")}  # fmt: skip
    assert not speakers["dev"] & (speakers["train_labeled"] | speakers["train_unlabeled"])
    tokens = (out / "tokens.txt").read_text().split()
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    stamp = (out / "split.json").stat().st_mtime_ns
    prepare_espeak(tmp_path / "corpus", tmp_path / "data", 4, 3, 2, 2, seed=0)
    assert (out / "split.json").stat().st_mtime_ns == stamp  # the same lists: not rewritten
