"""The demo corpus builder: the same seed gives the same sentences and the same audio."""

import shutil

import pytest

from espnet_bljust.corpora.espeak import make_corpus

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox are needed (apt-get install -y espeak-ng sox; make tools)",
)


def _build(root):
    return make_corpus(root / "data", root / "wav", num_labeled=3, num_unlabeled=3,
                       num_dev=2, num_test=2, seed=0, jobs=2)  # fmt: skip


def test_same_seed_same_corpus_byte_for_byte(tmp_path):
    first, second = _build(tmp_path / "a"), _build(tmp_path / "b")
    assert sorted(first) == ["dev", "test", "train_labeled", "train_unlabeled"]
    for name in first:
        for f in ("utt2spk",) + (("text",) if name != "train_unlabeled" else ()):
            assert (first[name] / f).read_text() == (second[name] / f).read_text()
    wavs_a = sorted((tmp_path / "a" / "wav").glob("*.wav"))
    wavs_b = sorted((tmp_path / "b" / "wav").glob("*.wav"))
    assert [w.name for w in wavs_a] == [w.name for w in wavs_b] and len(wavs_a) == 10
    for a, b in zip(wavs_a, wavs_b):
        data = a.read_bytes()
        assert len(data) > 44 + 16000 * 2 // 10  # a header and at least 0.1 s of samples
        assert data == b.read_bytes(), f"{a.name}: the builds differ (sox dither not repeatable?)"
    assert (first["train_unlabeled"] / "text").exists() is False
