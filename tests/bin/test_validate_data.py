"""validate_data on the command line: what it prints, its exit code, and a real data set."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import REPO, shared_dataset
from espnet_bljust.bin import validate_data

UTTS = {"a_1": "ONE", "a_2": "TWO", "b_1": "ONE TWO"}


def make_dir(root: Path, name: str = "train", labeled: bool = True) -> Path:
    """A clean data dir: a 0.5 s 16 kHz wav per utterance, wav.scp, utt2spk (and text)."""
    d = root / name
    d.mkdir(parents=True)
    t = np.arange(8000) / 16000.0
    for i, uid in enumerate(UTTS):
        soundfile.write(d / f"{uid}.wav", 0.3 * np.sin(2 * np.pi * (200 + 40 * i) * t), 16000)
    (d / "wav.scp").write_text("".join(f"{u} {d / u}.wav\n" for u in UTTS))
    (d / "utt2spk").write_text("".join(f"{u} {u[0]}\n" for u in UTTS))
    if labeled:
        (d / "text").write_text("".join(f"{u} {w}\n" for u, w in UTTS.items()))
    return d


def run_main(args, capsys):
    """main(args) -> (exit code, stdout lines)."""
    with pytest.raises(SystemExit) as exc:
        validate_data.main([str(a) for a in args])
    return exc.value.code, capsys.readouterr().out.splitlines()


def test_clean_dir_exits_0(tmp_path, capsys):
    d = make_dir(tmp_path)
    code, out = run_main([d, "--fs", "16k", "--max_duration", "20"], capsys)
    assert (code, out) == (0, [f"{d}: OK: 3 labeled utterances, 0.000 h (1.5 s)"])


def test_problems_one_line_each_then_a_summary(tmp_path, capsys):
    d = make_dir(tmp_path)
    unl = make_dir(tmp_path, "unl", labeled=False)
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("<blank>\n<unk>\n<space>\nE\nN\nO\nT\nW\n<sos/eos>\n")
    (d / "a_2.wav").unlink()
    soundfile.write(d / "b_1.wav", 0.1 * np.ones(4000), 8000)
    (d / "text").write_text("a_1 ONÉ\na_2\nb_1 ONE TWO\n")
    code, out = run_main([d, "--token_list", tokens, "--unlabeled_dir", unl], capsys)
    assert code == 1
    assert out == [
        f"{d}/text:1: utterance 'a_1': characters not in the token list {tokens}: 'É'",
        f"{d}/text:2: utterance 'a_2': empty transcript",
        f"{d}/wav.scp:2: utterance 'a_2': audio file not found: {d}/a_2.wav",
        f"{d}/wav.scp:3: utterance 'b_1': sample rate 8000 Hz, expected 16000 Hz",
        f"WARNING: {d}/wav.scp:1: utterance 'a_1': same id as {unl}/wav.scp:1 (other audio)",
        f"WARNING: {d}/wav.scp:2: utterance 'a_2': same id as {unl}/wav.scp:2 (other audio)",
        f"WARNING: {d}/wav.scp:3: utterance 'b_1': same id as {unl}/wav.scp:3 (other audio)",
        f"{d}: 4 error(s), 3 warning(s) in 3 utterances",
    ]


def test_warnings_alone_exit_0(tmp_path, capsys):
    d = make_dir(tmp_path)
    code, out = run_main([d, "--overlap_with", d], capsys)
    assert code == 0
    assert out[0] == (
        f"WARNING: {d}/wav.scp:1: utterance 'a_1': also in {d}/wav.scp:1 (same id and audio)"
    )
    assert out[-1] == f"{d}: OK: 3 labeled utterances, 0.000 h (1.5 s), 3 warning(s)"


def test_several_dirs_fail_when_one_fails(tmp_path, capsys):
    good, bad = make_dir(tmp_path, "good"), make_dir(tmp_path, "bad", labeled=False)
    (bad / "wav.scp").write_text("")
    code, out = run_main([good, bad, "--skip_audio"], capsys)
    assert code == 1
    assert out == [
        f"{good}: OK: 3 labeled utterances (audio not read)",
        f"{bad}/wav.scp: no utterances (empty set)",
        f"{bad}: 1 error(s), 0 warning(s) in 0 utterances",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--token_type", "bpe"], "--token_type bpe needs --bpemodel"),
        (["--bpemodel", "x.model"], "--bpemodel goes with --token_type bpe"),
        (["--fs", "fast"], "not a sampling rate: 'fast'"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        validate_data.main([str(tmp_path)] + args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_as_a_subprocess(tmp_path):
    d = make_dir(tmp_path, labeled=False)
    cmd = [sys.executable, "-m", "espnet_bljust.bin.validate_data", "--unlabeled", "train"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "train: OK: 3 unlabeled utterances, "
                                                 "0.000 h (1.5 s)\n")  # fmt: skip
    (d / "wav.scp").write_text("a_1 false |\n")
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "train/utt2spk:2: utterance 'a_2': no audio (not in train/wav.scp)",
        "train/utt2spk:3: utterance 'b_1': no audio (not in train/wav.scp)",
        "train/wav.scp:1: utterance 'a_1': pipe command failed (exit 1): false",
        "train: 3 error(s), 0 warning(s) in 1 utterances",
    ]


def test_real_fsdd_train_dir(tmp_path):
    """The shared FSDD train list (8 kHz wav, paths relative to the fsdd folder)."""
    fsdd = shared_dataset("fsdd")
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(["<blank>", "<unk>"] + list("EFGHINORSTUVWXZ") + [""]))
    cmd = [sys.executable, "-m", "espnet_bljust.bin.validate_data", "train", "--fs", "8000",
           "--token_list", str(tokens), "--max_duration", "2.5", "--overlap_with", "test"]
    durations = [float(line.split()[1])
                 for line in (fsdd / "train" / "utt2dur").read_text().splitlines()]  # fmt: skip
    summary = f"OK: {len(durations)} labeled utterances, {sum(durations) / 3600:.3f} h"
    done = subprocess.run(cmd, cwd=fsdd, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, f"train: {summary}\n")
    # The default rate is 16 kHz: every 8 kHz clip is then reported, and so are
    # relative paths from a working directory where they do not resolve.
    done = subprocess.run(cmd[:4] + ["--nj", "2"], cwd=fsdd, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == (
        "train/wav.scp:1: utterance 'george-0-10': sample rate 8000 Hz, expected 16000 Hz"
    )
    assert done.stdout.splitlines()[-1] == "train: 2400 error(s), 0 warning(s) in 2400 utterances"
    # --skip_audio: lists only, from anywhere; the hours come from utt2dur.
    done = subprocess.run(cmd[:3] + [str(fsdd / "train"), "--skip_audio"], cwd=REPO,
                          capture_output=True, text=True)  # fmt: skip
    assert (done.returncode, done.stdout) == (0, f"{fsdd / 'train'}: {summary}\n")


def test_nan_inf_and_silent_clips_are_errors(tmp_path, capsys):
    d = make_dir(tmp_path)
    for uid, value in (("a_1", float("nan")), ("a_2", float("inf"))):
        samples, rate = soundfile.read(d / f"{uid}.wav", dtype="float32")
        samples[100:200] = value
        soundfile.write(d / f"{uid}.wav", samples, rate, subtype="FLOAT")
    soundfile.write(d / "b_1.wav", np.zeros(8000), 16000)
    code, out = run_main([d], capsys)
    assert (code, out) == (1, [
        f"{d}/wav.scp:1: utterance 'a_1': NaN or Inf samples",
        f"{d}/wav.scp:2: utterance 'a_2': NaN or Inf samples",
        f"{d}/wav.scp:3: utterance 'b_1': silent audio (every sample is 0)",
        f"{d}: 3 error(s), 0 warning(s) in 3 utterances",
    ])  # fmt: skip


def test_pipe_entries_are_errors_only_for_the_sound_loader(tmp_path, capsys):
    d = make_dir(tmp_path)
    (d / "wav.scp").write_text(f"a_1 cat {d}/a_1.wav |\na_2 {d}/a_2.wav\nb_1 {d}/b_1.wav\n")
    assert run_main([d], capsys)[0] == 0  # format_wav runs the pipe
    code, out = run_main([d, "--loader", "sound"], capsys)
    assert code == 1
    assert out[0] == (f"{d}/wav.scp:1: utterance 'a_1': a pipe entry in a 'sound' list: "
                      "espnet2's sound loader opens files only (write the audio to files "
                      "with espnet_bljust.data.format_wav)")  # fmt: skip


def test_default_duration_bounds_are_the_recipes_and_warn(tmp_path, capsys):
    d = make_dir(tmp_path)
    soundfile.write(d / "a_1.wav", 0.1 * np.ones(800), 16000)  # 0.05 s
    soundfile.write(d / "a_2.wav", 0.1 * np.ones(60 * 16000), 16000)  # 60 s
    code, out = run_main([d], capsys)
    assert (code, out[:2]) == (0, [
        f"WARNING: {d}/wav.scp:1: utterance 'a_1': too short: 0.050 s < --min_duration "
        "0.1 s (the recipes' default bound)",
        f"WARNING: {d}/wav.scp:2: utterance 'a_2': too long: 60.000 s > --max_duration "
        "20 s (the recipes' default bound)",
    ])  # fmt: skip
    code, out = run_main([d, "--min_duration", "0.1", "--max_duration", "20"], capsys)
    assert code == 1 and out[-1] == f"{d}: 2 error(s), 0 warning(s) in 3 utterances"
