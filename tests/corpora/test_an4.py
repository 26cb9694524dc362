"""AN4 data prep on a real AN4 tree (the mini_an4 tarball: 8 sph files, AN4's own etc/)."""

import tarfile
from pathlib import Path

import pytest
import soundfile

from conftest import shared_dataset
from espnet_bljust.corpora import an4 as an4_prep
from espnet_bljust.corpora.an4 import (
    find_an4_root,
    make_an4_split,
    parse_transcription_line,
    read_an4_part,
    utt_id,
)


def unpack_mini_an4(dest: Path) -> Path:
    """Unpack the an4/ tree of the shared mini_an4 tarball under ``dest``; returns an4/."""
    tarball = shared_dataset("mini_an4") / "downloads.tar.gz"
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if "/an4/" in f"/{m.name}/"]
        tar.extractall(dest, members=members, filter="data")
    return find_an4_root(dest)


@pytest.fixture
def an4(tmp_path) -> Path:
    return unpack_mini_an4(tmp_path / "corpus")


def lines(path: Path) -> list:
    return path.read_text(encoding="utf-8").splitlines()


def test_fixture_is_in_an4_layout(an4):
    assert an4.name == "an4"
    assert lines(an4 / "etc" / "an4_train.fileids")[0] == "an4_clstk/fash/an251-fash-b"
    assert (an4 / "wav" / "an4test_clstk" / "fcaw" / "cen8-fcaw-b.sph").is_file()


def test_split_writes_kaldi_dirs_line_by_line(an4, tmp_path):
    dirs = make_an4_split(an4, tmp_path / "data", num_dev=1, num_labeled=2, seed=0)
    wav = an4.resolve() / "wav"
    tr, te = wav / "an4_clstk", wav / "an4test_clstk"
    # The first train utterance by id is dev; seed 0 labels 2 of the other 4.
    assert lines(dirs["dev"] / "wav.scp") == [f"fash-an251-b {tr}/fash/an251-fash-b.sph"]
    assert lines(dirs["dev"] / "text") == ["fash-an251-b YES"]
    assert lines(dirs["dev"] / "utt2spk") == ["fash-an251-b fash"]
    assert lines(dirs["dev"] / "spk2utt") == ["fash fash-an251-b"]

    labeled = lines(dirs["train_labeled"] / "wav.scp")
    unlabeled = lines(dirs["train_unlabeled"] / "wav.scp")
    rest = {
        "fash-an253-b": (f"{tr}/fash/an253-fash-b.sph", "GO", "fash"),
        "fbbh-cen8-b": (f"{tr}/fbbh/cen8-fbbh-b.sph", "MARCH THIRD NINETEEN TWENTY EIGHT", "fbbh"),
        "mwhw-an152-b": (f"{tr}/mwhw/an152-mwhw-b.sph", "START", "mwhw"),
        "mwhw-cen8-b": (f"{tr}/mwhw/cen8-mwhw-b.sph", "ELEVEN SEVENTEEN FIFTY ONE", "mwhw"),
    }
    lab_ids = [line.split()[0] for line in labeled]
    unl_ids = [line.split()[0] for line in unlabeled]
    assert len(lab_ids) == 2 and len(unl_ids) == 2
    assert sorted(lab_ids + unl_ids) == sorted(rest)
    assert lab_ids == sorted(lab_ids) and unl_ids == sorted(unl_ids)
    for name, ids in (("train_labeled", lab_ids), ("train_unlabeled", unl_ids)):
        d = dirs[name]
        assert lines(d / "wav.scp") == [f"{u} {rest[u][0]}" for u in ids]
        assert lines(d / "utt2spk") == [f"{u} {rest[u][2]}" for u in ids]
        spk2utt = {}
        for u in ids:
            spk2utt.setdefault(rest[u][2], []).append(u)
        assert lines(d / "spk2utt") == [f"{s} {' '.join(us)}" for s, us in sorted(spk2utt.items())]
    assert lines(dirs["train_labeled"] / "text") == [f"{u} {rest[u][1]}" for u in lab_ids]
    assert not (dirs["train_unlabeled"] / "text").exists()

    # The test set keeps its own transcripts (written there without <s> marks).
    assert lines(dirs["test"] / "wav.scp") == [
        f"fcaw-cen8-b {te}/fcaw/cen8-fcaw-b.sph",
        f"mmxg-cen8-b {te}/mmxg/cen8-mmxg-b.sph",
    ]
    assert lines(dirs["test"] / "text") == [
        "fcaw-cen8-b ELEVEN TWENTY SEVEN FIFTY SEVEN",
        "mmxg-cen8-b OCTOBER TWENTY FOUR NINETEEN SEVENTY",
    ]
    assert lines(dirs["test"] / "utt2spk") == ["fcaw-cen8-b fcaw", "mmxg-cen8-b mmxg"]
    assert lines(dirs["test"] / "spk2utt") == ["fcaw fcaw-cen8-b", "mmxg mmxg-cen8-b"]

    # Every listed sphere file decodes (soundfile is espnet2's 'sound' reader): 16 kHz.
    for d in dirs.values():
        for line in lines(d / "wav.scp"):
            info = soundfile.info(line.split(maxsplit=1)[1])
            assert info.samplerate == 16000 and info.channels == 1 and info.frames > 8000


def test_seed_changes_the_labeled_draw_only(an4, tmp_path):
    draws = set()
    for seed in range(6):
        dirs = make_an4_split(an4, tmp_path / str(seed), num_dev=1, num_labeled=2, seed=seed)
        assert lines(dirs["dev"] / "text") == ["fash-an251-b YES"]
        draws.add(tuple(lines(dirs["train_labeled"] / "text")))
    assert len(draws) > 1


def test_untranscribed_audio_and_unlabeled_cap(an4, tmp_path):
    dirs = make_an4_split(an4, tmp_path / "a", num_dev=1, num_labeled=1,
                          include_untranscribed=True)  # fmt: skip
    ids = [line.split()[0] for line in lines(dirs["train_unlabeled"] / "wav.scp")]
    # cen7-fash-b.sph is in wav/an4_clstk but in no fileids line: unlabeled audio.
    assert "fash-cen7-b" in ids and len(ids) == 4 and ids == sorted(ids)
    assert "fash-cen7-b fash" in lines(dirs["train_unlabeled"] / "utt2spk")
    dirs = make_an4_split(an4, tmp_path / "b", num_dev=1, num_labeled=1, num_unlabeled=2)
    assert len(lines(dirs["train_unlabeled"] / "wav.scp")) == 2


def test_find_root_accepts_parent_dirs(an4, tmp_path):
    assert find_an4_root(an4) == an4
    assert find_an4_root(an4.parent) == an4
    assert find_an4_root(an4.parent.parent) == an4
    with pytest.raises(FileNotFoundError, match="no AN4 tree"):
        find_an4_root(tmp_path / "nowhere")


def test_cli(an4, tmp_path, capsys):
    an4_prep.main(["--an4", str(an4.parent), "--out", str(tmp_path / "data"),
                   "--num_dev", "2", "--num_labeled", "2"])  # fmt: skip
    out = capsys.readouterr().out
    for expected in ("train_labeled: 2", "train_unlabeled: 1", "dev: 2", "test: 2"):
        assert expected in out


def test_transcription_lines_and_ids():
    assert parse_transcription_line("<s> YES </s> (an251-fash-b)") == ("an251-fash-b", "YES")
    assert parse_transcription_line("go home (cen1-mjgm-b)\n") == ("cen1-mjgm-b", "GO HOME")
    assert parse_transcription_line("  \n") is None
    with pytest.raises(ValueError, match="not an AN4 transcription line"):
        parse_transcription_line("<s> YES </s>")
    assert utt_id("fash", "an251-fash-b") == "fash-an251-b"
    assert utt_id("mmxg", "cen8-mmxg-b") == "mmxg-cen8-b"
    assert utt_id("spk", "odd") == "spk-odd"


def test_inconsistent_trees_are_reported(an4, tmp_path):
    etc = an4 / "etc"
    (etc / "an4_train.transcription").write_text(
        (etc / "an4_train.transcription").read_text() + "<s> NO </s> (an999-fash-b)\n"
    )
    (an4 / "wav" / "an4_clstk" / "mwhw" / "an152-mwhw-b.sph").unlink()
    with pytest.raises(ValueError) as err:
        read_an4_part(an4, "train")
    message = str(err.value)
    assert "2 problem(s)" in message
    assert "an999-fash-b: transcribed, not in fileids" in message
    assert "an152-mwhw-b: audio missing" in message


@pytest.mark.parametrize(
    "kwargs", [dict(num_dev=0), dict(num_labeled=0), dict(num_dev=3, num_labeled=3)]
)
def test_impossible_splits_are_refused(an4, tmp_path, kwargs):
    with pytest.raises(ValueError, match="cannot hold out"):
        make_an4_split(an4, tmp_path, **kwargs)


def test_nothing_left_unlabeled_is_refused(an4, tmp_path):
    with pytest.raises(ValueError, match="unlabeled set is empty"):
        make_an4_split(an4, tmp_path, num_dev=1, num_labeled=4)
