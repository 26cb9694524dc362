"""TED-LIUM 2 data prep on a small tree in the corpus's layout (stm + NIST sphere).

The talks' audio is real speech (LibriSpeech samples from ../shared/data,
joined; the tests skip where that folder is absent); sox writes the sphere
files and cuts the segments, so the tests skip without sox.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import SHARED_DATA, shared_dataset
from espnet_bljust.corpora import tedlium as tedlium_prep
from espnet_bljust.data.list_checks import validate_data_dir
from espnet_bljust.corpora.tedlium import (
    check_sox_readable,
    fmt_time,
    join_suffixes,
    make_tedlium_dirs,
    normalize_tedlium_words,
    pad_segments,
    parse_stm_line,
    read_nist_header,
    split_by_group,
    utt_id_tedlium,
)

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed (make tools)")
SAMPLES = SHARED_DATA / "librispeech_samples" / "audio"

# talk -> (set, LibriSpeech sample ids joined into its audio, stm lines)
TALKS = {
    "AlphaSpeaker_2010": ("train", ["1089-134686-0001", "1089-134691-0000"], [
        "AlphaSpeaker_2010 1 AlphaSpeaker_2010 0.00 1.50 <o,f0,male> ignore_time_segment_in_scoring",
        "AlphaSpeaker_2010 1 AlphaSpeaker_2010 1.50 3.20 <o,f0,male> stuff it {NOISE} into "
        "you(2) his belly <sil> counselled him (AlphaSpeaker_2010-1.50-3.20)",
        "AlphaSpeaker_2010 1 AlphaSpeaker_2010 3.30 5.30 <o,f0,male> he could wait no longer "
        "it 's <unk>",
    ]),
    "BetaSpeaker_2011": ("train", ["61-70968-0001"], [
        "BetaSpeaker_2011 1 BetaSpeaker_2011 0.10 1.90 <o,f0,female> give not so earnest a mind",
        "BetaSpeaker_2011 1 BetaSpeaker_2011 2.00 3.50 <o,f0,female> to these mummeries "
        "child {BREATH}",
    ]),
    "GammaSpeaker_2012": ("train", ["61-70968-0002"], [
        "GammaSpeaker_2012 1 GammaSpeaker_2012 0.05 2.90 <o,f0,male> a golden fortune and a "
        "happy life",
    ]),
    "DeltaSpeaker_2013": ("dev", ["1089-134691-0000"], [
        "DeltaSpeaker_2013 1 DeltaSpeaker_2013 0.00 2.00 <F0_M> he could wait no longer",
    ]),
    "EpsilonSpeaker_2014": ("test", ["61-70968-0002"], [
        "EpsilonSpeaker_2014 1 EpsilonSpeaker_2014 0.00 0.40 <o,f0,male> {NOISE}",
        "EpsilonSpeaker_2014 1 EpsilonSpeaker_2014 0.40 2.90 <o,f0,male> a golden <unk> and a "
        "happy life",
        "EpsilonSpeaker_2014 1 EpsilonSpeaker_2014 2.90 2.97 <o,f0,male> "
        "ignore_time_segment_in_scoring",
    ]),
}


def talk_audio(sample_ids):
    """Real LibriSpeech samples joined (16 kHz)."""
    return np.concatenate(
        [soundfile.read(str(SAMPLES / f"{uid}.flac"), dtype="float64")[0] for uid in sample_ids]
    )


def build_tree(root: Path) -> Path:
    base = root / "TEDLIUM_release2"
    for talk, (name, samples, stm) in TALKS.items():
        (base / name / "stm").mkdir(parents=True, exist_ok=True)
        (base / name / "sph").mkdir(parents=True, exist_ok=True)
        wav = root / f"{talk}.wav"
        soundfile.write(str(wav), talk_audio(samples), 16000, subtype="PCM_16")
        subprocess.run(["sox", str(wav), str(base / name / "sph" / f"{talk}.sph")], check=True)
        wav.unlink()
        (base / name / "stm" / f"{talk}.stm").write_text("\n".join(stm) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    if shutil.which("sox") is None:
        pytest.skip("sox not installed (make tools): it writes the fixture's sphere files")
    shared_dataset("librispeech_samples")  # skips with the reason where absent
    return build_tree(tmp_path_factory.mktemp("tedlium") / "db")


def lines(path: Path) -> list:
    return path.read_text(encoding="utf-8").splitlines()


def test_text_rules():
    assert parse_stm_line(";; comment") is None
    seg = parse_stm_line("T_1 1 T_1 3.30 5.30 <o,f0,male> it 's <unk>")
    assert (seg.file, seg.start, seg.end, seg.label, seg.words) == (
        "T_1", 3.3, 5.3, "<o,f0,male>", ("it", "'s", "<unk>"))
    assert parse_stm_line("T_1 1 T_1 0 1 <F0_M> hi").label == "<F0_M>"
    with pytest.raises(ValueError, match="fewer than 5"):
        parse_stm_line("T_1 1 T_1 0")
    assert join_suffixes(["'s", "it", "'s", "don", "'t"]) == ["'s", "it's", "don't"]
    words = "so {NOISE} it 's <sil> my(2) <unk> talk {BREATH} (T_1-0.00-1.00)".split()
    assert normalize_tedlium_words(words) == ["so", "it's", "my", "<unk>", "talk"]
    assert normalize_tedlium_words(words, "drop") == ["so", "it's", "my", "talk"]
    assert normalize_tedlium_words(["{NOISE}", "<sil>"]) == []
    assert utt_id_tedlium("T_1", 17.82, 28.81) == "T_1-0001782-0002881"
    assert [fmt_time(t) for t in (0.0, 1.5, 3.25, 17.669999)] == ["0", "1.5", "3.25", "17.67"]


def test_padding_stops_between_neighbours():
    assert pad_segments([(0.1, 1.0), (1.1, 2.0), (2.0, 3.0), (5.0, 6.0)], 0.15, 0.1) == [
        (0.0, 1.05), (1.05, 2.0), (2.0, 3.1), (4.85, 6.1)]
    assert pad_segments([(1.0, 2.0), (1.5, 2.5)], 0.15, 0.1) == [(0.85, 2.0), (1.5, 2.6)]


@needs_sox
def test_dirs_line_by_line(corpus, tmp_path, capsys):
    dirs = make_tedlium_dirs(corpus, tmp_path / "data", labeled_hours=0.0004, seed=0)
    sph = {t: corpus.resolve() / "TEDLIUM_release2" / s / "sph" / f"{t}.sph"
           for t, (s, _, _) in TALKS.items()}  # fmt: skip

    def cut(talk, start, end):
        return f"sox -V1 -R {sph[talk]} -t wav -r 16000 -b 16 -c 1 - trim {start} ={end} |"

    # Seed 0 draws AlphaSpeaker first: its 1.7 s labeled exceed 0.0004 h (1.44 s).
    lab = dirs["train_labeled"]
    assert lines(lab / "wav.scp") == [
        "AlphaSpeaker_2010-0000150-0000320 " + cut("AlphaSpeaker_2010", 1.35, 3.25)]
    assert lines(lab / "text") == ["AlphaSpeaker_2010-0000150-0000320 stuff it into you his "
                                   "belly counselled him"]  # fmt: skip
    assert lines(lab / "utt2spk") == ["AlphaSpeaker_2010-0000150-0000320 AlphaSpeaker_2010"]
    # The <unk> segment of the labeled talk and the other talks are unlabeled.
    unl = dirs["train_unlabeled"]
    assert lines(unl / "wav.scp") == [
        "AlphaSpeaker_2010-0000330-0000530 " + cut("AlphaSpeaker_2010", 3.25, 5.4),
        "BetaSpeaker_2011-0000010-0000190 " + cut("BetaSpeaker_2011", 0, 1.95),
        "BetaSpeaker_2011-0000200-0000350 " + cut("BetaSpeaker_2011", 1.95, 3.6),
        "GammaSpeaker_2012-0000005-0000290 " + cut("GammaSpeaker_2012", 0, 3),
    ]
    assert not (unl / "text").exists()
    assert lines(unl / "spk2utt") == [
        "AlphaSpeaker_2010 AlphaSpeaker_2010-0000330-0000530",
        "BetaSpeaker_2011 BetaSpeaker_2011-0000010-0000190 BetaSpeaker_2011-0000200-0000350",
        "GammaSpeaker_2012 GammaSpeaker_2012-0000005-0000290",
    ]
    # dev/test: not padded, <unk> deleted from the reference, noise-only and
    # ignore_time_segment_in_scoring segments dropped.
    assert lines(dirs["dev"] / "wav.scp") == [
        "DeltaSpeaker_2013-0000000-0000200 " + cut("DeltaSpeaker_2013", 0, 2)]
    assert lines(dirs["dev"] / "text") == ["DeltaSpeaker_2013-0000000-0000200 he could wait "
                                           "no longer"]  # fmt: skip
    assert lines(dirs["test"] / "text") == ["EpsilonSpeaker_2014-0000040-0000290 a golden and "
                                            "a happy life"]  # fmt: skip
    assert lines(dirs["test"] / "wav.scp") == [
        "EpsilonSpeaker_2014-0000040-0000290 " + cut("EpsilonSpeaker_2014", 0.4, 2.9)]
    out = capsys.readouterr().out
    assert "train: left out {'ignored': 1, 'empty': 0, 'duplicate': 0, 'unk': 1}" in out
    # Every pipe decodes to 16 kHz mono of the segment's length.
    for name, d in dirs.items():
        report = validate_data_dir(d, fs=16000, unlabeled=name == "train_unlabeled")
        assert report.problems == [], [str(p) for p in report.problems]
    assert validate_data_dir(dirs["test"]).seconds == pytest.approx(2.5, abs=0.01)


@needs_sox
def test_unk_policies_and_split_sizes(corpus, tmp_path):
    dirs = make_tedlium_dirs(corpus, tmp_path / "keep", labeled_hours=0.0004, train_unk="keep",
                             pad_start=0, pad_end=0)  # fmt: skip
    assert lines(dirs["train_labeled"] / "text") == [
        "AlphaSpeaker_2010-0000150-0000320 stuff it into you his belly counselled him",
        "AlphaSpeaker_2010-0000330-0000530 he could wait no longer it's <unk>",
    ]
    assert lines(dirs["train_labeled"] / "wav.scp")[1].endswith(" - trim 3.3 =5.3 |")
    with pytest.raises(ValueError, match="leaves the labeled or the unlabeled set empty"):
        make_tedlium_dirs(corpus, tmp_path / "all", labeled_hours=100, train_unk="drop")
    dirs = make_tedlium_dirs(corpus, tmp_path / "drop", labeled_hours=0.0004, train_unk="drop")
    assert lines(dirs["train_labeled"] / "text")[-1] == (
        "AlphaSpeaker_2010-0000330-0000530 he could wait no longer it's")


def test_split_keeps_groups_whole():
    from espnet_bljust.corpora.tedlium import Segment

    utts = [Segment(f"{g}-{i}", "x", "t" if i else None, g, 600.0)
            for g in "abcdef" for i in range(3)]  # fmt: skip
    labeled, unlabeled = split_by_group(utts, labeled_hours=0.5, seed=3)
    groups = {u.speaker for u in labeled}
    assert len(groups) == 2  # 2 x 20 min of text >= 30 min
    assert all(u.text is None for u in unlabeled)
    assert not groups & {u.speaker for u in unlabeled if u.uid.endswith(("-1", "-2"))}
    assert len(labeled) + len(unlabeled) == len(utts)


def test_sphere_header_and_shorten(tmp_path):
    sph = tmp_path / "x.sph"
    header = ("NIST_1A\n   1024\nsample_rate -i 8000\nchannel_count -i 2\n"
              "sample_coding -s26 ulaw,embedded-shorten-v2.00\nend_head\n")  # fmt: skip
    sph.write_bytes(header.encode().ljust(1024, b" "))
    assert read_nist_header(sph)["sample_coding"] == "ulaw,embedded-shorten-v2.00"
    with pytest.raises(ValueError, match="sph2pipe"):
        check_sox_readable(sph)
    (tmp_path / "y.sph").write_bytes(b"RIFF....")
    with pytest.raises(ValueError, match="not a NIST SPHERE"):
        read_nist_header(tmp_path / "y.sph")


def test_missing_corpus_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="openslr.org/resources/19"):
        tedlium_prep.main(["--tedlium", str(tmp_path), "--out", str(tmp_path / "data")])


@needs_sox
def test_recipe_data_stage_and_format(corpus, tmp_path):
    """run.sh stage 1 with TEDLIUM2 from the environment; the format stage's
    converter reads the pipe entries into 16 kHz wav files of the segments' length."""
    from test_librispeech import run_recipe

    from espnet_bljust.data import format_wav

    done = run_recipe("tedlium2", tmp_path, {"TEDLIUM2": str(corpus)}, "--stop_stage", "1",
                      "--local_data_opts", "--labeled_hours 0.0004 --download false")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data = tmp_path / "tedlium2" / "data"
    assert [len(lines(data / s / "wav.scp")) for s in ("train_labeled", "train_unlabeled")] == [1, 4]
    format_wav.main([str(data / "train_unlabeled"), str(tmp_path / "dump"), "--fs", "16000"])
    durations = [float(x.split()[1]) for x in lines(tmp_path / "dump" / "utt2dur")]
    sph = corpus / "TEDLIUM_release2" / "train" / "sph"
    talk = {t: soundfile.info(str(sph / f"{t}.sph")).duration
            for t, (name, _, _) in TALKS.items() if name == "train"}
    ends = [min(5.4, talk["AlphaSpeaker_2010"]), 1.95, min(3.6, talk["BetaSpeaker_2011"]),
            min(3.0, talk["GammaSpeaker_2012"])]
    assert durations == pytest.approx([e - s for e, s in zip(ends, [3.25, 0, 1.95, 0])], abs=0.002)
    assert not (tmp_path / "dump" / "text").exists()
    missing = run_recipe("tedlium2", tmp_path / "x", {"TEDLIUM2": str(tmp_path / "none")},
                         "--stop_stage", "1", "--local_data_opts", "--download false")  # fmt: skip
    assert missing.returncode != 0 and "no TED-LIUM 2 under" in missing.stderr
