"""The FSDD semi-supervised splits (closed- and unseen-speaker): sizes, disjointness,
withheld text, the shared lists."""

from pathlib import Path

import pytest

from conftest import shared_dataset
from espnet_bljust.corpora import fsdd as fsdd_split
from espnet_bljust.corpora.fsdd import (
    DIGITS,
    SPEAKERS,
    make_fsdd_split,
    make_unseen_speaker_split,
)


def make_release_tree(root: Path, speakers=SPEAKERS) -> Path:
    """An FSDD tree in the release's layout with empty files (the split reads names only)."""
    rec = root / "recordings"
    rec.mkdir(parents=True)
    for speaker in speakers:
        for digit in range(10):
            for take in range(50):
                (rec / f"{digit}_{speaker}_{take}.wav").touch()
    return root


@pytest.fixture(scope="module")
def fake_fsdd(tmp_path_factory) -> Path:
    return make_release_tree(tmp_path_factory.mktemp("fsdd_release"))


def read_pairs(path: Path) -> dict:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, value = line.split(" ", 1)
        pairs[key] = value
    return pairs


@pytest.mark.parametrize("labeled_takes, num_labeled", [(1, 60), (2, 120), (5, 300)])
def test_labeled_takes_sizes_and_unlabeled_is_the_rest(
    fake_fsdd, tmp_path, labeled_takes, num_labeled
):
    dirs = make_fsdd_split(fake_fsdd, tmp_path, labeled_takes=labeled_takes)
    sets = {name: read_pairs(d / "wav.scp") for name, d in dirs.items()}
    assert len(sets["train_labeled"]) == num_labeled
    assert len(sets["train_unlabeled"]) == 2400 - num_labeled
    assert len(sets["dev"]) == 300 and len(sets["test"]) == 300
    names = list(sets)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not set(sets[a]) & set(sets[b]), (a, b)
            assert not set(sets[a].values()) & set(sets[b].values()), (a, b)
    # Every one of the 3000 clips is used exactly once.
    assert sum(len(s) for s in sets.values()) == 3000

    assert not (dirs["train_unlabeled"] / "text").exists()
    for name in ("train_labeled", "dev", "test"):
        text = read_pairs(dirs[name] / "text")
        assert list(text) == list(sets[name])
        for uid, word in text.items():
            speaker, digit, take = uid.split("-")
            assert word == DIGITS[int(digit)] and speaker in SPEAKERS
            assert sets[name][uid] == str(
                (fake_fsdd / "recordings" / f"{digit}_{speaker}_{int(take)}.wav").resolve()
            )
    takes = {name: {int(u.split("-")[2]) for u in s} for name, s in sets.items()}
    assert takes["test"] == set(range(5)) and takes["dev"] == set(range(5, 10))
    assert takes["train_labeled"] == set(range(10, 10 + labeled_takes))
    assert takes["train_unlabeled"] == set(range(10 + labeled_takes, 50))


def test_lists_are_sorted_kaldi_dirs(fake_fsdd, tmp_path):
    dirs = make_fsdd_split(fake_fsdd, tmp_path, labeled_takes=1, unlabeled_takes=2,
                           dev_takes=1, test_takes=1)  # fmt: skip
    for name, d in dirs.items():
        files = ["wav.scp", "utt2spk", "spk2utt"] + ([] if name == "train_unlabeled" else ["text"])
        assert sorted(p.name for p in d.iterdir()) == sorted(files)
        uids = list(read_pairs(d / "wav.scp"))
        assert uids == sorted(uids)  # byte order, as LC_ALL=C sort
        utt2spk = read_pairs(d / "utt2spk")
        assert list(utt2spk) == uids and all(utt2spk[u] == u.split("-")[0] for u in uids)
        spk2utt = read_pairs(d / "spk2utt")
        assert list(spk2utt) == list(SPEAKERS)
        assert [u for us in spk2utt.values() for u in us.split()] == uids
    assert len(read_pairs(dirs["train_unlabeled"] / "wav.scp")) == 120


def test_speaker_subset_and_audio_choice(tmp_path):
    fake_fsdd = make_release_tree(tmp_path / "fsdd", speakers=["theo"])
    flac = fake_fsdd / "recordings_16k"
    flac.mkdir()
    (flac / "3_theo_0.flac").touch()
    dirs = make_fsdd_split(fake_fsdd, tmp_path / "a", 1, 1, 1, 1, speakers=["theo"])
    wav = read_pairs(dirs["test"] / "wav.scp")
    assert len(wav) == 10 and wav["theo-3-00"].endswith("recordings_16k/3_theo_0.flac")
    assert wav["theo-2-00"].endswith("recordings/2_theo_0.wav")
    dirs = make_fsdd_split(fake_fsdd, tmp_path / "b", 1, 1, 1, 1, speakers=["theo"],
                           audio="original")  # fmt: skip
    assert read_pairs(dirs["test"] / "wav.scp")["theo-3-00"].endswith("3_theo_0.wav")
    with pytest.raises(FileNotFoundError, match="FSDD clip missing"):
        make_fsdd_split(fake_fsdd, tmp_path / "c", 1, 1, 1, 1, speakers=["theo"], audio="16k")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(labeled_takes=0), "labeled_takes 0"),
        (dict(labeled_takes=41), "labeled_takes 41"),
        (dict(labeled_takes=30, unlabeled_takes=11), "> 40 train takes"),
        (dict(dev_takes=6), "dev_takes 6"),
        (dict(test_takes=0), "test_takes 0"),
        (dict(speakers=["alice"]), "subset"),
    ],
)
def test_bad_splits_are_refused(fake_fsdd, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_fsdd_split(fake_fsdd, tmp_path, **kwargs)


def test_not_an_fsdd_tree(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an FSDD tree"):
        make_fsdd_split(tmp_path, tmp_path / "out")


def test_cli(fake_fsdd, tmp_path, capsys):
    fsdd_split.main(["--fsdd", str(fake_fsdd), "--out", str(tmp_path), "--labeled_takes", "5",
                     "--speakers", "george", "lucas", "--audio", "original"])  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("FSDD closed-speaker split\n")
    assert "train_labeled: 100 utterances" in out
    assert "train_unlabeled: 700 utterances" in out and "test: 100 utterances" in out


def test_matches_the_shared_copy_lists(tmp_path):
    """On the shared copy, dev/test/train equal its own lists (ids, text, audio)."""
    fsdd = shared_dataset("fsdd")
    dirs = make_fsdd_split(fsdd, tmp_path, labeled_takes=40, unlabeled_takes=0)
    for name, shared in (("test", "test"), ("dev", "dev"), ("train_labeled", "train")):
        assert read_pairs(dirs[name] / "text") == read_pairs(fsdd / shared / "text"), name
        assert read_pairs(dirs[name] / "utt2spk") == read_pairs(fsdd / shared / "utt2spk")
        wav = read_pairs(dirs[name] / "wav.scp")
        shared_wav = read_pairs(fsdd / shared / "wav_16k.scp")
        assert wav == {u: str((fsdd / p).resolve()) for u, p in shared_wav.items()}


def _speakers_of(d: Path) -> set:
    """Speakers of a data dir, read three ways: utt2spk, utterance ids, audio file names."""
    by_utt2spk = set(read_pairs(d / "utt2spk").values())
    wav = read_pairs(d / "wav.scp")
    by_uid = {u.split("-")[0] for u in wav}
    by_file = {Path(p).stem.split("_")[1] for p in wav.values()}
    assert by_utt2spk == by_uid == by_file, d
    return by_uid


@pytest.mark.parametrize(
    "test_speakers, dev_speakers, labeled_takes, dev_takes",
    [
        (None, None, None, None),
        (["george", "lucas"], ["jackson"], 2, -1),
        (["theo"], ["yweweler"], 1, 5),
    ],
)
def test_unseen_split_keeps_dev_and_test_speakers_out_of_training(
    fake_fsdd, tmp_path, test_speakers, dev_speakers, labeled_takes, dev_takes
):
    kwargs = dict(test_speakers=test_speakers, dev_speakers=dev_speakers,
                  labeled_takes=labeled_takes, dev_takes=dev_takes)  # fmt: skip
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    dirs = make_unseen_speaker_split(fake_fsdd, tmp_path, **kwargs)
    test_speakers = set(test_speakers or ["nicolas", "theo"])
    dev_speakers = set(dev_speakers or ["george"])
    labeled_takes = labeled_takes or 4
    dev_takes = 50 if dev_takes == -1 else (dev_takes or 30)
    train_speakers = set(SPEAKERS) - test_speakers - dev_speakers
    speakers = {name: _speakers_of(d) for name, d in dirs.items()}
    assert speakers == {"train_labeled": train_speakers, "train_unlabeled": train_speakers,
                        "dev": dev_speakers, "test": test_speakers}  # fmt: skip
    for held_out in ("dev", "test"):
        for stream in ("train_labeled", "train_unlabeled"):
            assert not speakers[held_out] & speakers[stream], (held_out, stream)
    assert not speakers["dev"] & speakers["test"]

    sets = {name: read_pairs(d / "wav.scp") for name, d in dirs.items()}
    # test: every recording of its speakers (2 speakers -> 1,000 utterances)
    assert set(sets["test"]) == {f"{s}-{d}-{t:02d}" for s in test_speakers
                                 for d in range(10) for t in range(50)}  # fmt: skip
    assert len(sets["dev"]) == 10 * dev_takes * len(dev_speakers)
    n_train = 10 * len(train_speakers)
    assert len(sets["train_labeled"]) == n_train * labeled_takes
    assert len(sets["train_unlabeled"]) == n_train * (50 - labeled_takes)
    # labeled and unlabeled take every recording of the training speakers once
    assert not set(sets["train_labeled"]) & set(sets["train_unlabeled"])
    assert {int(u.split("-")[2]) for u in sets["train_labeled"]} == set(range(labeled_takes))
    assert len(set(sets["train_labeled"]) | set(sets["train_unlabeled"])) == n_train * 50
    assert not (dirs["train_unlabeled"] / "text").exists()
    for name in ("train_labeled", "dev", "test"):
        text = read_pairs(dirs[name] / "text")
        assert list(text) == sorted(sets[name])
        assert all(word == DIGITS[int(u.split("-")[1])] for u, word in text.items())


def test_unseen_split_defaults_sizes(fake_fsdd, tmp_path):
    dirs = make_unseen_speaker_split(fake_fsdd, tmp_path)
    sizes = {name: len(read_pairs(d / "wav.scp")) for name, d in dirs.items()}
    assert sizes == {"train_labeled": 120, "train_unlabeled": 1380, "dev": 300, "test": 1000}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(test_speakers=["theo"], dev_speakers=["theo"]), r"\['theo'\] in both"),
        (dict(test_speakers=["alice"]), "test_speakers"),
        (dict(dev_speakers=[]), "dev_speakers"),
        (dict(test_speakers=["theo", "theo"]), "test_speakers"),
        (dict(test_speakers=list(SPEAKERS[:3]), dev_speakers=list(SPEAKERS[3:])),
         "no training speaker"),
        (dict(labeled_takes=0), "labeled_takes 0"),
        (dict(labeled_takes=50), "labeled_takes 50"),
        (dict(dev_takes=51), "dev_takes 51"),
    ],
)  # fmt: skip
def test_bad_unseen_splits_are_refused_before_writing(fake_fsdd, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_unseen_speaker_split(fake_fsdd, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_unseen_split_missing_clip_writes_nothing(tmp_path):
    fake = make_release_tree(tmp_path / "fsdd")
    (fake / "recordings" / "9_theo_49.wav").unlink()
    with pytest.raises(FileNotFoundError, match="9_theo_49.wav"):
        make_unseen_speaker_split(fake, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_unseen(fake_fsdd, tmp_path, capsys):
    fsdd_split.main(["--fsdd", str(fake_fsdd), "--out", str(tmp_path), "--split", "unseen",
                     "--labeled_takes", "2", "--dev_takes", "-1"])  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("FSDD unseen-speaker split\n")
    assert "train_labeled: 60 utterances" in out and "train_unlabeled: 1440 utterances" in out
    assert "dev: 500 utterances" in out and "(speakers: george)" in out
    assert "test: 1000 utterances" in out and "(speakers: nicolas theo)" in out
    assert "(speakers: jackson lucas yweweler)" in out
    for args, option in (
        (["--split", "unseen", "--speakers", "theo"], "--speakers"),
        (["--test_speakers", "theo"], "--test_speakers"),
    ):
        with pytest.raises(SystemExit):
            fsdd_split.main(["--fsdd", str(fake_fsdd), "--out", str(tmp_path / "x"), *args])
        assert f"{option}: not an option of --split" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_unseen_split_on_the_shared_copy(tmp_path):
    """Real FSDD: test is all 1,000 recordings of the test speakers, audio and text as the
    shared lists have them, and no training list names a dev or test speaker."""
    fsdd = shared_dataset("fsdd")
    dirs = make_unseen_speaker_split(fsdd, tmp_path)
    shared_text = read_pairs(fsdd / "all" / "text")
    shared_wav = read_pairs(fsdd / "all" / "wav_16k.scp")
    test = read_pairs(dirs["test"] / "wav.scp")
    expected = {u for u in shared_text if u.split("-")[0] in ("nicolas", "theo")}
    assert set(test) == expected and len(test) == 1000
    assert test == {u: str((fsdd / shared_wav[u]).resolve()) for u in expected}
    assert read_pairs(dirs["test"] / "text") == {u: shared_text[u] for u in sorted(expected)}
    for name in ("train_labeled", "train_unlabeled"):
        assert _speakers_of(dirs[name]) == {"jackson", "lucas", "yweweler"}
    assert _speakers_of(dirs["dev"]) == {"george"}
