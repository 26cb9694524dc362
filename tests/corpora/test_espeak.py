"""The demo corpus builder: the same seed gives the same sentences and the same audio;
test voices are held out; the grammar speaks whole words."""

import random
import shutil

import pytest

from espnet_bljust.corpora.espeak import (
    COLORS, COMMANDS, DEV_VARIANTS, OBJECTS, TEST_VOICES, VARIANTS, TRAIN_VOICES, make_corpus, make_sentence,
)
from espnet_bljust.corpora.fsdd import DIGITS

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


def test_test_voices_are_held_out(tmp_path):
    dirs = _build(tmp_path)
    assert not set(TRAIN_VOICES) & set(TEST_VOICES)
    accents = {}
    for name, path in dirs.items():
        speakers = {line.split()[1] for line in (path / "utt2spk").read_text().splitlines()}
        accents[name] = {spk[:-2] for spk in speakers}  # the variant is the last 2 characters
    trained = accents["train_labeled"] | accents["train_unlabeled"] | accents["dev"]
    assert accents["test"] and not accents["test"] & trained
    assert accents["test"] <= {voice.replace("-", "") for voice in TEST_VOICES}


def _speakers(path):
    return {line.split()[1] for line in (path / "utt2spk").read_text().splitlines()}


def test_held_out_dev_speakers_are_new_voices_of_the_training_accents(tmp_path):
    dirs = make_corpus(tmp_path / "data", tmp_path / "wav", num_labeled=36, num_unlabeled=2,
                       num_dev=24, num_test=2, seed=0, jobs=2, dev_speakers="held_out")  # fmt: skip
    trained = _speakers(dirs["train_labeled"]) | _speakers(dirs["train_unlabeled"])
    dev, test = _speakers(dirs["dev"]), _speakers(dirs["test"])
    assert len(dev) == len(TRAIN_VOICES) * len(DEV_VARIANTS)  # 24 utterances, one per speaker
    assert not dev & trained and not dev & test and not set(DEV_VARIANTS) & set(VARIANTS)
    assert {spk[:-2] for spk in dev} == {spk[:-2] for spk in trained}  # the accents are seen
    with pytest.raises(ValueError, match="dev_speakers"):
        make_corpus(tmp_path / "x", tmp_path / "wx", 1, 1, 1, 1, dev_speakers="test")


def test_grammar_uses_whole_words_of_its_vocabulary():
    rng = random.Random(0)
    sentences = [make_sentence(rng).split() for _ in range(500)]
    vocabulary = set(DIGITS) | set(COMMANDS) | set(COLORS) | set(OBJECTS)
    used = {word for words in sentences for word in words}
    assert used == vocabulary  # every word occurs in 500 sentences, nothing else does
    assert all(1 <= len(words) <= 5 for words in sentences)
    assert min(len(word) for word in used) >= 2  # no spelled single letters
