"""format_wav: resampling to PCM16 at the target rate, duration filter, pipe entries."""


import numpy as np
import pytest
import soundfile

from conftest import shared_dataset
from espnet_bljust.data.format_wav import (
    FormatError,
    format_data_dir,
    main,
    parse_fs,
    resample,
    to_pcm16,
)


def _source_8k():
    """An 8 kHz PCM16 clip: a real FSDD recording (skips where FSDD is absent)."""
    return shared_dataset("fsdd") / "recordings" / "0_george_0.wav"


def _write(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def test_parse_fs():
    assert parse_fs("16k") == 16000 and parse_fs("8000") == 8000 and parse_fs("22.05k") == 22050
    for bad in ("0", "-8k", "22.0505k"):
        with pytest.raises(ValueError, match=f"not a sampling rate: '{bad}'"):
            parse_fs(bad)


@pytest.mark.parametrize("rate,fs", [(8000, 16000), (44100, 16000), (16000, 8000), (22050, 16000)])
def test_resample_keeps_a_tone_and_removes_what_the_new_rate_cannot_hold(rate, fs):
    t_in, t_out = np.arange(rate) / rate, np.arange(fs) / fs
    tone = resample(np.sin(2 * np.pi * 440 * t_in), rate, fs)
    assert len(tone) == fs  # ceil(len * fs / rate)
    expected = np.sin(2 * np.pi * 440 * t_out)
    assert np.max(np.abs(tone - expected)[100:-100]) < 1e-4  # zero phase, unit gain
    if fs < rate:  # a tone above the new Nyquist rate must not alias into the band
        high = resample(np.sin(2 * np.pi * 0.9 * rate / 2 * t_in), rate, fs)
        assert np.sqrt(np.mean(high[100:-100] ** 2)) < 1e-3
    noise = np.random.default_rng(0).standard_normal(rate)
    assert resample(noise, rate, rate) is noise


def test_pcm16_round_trip_is_exact(tmp_path):
    ints = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    soundfile.write(tmp_path / "a.wav", ints, 16000, subtype="PCM_16")
    floats, _ = soundfile.read(tmp_path / "a.wav", dtype="float64")
    assert np.array_equal(to_pcm16(floats), ints)


def test_resample_8k_to_16k_duration_filter_and_pipe(tmp_path):
    src_wav = _source_8k()
    info = soundfile.info(str(src_wav))
    assert info.samplerate == 8000
    long_wav = tmp_path / "long.wav"  # 3 s, dropped by --max_duration 2
    soundfile.write(long_wav, np.zeros(24000), 8000, subtype="PCM_16")
    short_wav = tmp_path / "short.wav"  # 0.05 s, dropped by --min_duration 0.1
    soundfile.write(short_wav, np.zeros(400), 8000, subtype="PCM_16")
    stereo = tmp_path / "stereo.flac"  # 44.1 kHz stereo flac
    soundfile.write(stereo, np.full((44100, 2), 0.25), 44100)

    src = tmp_path / "src"
    src.mkdir()
    _write(src / "wav.scp", [
        f"a-real {src_wav}",
        f"b-pipe sox {src_wav} -t wav - |",
        f"c-long {long_wav}",
        f"d-short {short_wav}",
        f"e-stereo {stereo}",
    ])  # fmt: skip
    _write(src / "text", ["a-real ZERO", "b-pipe ZERO", "c-long X", "d-short Y", "e-stereo Z"])
    _write(src / "utt2spk", ["a-real george", "b-pipe george", "c-long s", "d-short s",
                             "e-stereo s"])  # fmt: skip
    dst = tmp_path / "dump"
    counts = format_data_dir(src, dst, fs=16000, min_duration=0.1, max_duration=2.0, nj=2)
    assert counts == dict(kept=3, too_short=1, too_long=1)

    scp = dict(line.split(maxsplit=1) for line in (dst / "wav.scp").read_text().splitlines())
    assert sorted(scp) == ["a-real", "b-pipe", "e-stereo"]
    for uid, path in scp.items():
        out = soundfile.info(path.strip())
        assert (out.samplerate, out.channels, out.subtype, out.format) == (
            16000, 1, "PCM_16", "WAV"
        ), uid  # fmt: skip
    # 8 kHz -> 16 kHz doubles the samples; the pipe entry gives the same audio.
    shapes = dict(line.split() for line in (dst / "speech_shape").read_text().splitlines())
    assert int(shapes["a-real"]) == 2 * info.frames == int(shapes["b-pipe"])
    assert int(shapes["e-stereo"]) == 16000
    a, _ = soundfile.read(scp["a-real"].strip())
    b, _ = soundfile.read(scp["b-pipe"].strip())
    assert np.array_equal(a, b)
    assert np.sqrt(np.mean(a**2)) > 0.5 * np.sqrt(
        np.mean(soundfile.read(str(src_wav))[0] ** 2)
    )  # the level survives resampling
    # Dropped utterances leave every list; the reasons are recorded.
    for name in ("text", "utt2spk", "utt2dur", "utt2num_samples"):
        keys = [line.split()[0] for line in (dst / name).read_text().splitlines()]
        assert keys == ["a-real", "b-pipe", "e-stereo"], name
    dropped = (dst / "dropped").read_text()
    assert "c-long too long" in dropped and "d-short too short" in dropped
    assert "george a-real b-pipe" in (dst / "spk2utt").read_text()


def test_unreadable_entries_stop_the_run_with_one_line_each(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    _write(src / "wav.scp", [f"x-missing {tmp_path}/nope.wav", "y-badpipe false |"])
    with pytest.raises(FormatError) as e:
        format_data_dir(src, tmp_path / "dst")
    assert "2 utterance(s)" in str(e.value)
    assert "x-missing:" in str(e.value) and "y-badpipe: false |: " in str(e.value)
    with pytest.raises(SystemExit) as ex:
        main([str(src), str(tmp_path / "dst"), "--fs", "16k"])
    assert ex.value.code == 1
    assert "could not be read" in capsys.readouterr().err


def test_cli_relative_paths_and_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "audio").mkdir()
    soundfile.write(tmp_path / "audio" / "u.wav", np.zeros(1600), 16000, subtype="PCM_16")
    (tmp_path / "data").mkdir()
    _write(tmp_path / "data" / "wav.scp", ["u1 audio/u.wav", "u_2 audio/u.wav", "u/2 audio/u.wav"])
    main(["data", "dump", "--nj", "1"])
    assert "3 utterances at 16000 Hz" in capsys.readouterr().out
    paths = [line.split()[1] for line in (tmp_path / "dump" / "wav.scp").read_text().splitlines()]
    assert len(set(paths)) == 3  # 'u/2' and 'u_2' do not share a file
    for path in paths:
        assert path.startswith(str(tmp_path / "dump" / "data") + "/")
        assert soundfile.info(path).frames == 1600
    assert (tmp_path / "dump" / "utt2spk").read_text().startswith("u/2 u/2\nu1 u1\n")
