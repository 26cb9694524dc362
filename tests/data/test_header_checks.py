"""Training-start audio checks: one header read per entry, naming line and utterance."""


import numpy as np
import pytest
import soundfile

from bin.test_bljust_train import broken  # noqa: F401 (fixture)
from conftest import train_args
from espnet_bljust.bin import bljust_train
from espnet_bljust.data.header_checks import PIPE_IN_SOUND_LIST, sound_list_problems


def rewrite(wav_scp, line, make):
    """Replace the audio of ``line`` (0-based) by ``make(samples, rate)`` ->
    (samples, rate) written as a new wav; returns (utterance id, new path)."""
    lines = wav_scp.read_text().splitlines(keepends=True)
    uid, path = lines[line].split()
    samples, rate = make(*soundfile.read(path, dtype="float32"))
    out = wav_scp.parent / f"{uid}.changed.wav"
    soundfile.write(out, samples, rate)
    lines[line] = f"{uid} {out}\n"
    wav_scp.write_text("".join(lines))
    return uid, out


@pytest.fixture()
def data(broken):
    """A writable copy of the small FSDD split."""
    return broken


def test_bad_clips_are_named_by_line_and_utterance(data):
    wav_scp = data / "train_labeled" / "wav.scp"
    at_8k, _ = rewrite(wav_scp, 1, lambda x, r: (x[::2], r // 2))
    stereo, _ = rewrite(wav_scp, 3, lambda x, r: (np.stack([x, x], 1), r))
    short, _ = rewrite(wav_scp, 5, lambda x, r: (x[: int(0.05 * r)], r))
    long, _ = rewrite(wav_scp, 7, lambda x, r: (np.tile(x, int(60 * r / len(x)) + 1), r))
    lines = wav_scp.read_text().splitlines(keepends=True)
    piped = lines[9].split()[0]
    lines[9] = f"{piped} cat {lines[9].split()[1]} |\n"
    broken = lines[11].split()[0]
    lines[11] = f"{broken} {wav_scp}\n"  # not audio
    wav_scp.write_text("".join(lines))
    found = [str(p) for p in sound_list_problems(str(wav_scp), 16000, 0.1, 30.0)]
    where = f"{wav_scp}"
    assert found[0] == f"{where}:2: utterance '{at_8k}': sample rate 8000 Hz, expected 16000 Hz"
    assert found[1] == f"{where}:4: utterance '{stereo}': 2 channels, expected mono"
    assert found[2] == f"{where}:6: utterance '{short}': too short: 0.050 s < --min_wav_duration 0.1 s"
    assert found[3].startswith(f"{where}:8: utterance '{long}': too long: 6")
    assert found[3].endswith(" s > --max_wav_duration 30 s")
    assert found[4] == f"{where}:10: utterance '{piped}': {PIPE_IN_SOUND_LIST}"
    assert found[5].startswith(f"{where}:12: utterance '{broken}': unreadable audio file (")
    assert len(found) == 6


def test_training_refuses_them_before_writing_anything(data, tmp_path, capsys):
    rewrite(data / "train_labeled" / "wav.scp", 2, lambda x, r: (x[::2], r // 2))
    uid, _ = rewrite(data / "train_unlabeled" / "wav.scp", 4,
                     lambda x, r: (np.stack([x, x], 1), r))  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        bljust_train.main(train_args(data, tmp_path / "exp"))
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "bljust_train: error: audio of the training lists: 2 problem(s)" in err
    assert "sample rate 8000 Hz, expected 16000 Hz" in err
    assert f"{data / 'train_unlabeled' / 'wav.scp'}:5: utterance '{uid}': 2 channels" in err
    assert not (tmp_path / "exp").exists()
