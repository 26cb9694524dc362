"""Data dir checks: one broken Kaldi dir per kind of bad input, each with its exact message."""

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pytest
import soundfile

from conftest import REPO, SHARED_DATA
from espnet_bljust.data.audio_checks import probe_audio, wav_data_shortfall
from espnet_bljust.data.list_checks import (
    DataCheckError,
    check_labeled_lists,
    check_unlabeled_lists,
    transcript_checker,
    validate_data_dir,
)

FSDD_16K = SHARED_DATA / "fsdd" / "recordings_16k"
UTTS = {"spk1_001": "ONE", "spk1_002": "TWO", "spk2_001": "THREE FOUR"}


@functools.lru_cache(maxsize=None)
def _real_clip(seed: int) -> Optional[np.ndarray]:
    """One FSDD 16 kHz clip (a different speaker or digit per seed), None without them."""
    path = FSDD_16K / f"{seed % 10}_{('george', 'jackson', 'theo')[seed % 3]}_10.flac"
    return soundfile.read(path, dtype="float32")[0] if path.is_file() else None


def speech(num: int, seed: int = 0) -> np.ndarray:
    """``num`` samples of real speech (FSDD, 16 kHz) where present, else a noisy sine."""
    clip = _real_clip(seed)
    if clip is not None:
        return np.resize(clip, num)
    t = np.arange(num) / 16000.0
    noise = np.random.default_rng(seed).normal(0, 0.01, num)
    return (0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + noise).astype("float32")


def write_wav(path: Path, seconds: float = 0.5, fs: int = 16000, channels: int = 1, seed=0):
    """A PCM16 wav of ``seconds`` (rounded to samples) at ``fs``."""
    x = speech(int(round(seconds * fs)), seed)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, x, fs, subtype="PCM_16")
    return path


def make_dir(root: Path, utts: Dict[str, Optional[str]] = UTTS, name: str = "train") -> Path:
    """A clean Kaldi data dir: 0.5 s wav per utterance (absolute paths), text, utt2spk."""
    d = root / name
    d.mkdir(parents=True)
    wav, text, spk = [], [], []
    for i, (uid, words) in enumerate(sorted(utts.items())):
        path = write_wav(root / "audio" / name / f"{uid}.wav", seed=i)
        wav.append(f"{uid} {path}\n")
        spk.append(f"{uid} {uid.split('_')[0]}\n")
        if words is not None:
            text.append(f"{uid} {words}\n")
    (d / "wav.scp").write_text("".join(wav))
    (d / "utt2spk").write_text("".join(spk))
    if text:
        (d / "text").write_text("".join(text))
    return d


def audio_of(d: Path, uid: str) -> Path:
    return Path(dict(line.split(" ", 1) for line in (d / "wav.scp").read_text().splitlines())[uid])


def set_line(path: Path, lineno: int, line: Optional[str]) -> None:
    """Replace line ``lineno`` (1-based) of a list; None removes it."""
    lines = path.read_text().splitlines()
    if line is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = line
    path.write_text("".join(x + "\n" for x in lines))


def lines(report):
    return [str(p) for p in report.problems]


@pytest.fixture
def data(tmp_path) -> Path:
    return make_dir(tmp_path)


@pytest.fixture
def tokens(tmp_path) -> Path:
    path = tmp_path / "tokens.txt"
    chars = sorted(set("".join(UTTS.values())) - {" "})
    path.write_text("\n".join(["<blank>", "<unk>", "<space>"] + chars + ["<sos/eos>"]) + "\n")
    return path


def test_clean_dir_passes(data, tokens):
    report = validate_data_dir(data, token_list=tokens, min_duration=0.1, max_duration=20)
    assert report.problems == []
    assert report.num_utts == 3 and report.labeled
    assert report.seconds == pytest.approx(1.5)
    assert report.summary() == f"{data}: OK: 3 labeled utterances, 0.000 h (1.5 s)"


def test_unlabeled_dir_passes_and_unlabeled_ignores_text(tmp_path):
    d = make_dir(tmp_path, {u: None for u in UTTS})
    report = validate_data_dir(d)
    assert report.problems == [] and not report.labeled
    assert report.summary() == f"{d}: OK: 3 unlabeled utterances, 0.000 h (1.5 s)"
    (d / "text").write_text("spk1_001\nnot_in_wav HELLO\n")
    assert validate_data_dir(d, unlabeled=True).problems == []


def test_missing_audio(data):
    path = audio_of(data, "spk1_002")
    path.unlink()
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:2: utterance 'spk1_002': audio file not found: {path}"
    ]


def test_relative_paths_resolve_against_the_working_directory(data, tmp_path, monkeypatch):
    set_line(data / "wav.scp", 1, "spk1_001 audio/train/spk1_001.wav")
    monkeypatch.chdir(tmp_path)
    assert validate_data_dir(data).problems == []
    monkeypatch.chdir(data)  # espnet2 would not find it from here: neither do we
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:1: utterance 'spk1_001': audio file not found: "
        f"audio/train/spk1_001.wav (relative to the working directory {data}; "
        f"it is there relative to {tmp_path})"
    ]


def test_directory_instead_of_a_file(data):
    path = audio_of(data, "spk1_001")
    path.unlink()
    path.mkdir()
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:1: utterance 'spk1_001': not a file: {path}"
    ]


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_unreadable_file(tmp_path):
    """Root reads files whatever their mode: as root, the check runs as user nobody."""
    as_root = os.geteuid() == 0
    if as_root:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and util-linux's setpriv is missing to drop to nobody")
        # a folder user nobody can enter (pytest's tmp_path is root's alone)
        tmp_path = Path(tempfile.mkdtemp(prefix="unreadable-", dir="/tmp"))
        tmp_path.chmod(0o755)
    try:
        data = make_dir(tmp_path)
        for folder, _, files in os.walk(tmp_path):  # readable by nobody whatever the umask
            Path(folder).chmod(0o755)
            for name in files:
                (Path(folder) / name).chmod(0o644)
        path = audio_of(data, "spk1_001")
        path.chmod(0)
        expected = (f"{data}/wav.scp:1: utterance 'spk1_001': audio file not readable "
                    f"(permission denied): {path}")  # fmt: skip
        if not as_root:
            assert lines(validate_data_dir(data)) == [expected]
            return
        check = (f"from espnet_bljust.data.list_checks import validate_data_dir\n"
                 f"for p in validate_data_dir({str(data)!r}).problems: print(p)")  # fmt: skip
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
        ready = subprocess.run([*NOBODY, sys.executable, "-c", check.split("\n")[0]], cwd="/tmp",
                               env=env, capture_output=True, text=True)  # fmt: skip
        if ready.returncode != 0:
            reason = (ready.stderr.strip().splitlines() or ["?"])[-1]
            pytest.skip(f"user nobody cannot run this Python and package here: {reason}")
        done = subprocess.run([*NOBODY, sys.executable, "-c", check], cwd="/tmp", env=env,
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.splitlines() == [expected]
    finally:
        if as_root:
            shutil.rmtree(tmp_path)


def test_garbage_bytes(data):
    path = audio_of(data, "spk1_001")
    path.write_bytes(bytes(range(256)) * 8)
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:1: utterance 'spk1_001': corrupt or unreadable audio file "
        f"(Format not recognised.): {path}"
    ]


def test_truncated_wav(data):
    path = audio_of(data, "spk2_001")  # 0.5 s at 16 kHz: 16000 bytes of samples
    path.write_bytes(path.read_bytes()[: 44 + 7990])
    assert wav_data_shortfall(str(path)) == (16000, 7990)
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:3: utterance 'spk2_001': truncated WAV: the header promises "
        f"16000 bytes of samples, the file holds 7990: {path}"
    ]


def test_truncated_flac(data):
    path = audio_of(data, "spk1_001")
    flac = path.with_suffix(".flac")
    soundfile.write(flac, speech(16000), 16000)
    flac.write_bytes(flac.read_bytes()[: flac.stat().st_size // 2])
    set_line(data / "wav.scp", 1, f"spk1_001 {flac}")
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:1: utterance 'spk1_001': corrupt or unreadable audio file "
        f"(flac decoder lost sync.): {flac}"
    ]


def test_zero_length_wav_and_empty_file(data):
    soundfile.write(audio_of(data, "spk1_001"), np.zeros(0, "float32"), 16000)
    audio_of(data, "spk1_002").write_bytes(b"")
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:1: utterance 'spk1_001': zero-length audio (0 samples)",
        f"{data}/wav.scp:2: utterance 'spk1_002': empty audio file (0 bytes): "
        f"{audio_of(data, 'spk1_002')}",
    ]


def test_wrong_sample_rate(data):
    write_wav(audio_of(data, "spk1_002"), fs=8000)
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:2: utterance 'spk1_002': sample rate 8000 Hz, expected 16000 Hz"
    ]
    assert validate_data_dir(data, fs=None).problems == []


def test_stereo(data):
    write_wav(audio_of(data, "spk1_001"), channels=2)
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:1: utterance 'spk1_001': 2 channels, expected mono"
    ]


@pytest.mark.parametrize("name", ["wav.scp", "text", "utt2spk"])
def test_duplicate_ids(data, name):
    path = data / name
    first = path.read_text().splitlines()[0]
    path.write_text(f"{first}\n" + path.read_text())
    assert lines(validate_data_dir(data)) == [
        f"{path}:2: utterance 'spk1_001': duplicate id (first at line 1)"
    ]


def test_unsorted_ids_in_byte_order(tmp_path):
    # C locale: 'S' < 's' and '-' < '_', whatever a user's locale says.
    d = make_dir(tmp_path, {"spk-3": "ONE", "spk_1": "TWO", "Spk_2": "ONE"})
    for name in ("wav.scp", "text", "utt2spk"):
        entries = (d / name).read_text().splitlines()
        (d / name).write_text("".join(x + "\n" for x in entries[2:] + entries[:2][::-1]))
    assert [x.split()[0] for x in (d / "text").read_text().splitlines()] == [
        "spk_1", "spk-3", "Spk_2"]  # fmt: skip
    assert lines(validate_data_dir(d)) == [
        f"{d}/{name}:2: utterance 'spk-3': ids not sorted: comes after 'spk_1' "
        "(Kaldi wants LC_ALL=C sort order; 1 more line(s) out of order)"
        for name in ("text", "utt2spk", "wav.scp")
    ]


def test_text_and_wav_scp_mismatch(data):
    set_line(data / "text", 2, "spk1_005 FIVE")  # spk1_002 loses its text, spk1_005 has no audio
    assert lines(validate_data_dir(data)) == [
        f"{data}/text:2: utterance 'spk1_005': no audio (not in {data}/wav.scp)",
        f"{data}/wav.scp:2: utterance 'spk1_002': no transcript (not in {data}/text)",
    ]


def test_utt2spk_mismatch(data):
    set_line(data / "utt2spk", 3, None)
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:3: utterance 'spk2_001': no speaker (not in {data}/utt2spk)"
    ]


def test_empty_transcript(data):
    set_line(data / "text", 2, "spk1_002   ")
    assert lines(validate_data_dir(data)) == [
        f"{data}/text:2: utterance 'spk1_002': empty transcript"
    ]


def test_entry_without_audio_path_and_list_not_utf8(data):
    set_line(data / "wav.scp", 1, "spk1_001")
    (data / "utt2spk").write_bytes(b"spk1_001 \xff\n")
    report = validate_data_dir(data)
    assert lines(report)[0] == (
        f"{data}/utt2spk:1: utterance 'spk1_001': not UTF-8 text (byte 0xff at column 10)"
    )
    assert lines(report)[1:] == [f"{data}/wav.scp:1: utterance 'spk1_001': no audio path"]


def test_characters_outside_the_token_list(data, tokens):
    set_line(data / "text", 3, "spk2_001 THRÉE FOURß É")
    assert lines(validate_data_dir(data, token_list=tokens)) == [
        f"{data}/text:3: utterance 'spk2_001': characters not in the token list "
        f"{tokens}: 'É', 'ß'"
    ]
    (tokens.parent / "nospace.txt").write_text(tokens.read_text().replace("<space>\n", ""))
    check = transcript_checker("char", tokens.parent / "nospace.txt")
    assert check("ONE TWO") == [
        f"characters not in the token list {tokens.parent / 'nospace.txt'}: '<space>'"
    ]


def test_missing_token_list(data, tmp_path):
    missing = tmp_path / "no_tokens.txt"
    assert lines(validate_data_dir(data, token_list=missing)) == [
        f"{missing}: cannot check transcripts: [Errno 2] No such file or directory: "
        f"'{missing}'"
    ]


def test_pieces_the_bpe_model_does_not_know(data, tmp_path):
    import sentencepiece

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(UTTS.values()) * 10 + "\n")
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(tmp_path / "bpe"), vocab_size=14,
        character_coverage=1.0, minloglevel=2, num_threads=1,
    )  # fmt: skip
    bpemodel = tmp_path / "bpe.model"
    assert validate_data_dir(data, token_type="bpe", bpemodel=bpemodel).problems == []
    set_line(data / "text", 1, "spk1_001 ONÉ")
    assert lines(validate_data_dir(data, token_type="bpe", bpemodel=bpemodel)) == [
        f"{data}/text:1: utterance 'spk1_001': characters the bpe model {bpemodel} "
        "maps to <unk>: 'É'"
    ]


def test_empty_set_and_missing_wav_scp(data):
    (data / "wav.scp").write_text("\n")
    report = validate_data_dir(data)
    assert lines(report) == [f"{data}/wav.scp: no utterances (empty set)"]
    assert report.summary() == f"{data}: 1 error(s), 0 warning(s) in 0 utterances"
    (data / "wav.scp").unlink()
    assert lines(validate_data_dir(data)) == [f"{data}/wav.scp: file not found"]
    assert lines(validate_data_dir(data / "nope")) == [f"{data}/nope: not a directory"]


def test_duration_limits(tmp_path):
    d = make_dir(tmp_path)
    write_wav(audio_of(d, "spk1_001"), seconds=0.05)
    write_wav(audio_of(d, "spk2_001"), seconds=3.0)
    assert lines(validate_data_dir(d, min_duration=0.1, max_duration=2.5)) == [
        f"{d}/wav.scp:1: utterance 'spk1_001': too short: 0.050 s < --min_duration 0.1 s",
        f"{d}/wav.scp:3: utterance 'spk2_001': too long: 3.000 s > --max_duration 2.5 s",
    ]
    assert validate_data_dir(d).problems == []  # no limits by default


def test_skip_audio_checks_lists_and_utt2dur_only(data):
    audio_of(data, "spk1_001").unlink()
    (data / "utt2dur").write_text("spk1_001 0.5\nspk1_002 0.04\nspk2_001 x\n")
    report = validate_data_dir(data, skip_audio=True, min_duration=0.1)
    assert lines(report) == [
        f"{data}/utt2dur:2: utterance 'spk1_002': too short: 0.040 s < --min_duration 0.1 s",
        f"{data}/utt2dur:3: utterance 'spk2_001': not a duration: 'x'",
    ]
    (data / "utt2dur").unlink()
    report = validate_data_dir(data, skip_audio=True)
    assert report.problems == []
    assert report.summary() == f"{data}: OK: 3 labeled utterances (audio not read)"


def test_overlap_with_the_unlabeled_set_is_a_warning(tmp_path):
    lab = make_dir(tmp_path, name="lab")
    unl = make_dir(tmp_path, {"spk1_002": None, "spk3_001": None}, name="unl")
    # spk1_002: same id (other audio); spk3_001 is lab's spk2_001 audio under another id
    lines_unl = (unl / "wav.scp").read_text().splitlines()
    lines_unl[1] = f"spk3_001 {audio_of(lab, 'spk2_001')}"
    (unl / "wav.scp").write_text("".join(x + "\n" for x in lines_unl))
    report = validate_data_dir(lab, overlap_with=[unl])
    assert lines(report) == [
        f"WARNING: {lab}/wav.scp:2: utterance 'spk1_002': same id as {unl}/wav.scp:1 "
        "(other audio)",
        f"WARNING: {lab}/wav.scp:3: utterance 'spk2_001': same audio as {unl}/wav.scp:2 "
        "(utterance 'spk3_001')",
    ]
    assert not report.errors
    assert report.summary() == (
        f"{lab}: OK: 3 labeled utterances, 0.000 h (1.5 s), 2 warning(s)"
    )
    report = validate_data_dir(lab, overlap_with=[lab])
    assert lines(report)[0] == (
        f"WARNING: {lab}/wav.scp:1: utterance 'spk1_001': also in {lab}/wav.scp:1 "
        "(same id and audio)"
    )


def test_pipe_entries_are_run(data):
    path = audio_of(data, "spk1_001")
    set_line(data / "wav.scp", 1, f"spk1_001 cat {path} |")
    set_line(data / "wav.scp", 2, "spk1_002 cat /no/such.wav |")
    set_line(data / "wav.scp", 3, "spk2_001 true |")
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:2: utterance 'spk1_002': pipe command failed (exit 1): "
        "cat: /no/such.wav: No such file or directory: cat /no/such.wav",
        f"{data}/wav.scp:3: utterance 'spk2_001': pipe command wrote no audio: true",
    ]


def test_pipe_timeout_kills_the_command(data):
    set_line(data / "wav.scp", 1, f"spk1_001 sleep 30; cat {audio_of(data, 'spk1_001')} |")
    info, problem = probe_audio("sleep 30 |", timeout=0.3)
    assert info is None and problem == "pipe command timed out after 0.3 s: sleep 30"
    report = validate_data_dir(data, pipe_timeout=0.3)
    assert [p.lineno for p in report.problems] == [1]


def test_pipe_output_that_is_not_audio(data):
    set_line(data / "wav.scp", 1, "spk1_001 echo hello |")
    assert lines(validate_data_dir(data)) == [
        f"{data}/wav.scp:1: utterance 'spk1_001': pipe output is not readable audio "
        "(Format not recognised.): echo hello"
    ]


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")
def test_sox_pipe(data):
    path = audio_of(data, "spk1_001")
    set_line(data / "wav.scp", 1, f"spk1_001 sox {path} -t wav - |")
    assert validate_data_dir(data).problems == []


def test_parallel_reading_gives_the_same_report(data):
    audio_of(data, "spk1_002").unlink()
    assert lines(validate_data_dir(data, nj=3)) == lines(validate_data_dir(data))


def test_training_checks_refuse_duplicate_ids(data):
    scp, text = str(data / "wav.scp"), str(data / "text")
    check_labeled_lists([(scp, "speech", "sound"), (text, "text", "text")], "lab")
    (data / "text").write_text((data / "text").read_text() + "spk1_001 ONE\n")
    with pytest.raises(DataCheckError) as e:
        check_labeled_lists([(scp, "speech", "sound"), (text, "text", "text")], "lab")
    assert e.value.problems == [f"{text}:4: utterance 'spk1_001': duplicate id (first at line 1)"]
    (data / "wav.scp").write_text("")
    shape = data / "speech_shape"
    shape.write_text("a 1\nb 2\na 3\n")
    with pytest.raises(DataCheckError) as e:
        check_unlabeled_lists([(scp, "speech", "sound")], [str(shape)], "unl")
    assert e.value.problems == [
        f"{scp}: no utterances (empty set)",
        f"{shape}:3: utterance 'a': duplicate id (first at line 1)",
    ]


def test_reading_thousands_of_clips(tmp_path):
    """1500 clips (hard links of one) all decoded; the speed is measured by
    bench/data_checks.py, not asserted here."""
    d = tmp_path / "many"
    d.mkdir()
    clip = write_wav(tmp_path / "clip.wav", seconds=0.5)
    rows = []
    for i in range(1500):
        target = tmp_path / "clips" / f"u{i:04d}.wav"
        target.parent.mkdir(exist_ok=True)
        os.link(clip, target)
        rows.append(f"u{i:04d} {target}\n")
    (d / "wav.scp").write_text("".join(rows))
    report = validate_data_dir(d)
    assert report.problems == [] and report.num_utts == 1500
    assert report.seconds == pytest.approx(1500 * 0.5)
